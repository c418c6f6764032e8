// Mailboxes over real in-process libp2p nodes (TCP on loopback, PSK, Noise, Yamux) and real
// SQLite files: delivery, refusals, retry, expiry, leases, restarts, and a hostile peer.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { v7 as uuidv7 } from 'uuid'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { A2A_PROTOCOL } from '../protocol/index.js'
import { generateSwarmKey } from '../mesh/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { startA2ANode, textMessage, type A2ANode } from './kit/a2a.js'
import { startNode } from './kit/mesh.js'
import { createMailboxes } from '../a2a/index.js'
import { join } from 'node:path'

const test = kitSuite('a2a-mesh')

/** Leases and acks until `n` messages came; returns their A2A messageIds by envelope id. */
async function drain (node: A2ANode, mailbox: string, n: number, ms: number): Promise<Map<string, string>> {
  const got = new Map<string, string>()
  await withDeadline((async () => {
    while (got.size < n) {
      const msgs = await node.a2a.receive(mailbox, { leaseMs: 10_000, max: 200, waitMs: 1000 })
      for (const m of msgs) {
        assert.not.ok(got.has(m.id), `id ${m.id} handed out twice`)
        got.set(m.id, (m.message as any).messageId)
      }
      assert.is(node.a2a.ack(mailbox, msgs.map(m => m.lease)).count, msgs.length)
    }
  })(), ms, `${n} messages in ${mailbox}`)
  return got
}

test('a granted peer delivers 300 pipelined messages; the consumer gets each once; the outbox shows delivered', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:inbox`)
  const sent = new Set<string>()
  const ids = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
    const m = i % 3 === 0
      ? textMessage(`hello ${i}`)
      : i % 3 === 1 ? { ...textMessage(''), parts: [{ data: { i, tags: ['x'] } }] } : { ...textMessage(''), parts: [{ raw: Buffer.from(`bytes ${i}`).toString('base64'), filename: 'f.bin' }] }
    sent.add(m.messageId)
    return (await a.a2a.send(b.peerId, 'inbox', m, 30_000)).id
  }))
  assert.is(new Set(ids).size, 300)
  const got = await drain(b, 'inbox', 300, 20_000)
  assert.equal(new Set(got.values()), sent)
  await waitFor(() => a.a2a.outbox('delivered').length === 300, 5000, 'all delivered')
  assert.is(b.audit.filter(e => e.type === 'A2A_ACCEPTED').length, 300)
  assert.ok(b.audit.every(e => !JSON.stringify(e).includes('hello')), 'no message body in audit rows')
  assert.equal(b.a2a.mailboxes(), [], 'an empty mailbox is not listed')
})

test('a delivery session that has caught up takes new sends in memory, not by reading the outbox back: 100 sends one by one, few outbox reads (issue 15)', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:inbox`)
  const store = (a.a2a as any).store
  const queuedFor = store.queuedFor.bind(store)
  let reads = 0
  store.queuedFor = (...args: any[]) => { reads++; return queuedFor(...args) }
  for (let i = 0; i < 100; i++) await a.a2a.send(b.peerId, 'inbox', textMessage(`one by one ${i}`), 30_000)
  const got = await drain(b, 'inbox', 100, 20_000)
  assert.is(got.size, 100)
  await waitFor(() => a.a2a.outbox('delivered').length === 100, 5000, 'all delivered')
  assert.ok(reads < 20, `the outbox was read ${reads} times for 100 sends`)
})

