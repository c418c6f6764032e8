// The outage grace as a pure rule (issue 13): which fresh verdicts a previous `valid` survives.
// The daemon wiring is shown in licence-daemon.test.ts.
import * as assert from 'uvu/assert'
import { suite } from 'uvu'
import { withGrace, type LicenceReport } from '../finance/index.js'

const test = suite('licence-grace')
const T0 = Date.parse('2026-01-01T00:00:00Z')
const report = (status: LicenceReport['status'], at: number, more: Partial<LicenceReport> = {}): LicenceReport => ({
  status, txid: 'ab'.repeat(32), network: 'regtest', vendorAddress: 'v', requiredSats: '1', minConf: 1, machineIdHash: '00', height: 5,
  confirmations: 3, tip: null, checks: [], checkedAt: new Date(at).toISOString(), servers: ['tcp://127.0.0.1:1'], attempts: [], headersFetched: 0, ...more
})
const down = (at: number): LicenceReport => report('error', at, { unreachable: true, error: { code: 'ELECTRUM_ERROR', message: 'connection refused' } })

test('unreachable servers within the grace keep valid, stale, with the time of the last verification', () => {
  const valid = withGrace(null, report('valid', T0), 3600)
  const kept = withGrace(valid, down(T0 + 1000), 3600, T0 + 1000)
  assert.is(kept.status, 'valid')
  assert.is(kept.stale, true)
  assert.is(kept.lastVerifiedAt, valid.checkedAt)
  assert.is(kept.confirmations, 3)
  // Still stale later, measured from the last verification, not the last check.
  const again = withGrace(kept, down(T0 + 3_000_000), 3600, T0 + 3_000_000)
  assert.is(again.status, 'valid')
  assert.is(again.lastVerifiedAt, valid.checkedAt)
})

test('past the grace, or any evidence, or no earlier valid: the fresh verdict stands', () => {
  const valid = withGrace(null, report('valid', T0), 3600)
  assert.is(withGrace(valid, down(T0 + 3601_000), 3600, T0 + 3601_000).status, 'error')
  assert.is(withGrace(valid, report('invalid', T0 + 1), 3600, T0 + 1).status, 'invalid')
  assert.is(withGrace(valid, report('pending', T0 + 1), 3600, T0 + 1).status, 'pending')
  assert.is(withGrace(valid, report('error', T0 + 1), 3600, T0 + 1).status, 'error', 'servers that answered (a refusal, disagreeing tips) are not an outage')
  assert.is(withGrace(report('invalid', T0), down(T0 + 1), 3600, T0 + 1).status, 'error')
  assert.is(withGrace(valid, down(T0 + 1), 0, T0 + 1).status, 'error', 'graceS 0 turns it off')
})

test('a check stopped before any server (unchecked) is graced like an outage; a verdict about another payment or machine is not kept', () => {
  const valid = withGrace(null, report('valid', T0), 3600)
  const unchecked = report('error', T0 + 1000, { unchecked: true, machineIdHash: '', error: { code: 'NOT_FOUND', message: 'Cannot read the Electrum CA' } })
  const kept = withGrace(valid, unchecked, 3600, T0 + 1000)
  assert.is(kept.status, 'valid')
  assert.is(kept.stale, true)
  assert.is(kept.unchecked, true)
  assert.is(kept.error?.message, 'Cannot read the Electrum CA')
  assert.is(withGrace(valid, unchecked, 0, T0 + 1000).status, 'error', 'graceS 0 turns it off')
  assert.is(withGrace(valid, { ...down(T0 + 1), txid: 'cd'.repeat(32) }, 3600, T0 + 1).status, 'error', 'another payment')
  assert.is(withGrace(valid, { ...down(T0 + 1), machineIdHash: '01' }, 3600, T0 + 1).status, 'error', 'another machine')
  // The next real verdict drops the marks.
  const back = withGrace(kept, report('valid', T0 + 2000), 3600, T0 + 2000)
  assert.is(back.stale, false)
  assert.not.ok(back.unchecked)
})

test.run()
