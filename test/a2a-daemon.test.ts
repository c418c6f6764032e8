// A2A between real daemon processes (the built `sov`), loopback, grants through `sov cap`:
// three daemons under load, the CLI --json shapes, agent tokens, grant expiry and revocation.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'
import type { IpcClient } from '../cli/index.js'

const test = kitSuite('a2a-daemon')

/** Runs `fn` over `items` with at most `width` at once. */
async function pool<T> (items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({ length: width }, async () => { while (queue.length > 0) await fn(queue.shift()!) }))
}

function mixed (i: number): Record<string, any> {
  const base = textMessage(`message ${i}`)
  if (i % 3 === 1) base.parts = [{ data: { i, kind: 'job', tags: ['a', 'b'] }, mediaType: 'application/json' }]
  if (i % 3 === 2) base.parts = [{ raw: Buffer.from(`raw bytes ${i}`).toString('base64'), filename: `f${i}.bin`, mediaType: 'application/octet-stream' }]
  return base
}

/** Leases and acks until `n` messages came; returns messageId → received message. */
async function consume (c: IpcClient, mailbox: string, n: number): Promise<Map<string, any>> {
  const got = new Map<string, any>()
  const seen = new Set<string>()
  while (got.size < n) {
    const msgs = await c.request('a2a.receive', { mailbox, leaseMs: 30_000, max: 200, waitMs: 2000 }, 10_000) as any[]
    for (const m of msgs) {
      assert.not.ok(seen.has(m.id), `envelope ${m.id} handed out twice`)
      seen.add(m.id)
      assert.not.ok(got.has(m.message.messageId), `message ${m.message.messageId} doubled`)
      got.set(m.message.messageId, m)
    }
    if (msgs.length > 0) {
      const r = await c.request('a2a.ack', { mailbox, leases: msgs.map(m => m.lease) })
      assert.is(r.count, msgs.length)
    }
  }
  return got
}

test('three daemons: 500 A→B and 500 B→C at once, text/data/raw parts, each consumer gets exactly the sent set', async ctx => {
  const a = await startA2ADaemon(ctx)
  const key = join(a.home, 'swarm.key')
  const b = await startA2ADaemon(ctx, { swarmKeyFile: key, bootstrap: [a.addr] })
  const c = await startA2ADaemon(ctx, { swarmKeyFile: key, bootstrap: [a.addr, b.addr] })
  await grantSend(b.home, a.peerId, 'builder')
  await grantSend(c.home, b.peerId, 'builder')
  const [ca, cb, cc, cbConsumer] = [await ipc(ctx, a.home), await ipc(ctx, b.home), await ipc(ctx, c.home), await ipc(ctx, b.home)]
  const toB = Array.from({ length: 500 }, (_, i) => mixed(i))
  const toC = Array.from({ length: 500 }, (_, i) => mixed(1000 + i))
  const [gotB, gotC] = await withDeadline(Promise.all([
    consume(cbConsumer, 'builder', 500),
    consume(cc, 'builder', 500),
    pool(toB, 32, async m => { await ca.request('a2a.send', { peer: b.peerId, mailbox: 'builder', message: m, ttlMs: 60_000 }) }),
    pool(toC, 32, async m => { await cb.request('a2a.send', { peer: c.peerId, mailbox: 'builder', message: m, ttlMs: 60_000 }) })
  ]), 60_000, 'both streams of 500')
  assert.equal(new Set(gotB.keys()), new Set(toB.map(m => m.messageId)))
  assert.equal(new Set(gotC.keys()), new Set(toC.map(m => m.messageId)))
  for (const m of toB) assert.equal(gotB.get(m.messageId).message, m, 'content arrives unchanged')
  const sample = gotC.get(toC[0].messageId)
  assert.equal(Object.keys(sample).sort(), ['deliveries', 'from', 'id', 'lease', 'leaseUntil', 'mailbox', 'message', 'ts'])
  assert.equal([sample.from, sample.mailbox, sample.deliveries], [b.peerId, 'builder', 1])
  await waitFor(async () => (await ca.request('a2a.outbox', { status: 'delivered' })).length === 500, 10_000, 'A outbox all delivered')
  await waitFor(async () => (await cb.request('a2a.outbox', { status: 'delivered' })).length === 500, 10_000, 'B outbox all delivered')
  const out = await sov(a.home, ['a2a', 'outbox', '--json'])
  assert.is(out.code, 0, out.stderr)
  assert.is(out.json.length, 500)
  assert.ok(out.json.every((r: any) => r.status === 'delivered' && r.to === b.peerId && r.mailbox === 'builder' && r.attempts >= 1))
  const st = await sov(b.home, ['status', '--json'])
  assert.equal(st.json.mailboxes, [])
})

