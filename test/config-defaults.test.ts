// `sov config get|show` fill in defaults (helper finding, stop 29) from CONFIG_DEFAULTS, which
// cannot import the parts that own those values (the CLI stays light): this keeps them equal.
import * as assert from 'uvu/assert'
import { test } from 'uvu'
import { CONFIG_DEFAULTS, withDefaults } from '../node/index.js'
import { BLOCKING_MAX_MS, RETRY_BASE_MS, RETRY_MAX_MS, SWEEP_INTERVAL_MS } from '../a2a/index.js'
import { DEFAULT_MAX_DELIVERIES, MAX_ENVELOPE_BYTES, parseHttpListen } from '../protocol/index.js'

test('CONFIG_DEFAULTS are the values the parts use when the file leaves a key out', () => {
  assert.equal(CONFIG_DEFAULTS.limits, { maxEnvelopeBytes: MAX_ENVELOPE_BYTES, maxDeliveries: DEFAULT_MAX_DELIVERIES })
  assert.equal({ ...CONFIG_DEFAULTS.a2a, http: undefined }, { retryBaseMs: RETRY_BASE_MS, retryMaxMs: RETRY_MAX_MS, sweepIntervalMs: SWEEP_INTERVAL_MS, http: undefined })
  assert.is(CONFIG_DEFAULTS.a2a.http.blockingMaxMs, BLOCKING_MAX_MS)
  assert.equal(parseHttpListen(CONFIG_DEFAULTS.a2a.http.listen), parseHttpListen(undefined))
})

test('withDefaults keeps every value the file gives, and fills only what it leaves out', () => {
  const c = withDefaults({ listen: [], bootstrap: [], limits: { maxDeliveries: 9 }, a2a: { http: { listen: 0 } }, relay: {}, reachability: 'auto', announce: [], appendAnnounce: [], noAnnounce: [], audit: { checkpointEvery: 10 } } as any)
  assert.is(c.limits.maxDeliveries, 9)
  assert.is(c.limits.maxEnvelopeBytes, MAX_ENVELOPE_BYTES)
  assert.is(c.a2a.http?.listen, 0)
  assert.is(c.a2a.http?.blockingMaxMs, BLOCKING_MAX_MS)
  assert.is(c.audit.checkpointEvery, 10)
})

test.run()