test('envelopes up to the 1 MiB limit cross the mesh whole (frames past the initial 256 KiB Yamux window)', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:inbox`)
  const sizes = [300_000, 1_040_000] // the second envelope is within 9 KiB of MAX_ENVELOPE_BYTES
  for (const n of sizes) await a.a2a.send(b.peerId, 'inbox', textMessage('x'.repeat(n)), 30_000)
  await waitFor(() => a.a2a.outbox('delivered').length === sizes.length, 20_000, 'both delivered')
  const got = []
  while (got.length < sizes.length) got.push(...await b.a2a.receive('inbox', { leaseMs: 10_000, max: 10, waitMs: 1000 }))
  assert.equal(got.map(m => (m.message as any).parts[0].text.length), sizes)
})

test('send() is idempotent on messageId and refuses bad input before queueing', async ctx => {
  const swarmKey = generateSwarmKey()
  const a = await startA2ANode(ctx, { swarmKey })
  const b = await startA2ANode(ctx, { swarmKey })
  const m = textMessage('once')
  const first = await a.a2a.send(b.peerId, 'inbox', m)
  const again = await a.a2a.send(b.peerId, 'inbox', m)
  assert.equal(again, { id: first.id, duplicate: true })
  const bad: Array<[() => Promise<unknown>, string]> = [
    [async () => await a.a2a.send('not-a-peer', 'inbox', m), 'BAD_REQUEST'],
    [async () => await a.a2a.send(a.peerId, 'inbox', textMessage('self')), 'BAD_REQUEST'],
    [async () => await a.a2a.send(b.peerId, '../x', textMessage('x')), 'BAD_REQUEST'],
    [async () => await a.a2a.send(b.peerId, 'inbox', { messageId: 'x', role: 'ROLE_USER', parts: [] }), 'BAD_REQUEST'],
    [async () => await a.a2a.send(b.peerId, 'inbox', textMessage('x'), 0), 'BAD_REQUEST'],
    [async () => await a.a2a.send(b.peerId, 'inbox', textMessage('x'.repeat(1024 * 1024))), 'TOO_LARGE']
  ]
  for (const [fn, code] of bad) {
    const err = await fn().then(() => undefined, (e: any) => e)
    assert.is(err?.code, code, String(err))
  }
  assert.is(a.a2a.outbox().length, 1)
})

test('without a grant the envelope is rejected FORBIDDEN; the sender keeps the reason and never retries', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:other`)
  const { id } = await a.a2a.send(b.peerId, 'inbox', textMessage('let me in'))
  const row = await waitFor(() => a.a2a.outbox('failed').find(r => r.id === id), 10_000, 'the refusal')
  assert.is(row.code, 'FORBIDDEN')
  assert.match(row.reason!, /no \/a2a\/send grant/)
  assert.is(row.attempts, 1)
  await new Promise(resolve => setTimeout(resolve, 600)) // several retry periods of this node
  assert.is(a.a2a.outbox().find(r => r.id === id)!.attempts, 1, 'no retry after a permanent refusal')
  assert.equal(b.a2a.mailboxes(), [])
  const rej = b.audit.find(e => e.type === 'A2A_REJECTED')!
  assert.equal([rej.actor, rej.outcome, rej.detail.code, rej.detail.id], [`peer:${a.peerId}`, 'denied', 'FORBIDDEN', id])
  assert.ok(a.audit.some(e => e.type === 'A2A_SEND_FAILED' && e.detail.id === id))
})