test('CLI and agent tokens: send, receive, nack, ack with --json; /a2a/read and /a2a/post scopes are enforced', async ctx => {
  const a = await startA2ADaemon(ctx)
  const b = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  await grantSend(b.home, a.peerId, 'builder')
  const poster = (await sov(a.home, ['agent-token', 'issue', 'poster', '--scope', '/a2a/post:builder', '--json'])).json.token
  const reader = (await sov(b.home, ['agent-token', 'issue', 'reader', '--scope', '/a2a/read:builder', '--json'])).json.token
  const asPoster = { env: { SOV_TOKEN: poster } }
  const asReader = { env: { SOV_TOKEN: reader } }

  const sent = await sov(a.home, ['a2a', 'send', b.peerId, 'builder', 'hello from the CLI', '--ttl', '1m', '--json'], asPoster)
  assert.is(sent.code, 0, sent.stderr)
  assert.match(sent.json.id, /^[0-9a-f-]{36}$/)
  const denied = await sov(a.home, ['a2a', 'send', b.peerId, 'other', 'x', '--json'], asPoster)
  assert.is(denied.json.error.code, 'FORBIDDEN', 'post is scoped to builder')

  const r1 = await sov(b.home, ['a2a', 'receive', 'builder', '--wait', '10s', '--lease', '30s', '--json'], asReader)
  assert.is(r1.code, 0, r1.stderr)
  assert.is(r1.json.length, 1)
  assert.equal([r1.json[0].id, r1.json[0].from, r1.json[0].deliveries, r1.json[0].message.parts], [sent.json.id, a.peerId, 1, [{ text: 'hello from the CLI' }]])
  const other = await sov(b.home, ['a2a', 'receive', 'other', '--json'], asReader)
  assert.is(other.json.error.code, 'FORBIDDEN', 'read is scoped to builder')
  const sendAsReader = await sov(b.home, ['a2a', 'send', a.peerId, 'builder', 'x', '--json'], asReader)
  assert.is(sendAsReader.json.error.code, 'FORBIDDEN')

  assert.is((await sov(b.home, ['a2a', 'nack', 'builder', r1.json[0].lease, '--json'], asReader)).json.count, 1)
  const r2 = await sov(b.home, ['a2a', 'receive', 'builder', '--json'], asReader)
  assert.equal([r2.json[0].id, r2.json[0].deliveries], [sent.json.id, 2], 'nack re-queues at once')
  const mb = await sov(b.home, ['a2a', 'mailboxes', '--json'], asReader)
  assert.equal(mb.json, [{ mailbox: 'builder', ready: 0, leased: 1, dead: 0 }])
  assert.is((await sov(b.home, ['a2a', 'ack', 'builder', r2.json[0].lease, '--json'], asReader)).json.count, 1)
  const again = await sov(b.home, ['a2a', 'ack', 'builder', r2.json[0].lease, '--json'])
  assert.equal([again.code, again.json.count, again.json.missing], [1, 0, [r2.json[0].lease]], 'an acked message is gone: listed as missing, exit 1 (issue 14)')
  const human = await sov(b.home, ['a2a', 'ack', 'builder', r2.json[0].lease])
  assert.is(human.code, 1)
  assert.match(human.stderr, /^error\[NOT_FOUND\]: Cannot ack 1 of 1: no message in "builder" holds ".+" \(already acknowledged, moved to the dead letters, or never leased\)/)

  const data = await sov(a.home, ['a2a', 'send', b.peerId, 'builder', '--data', '{"job":42}', '--json'])
  assert.is(data.code, 0, data.stderr)
  const bad = await sov(a.home, ['a2a', 'send', b.peerId, 'bad name!', 'x', '--json'])
  assert.is(bad.code, 2, 'a bad mailbox name is a usage error')
  const out = await sov(a.home, ['a2a', 'outbox', '--status', 'queued', '--json'])
  assert.is(out.code, 0, out.stderr)
})

test('grants: none → rejected with the reason and no retry; expiry honoured; revocation stops later messages', async ctx => {
  const a = await startA2ADaemon(ctx)
  const b = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  const ca = await ipc(ctx, a.home)
  // Connected first, so that the one attempt counted below is the refused delivery, not a dial.
  await waitFor(async () => (await ca.request('status', {})).peers >= 1, 15_000, 'A and B to connect')
  const send = async (mailbox: string, text: string): Promise<string> => (await ca.request('a2a.send', { peer: b.peerId, mailbox, message: textMessage(text) })).id
  const row = async (id: string): Promise<any> => (await ca.request('a2a.outbox', {})).find((r: any) => r.id === id)
  const settled = async (id: string): Promise<any> => await waitFor(async () => { const r = await row(id); return r?.status !== 'queued' ? r : undefined }, 10_000, `${id} to settle`)

  const none = await settled(await send('builder', 'no grant'))
  assert.equal([none.status, none.code, none.attempts], ['failed', 'FORBIDDEN', 1])
  assert.match(none.reason, /grant/)
  await new Promise(resolve => setTimeout(resolve, 1500))
  assert.is((await row(none.id)).attempts, 1, 'never retried')

  const shortGrant = await grantSend(b.home, a.peerId, 'jobs', 2)
  assert.is((await settled(await send('jobs', 'in time'))).status, 'delivered')
  await new Promise(resolve => setTimeout(resolve, 2500))
  const late = await settled(await send('jobs', 'too late'))
  assert.equal([late.status, late.code], ['failed', 'FORBIDDEN'])
  assert.match(late.reason, /expired/)
  assert.ok(shortGrant.length > 0)

  const grantId = await grantSend(b.home, a.peerId, 'builder')
  const before = await Promise.all(Array.from({ length: 20 }, async (_, i) => await send('builder', `before ${i}`)))
  for (const id of before) assert.is((await settled(id)).status, 'delivered')
  const rev = await sov(b.home, ['cap', 'revoke', grantId, '--json'])
  assert.is(rev.code, 0, rev.stderr)
  const after = await Promise.all(Array.from({ length: 20 }, async (_, i) => await send('builder', `after ${i}`)))
  for (const id of after) {
    const r = await settled(id)
    assert.equal([r.status, r.code], ['failed', 'FORBIDDEN'])
    assert.match(r.reason, /revoked/)
  }
  const mb = await sov(b.home, ['a2a', 'mailboxes', '--json'])
  assert.equal(mb.json, [{ mailbox: 'builder', ready: 20, leased: 0, dead: 0 }, { mailbox: 'jobs', ready: 1, leased: 0, dead: 0 }])
})

test.run()
