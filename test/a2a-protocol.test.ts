// A2A contracts: the v1.0 Message JSON form, the wire envelope and the reply, as tables of
// valid and invalid vectors (each invalid one with the field the error must name).
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { v7 as uuidv7, v4 as uuidv4 } from 'uuid'
import { isSovError, parseA2AMessage, parseEnvelope, parseReply, parseTaskAnswer } from '../protocol/index.js'
import { kitSuite } from './kit/index.js'

const test = kitSuite('a2a-protocol')

const msg = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ messageId: 'm-1', role: 'ROLE_USER', parts: [{ text: 'hi' }], ...over })

const VALID_MESSAGES: Array<[string, unknown]> = [
  ['a text part', msg()],
  ['an agent message with context and task ids', msg({ role: 'ROLE_AGENT', contextId: 'ctx', taskId: 'task' })],
  ['a raw part with filename and media type', msg({ parts: [{ raw: Buffer.from('bytes!').toString('base64'), filename: 'a.bin', mediaType: 'application/octet-stream' }] })],
  ['a raw part in URL-safe base64 without padding', msg({ parts: [{ raw: 'ab-_Zw' }] })],
  ['an empty raw part', msg({ parts: [{ raw: '' }] })],
  ['a url part', msg({ parts: [{ url: 'https://example.com/f.pdf', mediaType: 'application/pdf' }] })],
  ['a data part holding an object', msg({ parts: [{ data: { a: [1, 2, { b: null }] } }] })],
  ['a data part holding an array (google.protobuf.Value)', msg({ parts: [{ data: [1, 'two'] }] })],
  ['several parts with metadata', msg({ parts: [{ text: 'a', metadata: { k: 1 } }, { data: { x: 1 } }], metadata: { trace: 'abc' } })],
  ['extensions and reference task ids', msg({ extensions: ['https://ext.example/v1'], referenceTaskIds: ['t1'] })]
]

const INVALID_MESSAGES: Array<[string, unknown, string]> = [
  ['not an object', 'hello', ''],
  ['no messageId', { role: 'ROLE_USER', parts: [{ text: 'x' }] }, 'messageId'],
  ['an empty messageId', msg({ messageId: '' }), 'messageId'],
  ['a lowercase role', msg({ role: 'user' }), 'role'],
  ['ROLE_UNSPECIFIED', msg({ role: 'ROLE_UNSPECIFIED' }), 'role'],
  ['no parts', msg({ parts: [] }), 'parts'],
  ['parts not an array', msg({ parts: { text: 'x' } }), 'parts'],
  ['a part with two contents', msg({ parts: [{ text: 'x', data: { a: 1 } }] }), 'parts.0'],
  ['a part with no content', msg({ parts: [{ mediaType: 'text/plain' }] }), 'parts.0'],
  ['a v0.3 kind-tagged part', msg({ parts: [{ kind: 'text', text: 'x' }] }), 'parts.0'],
  ['raw that is not base64', msg({ parts: [{ raw: 'not base64!' }] }), 'parts.0.raw'],
  ['raw with a dangling character', msg({ parts: [{ raw: 'QUJDR' }] }), 'parts.0.raw'],
  ['a relative url', msg({ parts: [{ url: 'f.pdf' }] }), 'parts.0.url'],
  ['text that is a number', msg({ parts: [{ text: 5 }] }), 'parts.0.text'],
  ['metadata that is an array', msg({ metadata: [1] }), 'metadata'],
  ['an unknown field', msg({ from: '12D3KooWforged' }), 'from']
]

for (const [name, value] of VALID_MESSAGES) {
  test(`parseA2AMessage() accepts ${name}`, () => {
    assert.equal(parseA2AMessage(value), value)
  })
}

for (const [name, value, field] of INVALID_MESSAGES) {
  test(`parseA2AMessage() rejects ${name} with BAD_REQUEST naming "${field}"`, () => {
    try {
      parseA2AMessage(value)
      assert.unreachable('accepted')
    } catch (err) {
      assert.ok(isSovError(err, 'BAD_REQUEST'), String(err))
      if (field !== '') assert.ok((err as Error).message.includes(`"${field}`), (err as Error).message)
    }
  })
}

const env = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ v: 1, id: uuidv7(), mailbox: 'builder', ts: Date.now(), ttl: 60_000, message: msg(), ...over })

test('parseEnvelope() accepts a v1 envelope', () => {
  const e = env()
  assert.equal(parseEnvelope(e), e)
})

const INVALID_ENVELOPES: Array<[string, Record<string, unknown>, string]> = [
  ['version 2', env({ v: 2 }), 'v'],
  ['a UUID v4 id', env({ id: uuidv4() }), 'id'],
  ['an uppercase id', env({ id: uuidv7().toUpperCase() }), 'id'],
  ['a bad mailbox name', env({ mailbox: '../etc' }), 'mailbox'],
  ['a fractional ts', env({ ts: 1.5 }), 'ts'],
  ['a zero ttl', env({ ttl: 0 }), 'ttl'],
  ['a ttl over 30 days', env({ ttl: 31 * 24 * 3600_000 }), 'ttl'],
  ['a forged sender field', env({ from: '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN' }), 'from'],
  ['a bad message inside', env({ message: msg({ parts: [] }) }), 'message.parts']
]
for (const [name, value, field] of INVALID_ENVELOPES) {
  test(`parseEnvelope() rejects ${name} naming "${field}"`, () => {
    try {
      parseEnvelope(value)
      assert.unreachable('accepted')
    } catch (err) {
      assert.ok(isSovError(err, 'BAD_REQUEST'), String(err))
      assert.ok((err as Error).message.includes(`"${field}`), (err as Error).message)
    }
  })
}

test('parseReply() accepts the three statuses and refuses another', () => {
  const id = uuidv7()
  assert.equal(parseReply({ id, status: 'accepted' }), { id, status: 'accepted' })
  assert.equal(parseReply({ id, status: 'duplicate' }), { id, status: 'duplicate' })
  assert.equal(parseReply({ id: null, status: 'rejected', code: 'TOO_LARGE', reason: 'big' }), { id: null, status: 'rejected', code: 'TOO_LARGE', reason: 'big' })
  assert.throws(() => parseReply({ id, status: 'ok' }), (e: unknown) => isSovError(e, 'BAD_REQUEST'))
})

test('a peer\'s refusal reason reaches operators printable: terminal escapes and newlines written \\uXXXX, in a reply and in a task answer (same kind as the Electrum finding, stop 30)', () => {
  const forged = '\u001b[1A\u001b[2Kdelivered\nok\u202e'
  const r = parseReply({ id: null, status: 'rejected', code: 'FORBIDDEN', reason: forged })
  assert.is(r.reason, '\\u001b[1A\\u001b[2Kdelivered\\u000aok\\u202e')
  const a = parseTaskAnswer({ type: 'error', code: 'FORBIDDEN', reason: forged }) as any
  assert.is(a.reason, r.reason)
})

test.run()