test('a grant revoked mid-run: messages before are delivered, later ones rejected', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:inbox`)
  const before = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await a.a2a.send(b.peerId, 'inbox', textMessage(`b${i}`))).id))
  await waitFor(() => a.a2a.outbox('delivered').length === 50, 10_000, 'the first 50')
  b.grants.delete(`${a.peerId}:inbox`)
  const after = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await a.a2a.send(b.peerId, 'inbox', textMessage(`a${i}`))).id))
  await waitFor(() => a.a2a.outbox('failed').length === 50, 10_000, 'the later 50 refused')
  assert.equal(a.a2a.outbox('delivered').map(r => r.id).sort(), before.sort())
  assert.equal(a.a2a.outbox('failed').map(r => r.id).sort(), after.sort())
  assert.equal(b.a2a.mailboxes()[0].ready, 50)
})

test('receiver offline: retried with back-off and delivered when it returns within the TTL; past the TTL expired', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(a.peerId)
  await waitFor(() => a.node.getPeers().length > 0, 5000, 'A to connect to B')
  const bDir = b.dir
  await b.stop()
  const late = await a.a2a.send(b.peerId, 'inbox', textMessage('short-lived'), 300)
  const kept = await a.a2a.send(b.peerId, 'inbox', textMessage('patient'), 30_000)
  await waitFor(() => a.a2a.outbox('expired').some(r => r.id === late.id), 5000, 'the short TTL to run out')
  assert.ok(a.audit.some(e => e.type === 'A2A_EXPIRED' && e.detail.id === late.id))
  await waitFor(() => (a.a2a.outbox().find(r => r.id === kept.id)?.attempts ?? 0) >= 2, 5000, 'retries while B is away')
  // B comes back (same identity and store, a new port) and dials A: A delivers at once.
  const b2 = await startA2ANode(ctx, { swarmKey, dir: bDir, privateKey: b.privateKey, bootstrap: [a.addr] })
  b2.grants.add(a.peerId)
  const got = await drain(b2, 'inbox', 1, 10_000)
  assert.equal([...got.keys()], [kept.id])
  await waitFor(() => a.a2a.outbox('delivered').length === 1, 5000, 'the outbox to show it')
  assert.is(a.a2a.outbox('expired')[0].id, late.id, 'the expired one is never sent')
})

test('leases: expiry re-queues, nack re-queues at once, maxDeliveries moves to the dead letters', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey, mailboxes: { maxDeliveries: 2 } })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(a.peerId)
  const { id } = await a.a2a.send(b.peerId, 'jobs', textMessage('work'))
  const [m1] = await b.a2a.receive('jobs', { leaseMs: 200, waitMs: 5000 })
  assert.equal([m1.id, m1.deliveries], [id, 1])
  assert.equal(await b.a2a.receive('jobs', { leaseMs: 200 }), [], 'invisible while leased')
  const started = Date.now()
  const [m2] = await b.a2a.receive('jobs', { leaseMs: 10_000, waitMs: 2000 })
  assert.ok(Date.now() - started >= 150, 'handed out again only after the lease ran out')
  assert.equal([m2.id, m2.deliveries], [id, 2])
  assert.equal(b.a2a.ack('jobs', ['nope.1']), { count: 0, acked: [], missing: ['nope.1'] })
  const n = b.a2a.nack('jobs', [m2.lease])
  assert.equal(n.dead, [id], 'the second delivery was the last allowed')
  assert.equal(b.a2a.mailboxes(), [{ mailbox: 'jobs', ready: 0, leased: 0, dead: 1 }])
  assert.ok(b.audit.some(e => e.type === 'A2A_DEAD_LETTER' && e.detail.id === id))

  const other = await a.a2a.send(b.peerId, 'jobs', textMessage('again'))
  const [o1] = await b.a2a.receive('jobs', { leaseMs: 10_000, waitMs: 5000 })
  assert.is(o1.id, other.id)
  assert.equal(b.a2a.nack('jobs', [o1.lease]).count, 1)
  const [o2] = await b.a2a.receive('jobs', { leaseMs: 100 })
  assert.equal([o2.id, o2.deliveries], [other.id, 2], 'nack makes it ready at once')
  // The sweeper buries it when its last lease runs out, without anyone calling receive.
  await waitFor(() => b.a2a.mailboxes()[0].dead === 2, 3000, 'the sweep')
})

test('a long-polling receive wakes as soon as a message is committed', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(a.peerId)
  await waitFor(() => a.node.getPeers().length > 0, 5000, 'A to connect to B')
  const polling = b.a2a.receive('inbox', { waitMs: 10_000 })
  await new Promise(resolve => setTimeout(resolve, 100))
  const t = Date.now()
  await a.a2a.send(b.peerId, 'inbox', textMessage('ping'))
  const got = await polling
  assert.is(got.length, 1)
  assert.ok(Date.now() - t < 2000, `woke after ${Date.now() - t} ms`)
  const ac = new AbortController()
  const aborted = b.a2a.receive('inbox', { waitMs: 10_000 }, { signal: ac.signal })
  setTimeout(() => { ac.abort() }, 50)
  assert.equal(await withDeadline(aborted, 2000, 'abort to end the poll'), [])
})

test('both sides restart cleanly: queued messages are delivered, leases and dedupe survive', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(a.peerId)
  const first = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await a.a2a.send(b.peerId, 'inbox', textMessage(`m${i}`))).id))
  await waitFor(() => a.a2a.outbox('delivered').length === 20, 10_000, 'first 20')
  const leased = await b.a2a.receive('inbox', { leaseMs: 60_000, max: 5 })
  await a.stop()
  await b.stop()
  const b2 = await startA2ANode(ctx, { swarmKey, dir: b.dir, privateKey: b.privateKey })
  b2.grants.add(a.peerId)
  const a2 = await startA2ANode(ctx, { swarmKey, dir: a.dir, privateKey: a.privateKey, bootstrap: [b2.addr] })
  assert.equal(b2.a2a.mailboxes(), [{ mailbox: 'inbox', ready: 15, leased: 5, dead: 0 }], 'leases survived the restart')
  const more = await a2.a2a.send(b2.peerId, 'inbox', textMessage('after restart'))
  const rest = await drain(b2, 'inbox', 16, 10_000)
  assert.equal(new Set(rest.keys()), new Set([...first.filter(id => !leased.some(l => l.id === id)), more.id]))
  assert.equal(b2.a2a.ack('inbox', leased.map(l => l.lease)).count, 5, 'the old leases can still be acked')
  assert.equal(b2.a2a.mailboxes(), [])
})

test('a peer found only through the DHT is delivered to', async ctx => {
  const swarmKey = generateSwarmKey()
  const hub = await startA2ANode(ctx, { swarmKey })
  const c = await startA2ANode(ctx, { swarmKey, bootstrap: [hub.addr] })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [hub.addr] })
  c.grants.add(a.peerId)
  await waitFor(async () => (await a.node.peerStore.has(hub.node.peerId)) && c.node.getPeers().length > 0, 5000, 'both to join the hub')
  assert.is(a.node.getConnections(c.node.peerId).length, 0, 'A starts without a connection to C')
  const { id } = await a.a2a.send(c.peerId, 'inbox', textMessage('found you'))
  const got = await drain(c, 'inbox', 1, 15_000)
  assert.equal([...got.keys()], [id])
})

test('a hostile peer with the swarm key and a grant, by hand: each bad frame refused with its code; others still served', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey, mailboxes: { maxEnvelopeBytes: 64 * 1024 } })
  const x = await startA2ANode(ctx, { swarmKey })
  const good = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${x.peerId}:inbox`)
  b.grants.add(`${good.peerId}:inbox`)
  const open = async () => {
    const stream = await x.node.dialProtocol(multiaddr(b.addr), A2A_PROTOCOL, { signal: AbortSignal.timeout(5000) })
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 * 8 })
    const send = async (body: string | Uint8Array) => { await lp.write(typeof body === 'string' ? new TextEncoder().encode(body) : body) }
    const reply = async () => JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
    return { stream, send, reply, lp }
  }
  const env = (over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, id: uuidv7(), mailbox: 'inbox', ts: Date.now(), ttl: 60_000, message: textMessage('x'), ...over })

  const s = await open()
  const cases: Array<[string, string, string | null]> = [
    ['not JSON', '{"v":1,', 'BAD_REQUEST'],
    ['not UTF-8', '\xff', 'BAD_REQUEST'],
    ['JSON but not an object', '42', 'BAD_REQUEST'],
    ['a message with no parts', env({ message: { messageId: 'a', role: 'ROLE_USER', parts: [] } }), 'BAD_REQUEST'],
    ['a part with two contents', env({ message: { messageId: 'a', role: 'ROLE_USER', parts: [{ text: 'a', url: 'https://x.y/' }] } }), 'BAD_REQUEST'],
    ['a forged sender field', env({ from: good.peerId }), 'BAD_REQUEST'],
    ['a mailbox without a grant', env({ mailbox: 'admin' }), 'FORBIDDEN'],
    ['a non-v7 id', env({ id: '00000000-0000-4000-8000-000000000000' }), 'BAD_REQUEST']
  ]
  for (const [what, body, code] of cases) {
    await s.send(body === '\xff' ? new Uint8Array([0xff, 0xfe]) : body)
    const r = await s.reply()
    assert.equal([r.status, r.code], ['rejected', code], what)
  }
  // A flood of duplicates: one copy, every repeat answered "duplicate", pipelined on one stream.
  const dup = env()
  for (let i = 0; i < 200; i++) await s.send(dup)
  const statuses = new Map<string, number>()
  for (let i = 0; i < 200; i++) { const r = await s.reply(); statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1) }
  assert.equal(Object.fromEntries(statuses), { accepted: 1, duplicate: 199 })
  // Another peer reusing that id is refused: an id belongs to the peer that delivered it first.
  const conflictStream = await good.node.dialProtocol(multiaddr(b.addr), A2A_PROTOCOL)
  const clp = lpStream(conflictStream)
  await clp.write(new TextEncoder().encode(dup))
  const conflict = JSON.parse(new TextDecoder().decode((await clp.read()).subarray()))
  assert.equal([conflict.status, conflict.code], ['rejected', 'CONFLICT'])
  await conflictStream.close()

  // An oversized frame: TOO_LARGE, then the stream is closed by the receiver.
  await s.send(env({ message: textMessage('y'.repeat(70 * 1024)) }))
  const big = await s.reply()
  assert.equal([big.id, big.status, big.code], [null, 'rejected', 'TOO_LARGE'])
  await waitFor(() => s.stream.status !== 'open', 3000, 'the receiver to end the stream')

  // The node still serves others, and the hostile peer too on a fresh stream.
  const { id } = await good.a2a.send(b.peerId, 'inbox', textMessage('still here'))
  const s2 = await open()
  await s2.send(env())
  assert.is((await s2.reply()).status, 'accepted')
  const got = await drain(b, 'inbox', 3, 10_000)
  assert.ok(got.has(id))
  assert.is(b.audit.filter(e => e.type === 'A2A_REJECTED').length, cases.length + 2)
  assert.ok(b.audit.filter(e => e.type === 'A2A_REJECTED').every(e => e.actor === `peer:${x.peerId}` || e.detail.code === 'CONFLICT'))
})

