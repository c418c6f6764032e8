// Swarm keys in all three Kubo encodings, from JSON vectors: every valid file parses to its key and
// Kubo's fingerprint; every invalid one is refused with SWARM_KEY_INVALID naming the problem.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { isSovError } from '../protocol/index.js'
import { formatSwarmKey, generateSwarmKey, parseSwarmKey, swarmKeyFingerprint, SWARM_KEY_ENCODINGS } from '../mesh/index.js'
import { repoPath } from './kit/index.js'

interface Vector { name: string, text?: string, base64?: string, encoding?: string, fingerprint?: string, keyHex?: string, error?: string, notShown?: string }
const vectors = JSON.parse(readFileSync(repoPath('test', 'fixtures', 'swarm-keys.json'), 'utf8')) as { valid: Vector[], invalid: Vector[] }
const bytesOf = (v: Vector): Buffer => v.base64 !== undefined ? Buffer.from(v.base64, 'base64') : Buffer.from(v.text!, 'latin1')

for (const v of vectors.valid) {
  test(`parseSwarmKey() accepts ${v.name}`, () => {
    const { key, encoding } = parseSwarmKey(bytesOf(v))
    assert.is(encoding, v.encoding)
    assert.is(Buffer.from(key).toString('hex'), v.keyHex)
    assert.is(swarmKeyFingerprint(key), v.fingerprint)
  })
}

for (const v of vectors.invalid) {
  test(`parseSwarmKey() rejects ${v.name}`, () => {
    try {
      parseSwarmKey(bytesOf(v))
      assert.unreachable('parsed')
    } catch (err) {
      assert.ok(isSovError(err, 'SWARM_KEY_INVALID'), String(err))
      assert.ok((err as Error).message.includes(v.error!), `message "${(err as Error).message}" lacks "${v.error}"`)
      if (v.notShown !== undefined) assert.not.ok((err as Error).message.includes(v.notShown), `message "${(err as Error).message}" quotes key material`)
    }
  })
}

test('error messages never contain key material', () => {
  const key = Buffer.from(vectors.valid[0].keyHex!, 'hex')
  for (const body of [key.toString('hex').slice(0, 62), key.toString('hex'), key.toString('base64')]) {
    for (const enc of ['base64', 'base16', 'base32']) {
      try { parseSwarmKey(`/key/swarm/psk/1.0.0/\n/${enc}/\n${body}x\n`) } catch (err) {
        assert.not.ok((err as Error).message.includes(body.slice(0, 16)), (err as Error).message)
      }
    }
  }
})

test('formatSwarmKey() round-trips every encoding, and generateSwarmKey() makes distinct 32-byte keys', () => {
  const a = generateSwarmKey()
  const b = generateSwarmKey()
  assert.is(a.length, 32)
  assert.is.not(Buffer.compare(a, b), 0)
  for (const enc of SWARM_KEY_ENCODINGS) {
    const parsed = parseSwarmKey(formatSwarmKey(a, enc))
    assert.is(parsed.encoding, enc)
    assert.is(Buffer.compare(parsed.key, a), 0)
  }
  assert.is(Buffer.from(formatSwarmKey(a)).toString().split('\n')[1], '/base16/', 'base16 by default')
})

test.run()