test('a peer whose mailbox protocol comes up after it connected is tried again within NOT_READY_RETRY_MS, not after the backoff (helper finding: a node dialling out before its a2a part is up held messages for up to a minute)', async ctx => {
  const swarmKey = generateSwarmKey()
  // B's node is up and connected, its mailboxes not yet: the first session is refused (protocol
  // not supported) and the next try is a backoff of 30-60 s away.
  const bNode = await startNode(ctx, swarmKey)
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [bNode.getMultiaddrs()[0].toString()], mailboxes: { retryBaseMs: 60_000, retryMaxMs: 60_000 } })
  const b = bNode.peerId.toString()
  const { id } = await a.a2a.send(b, 'inbox', textMessage('early'), 300_000)
  await waitFor(() => a.a2a.outbox('queued').some(r => r.id === id && r.attempts > 0), 10_000, 'a refused first attempt')
  const dir = ctx.tmp('sov-a2a-')
  const mailboxes = createMailboxes({ node: bNode, dbPath: join(dir, 'mailbox.db'), authorize: () => ({ ok: true }), audit: () => {} })
  ctx.defer(async () => { await mailboxes.stop() })
  await mailboxes.start()
  // A peer that did not speak the protocol yet is tried again within 2 s, not after the backoff.
  await waitFor(() => a.a2a.outbox('delivered').some(r => r.id === id), 15_000, 'delivery once B speaks the mailbox protocol')
})

test.run()
