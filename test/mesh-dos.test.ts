// A stranger, or a member without a grant, cannot cost a node much (issue 10 §3), through real
// daemons: the mesh guard refuses a member without any grant before the handler reads a byte
// (and says why), refusals reach the audit log aggregated, and a sender that is refused after the
// handshake backs off instead of retrying at once.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { v7 as uuidv7 } from 'uuid'
import { MAX_PENDING_INBOUND, MAX_PENDING_PER_ADDRESS, parseSwarmKey, sourceOf, type MeshNode } from '../mesh/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'
import { startNode } from './kit/mesh.js'

const test = kitSuite('mesh-dos')
const A2A = '/sov/a2a/1.0.0'

function envelope (mailbox: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: 1, id: uuidv7(), mailbox, ts: Date.now(), ttl: 60_000, message: textMessage('x') }))
}

async function member (ctx: any, home: string, addr: string): Promise<MeshNode> {
  const { key } = parseSwarmKey(readFileSync(join(home, 'swarm.key')))
  const node = await startNode(ctx, key)
  await node.dial(multiaddr(addr))
  return node
}

function auditRows (home: string): any[] {
  return readFileSync(join(home, 'audit', 'events.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l))
}

test('a member without a grant is refused at the stream with a reason; a granted member sending to the wrong mailbox is refused per envelope; neither can write more than a few audit rows', async ctx => {
  const b = await startA2ADaemon(ctx)
  const stranger = await member(ctx, b.home, b.addr)
  const granted = await member(ctx, b.home, b.addr)
  await grantSend(b.home, granted.peerId.toString(), 'ok')
  const target = peerIdFromString(b.peerId)

  // 1. No grant at all: every stream is answered once with the refusal and closed — for ~1.5 s,
  // and 20 at least: a count, not a rate (a loaded CI machine made 19 in 1.5 s, stop 33).
  let streams = 0
  const until = Date.now() + 1500
  while (streams < 20 || (Date.now() < until && streams < 200)) {
    const s = await stranger.dialProtocol(target, A2A, { signal: AbortSignal.timeout(5000) })
    const lp = lpStream(s)
    const reply = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
    assert.equal([reply.id, reply.status, reply.code], [null, 'rejected', 'FORBIDDEN'])
    assert.match(reply.reason, /no grant|grant/)
    s.abort(new Error('done'))
    streams++
  }

  // 2. A grant for "ok", 1,000 envelopes for "secret" on one stream: each refused FORBIDDEN.
  const s = await granted.dialProtocol(target, A2A, { signal: AbortSignal.timeout(5000) })
  const lp = lpStream(s)
  const N = 1000
  await lp.writeV(Array.from({ length: N }, () => envelope('secret')))
  for (let i = 0; i < N; i++) {
    const r = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()))
    assert.is(r.code, 'FORBIDDEN')
  }
  await s.close()

  // Stopping flushes the aggregation windows into the log.
  assert.is(await b.stop(), 0)
  const rows = auditRows(b.home).filter(r => r.type === 'MESH_STREAM_REFUSED' || r.type === 'A2A_REJECTED')
  const ofStranger = rows.filter(r => r.actor === `peer:${stranger.peerId.toString()}`)
  const ofGranted = rows.filter(r => r.actor === `peer:${granted.peerId.toString()}`)
  assert.ok(ofStranger.length <= 2 && ofStranger.every(r => r.type === 'MESH_STREAM_REFUSED'), `${ofStranger.length} rows for the stranger`)
  assert.is(ofStranger.reduce((n, r) => n + r.detail.count, 0), streams, 'every refused stream is counted')
  assert.ok(ofGranted.length <= 2 && ofGranted.every(r => r.type === 'A2A_REJECTED'), `${ofGranted.length} rows for the granted member`)
  assert.is(ofGranted.reduce((n, r) => n + r.detail.count, 0), N, 'every refused envelope is counted')
})

test('a peer without a grant: the sender fails the message FORBIDDEN with the reason, once; after `peers revoke` the sender backs off instead of retrying at every reconnect', async ctx => {
  const a = await startA2ADaemon(ctx, { config: { a2a: { retryBaseMs: 100, retryMaxMs: 3000 } } })
  const b = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  const ca = await ipc(ctx, a.home)
  await waitFor(async () => (await ca.request('status', {})).peers >= 1, 15_000, 'A and B to connect')
  const row = async (id: string): Promise<any> => (await ca.request('a2a.outbox', {})).find((r: any) => r.id === id)
  const none = (await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: textMessage('no grant') })).id
  const failed = await waitFor(async () => { const r = await row(none); return r?.status === 'failed' ? r : undefined }, 10_000, 'the refusal')
  assert.equal([failed.code, failed.attempts], ['FORBIDDEN', 1])
  assert.match(failed.reason, /grant/)

  await grantSend(b.home, a.peerId, 'inbox')
  assert.is((await sov(b.home, ['peers', 'revoke', a.peerId])).code, 0)
  const id = (await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: textMessage('revoked'), ttlMs: 60_000 })).id
  await new Promise(resolve => setTimeout(resolve, 6000))
  const r = await row(id)
  assert.is(r.status, 'queued')
  // Back-off 100 ms doubling to 3 s: at most ~8 tries in 6 s; a reset at every reconnect made 20+.
  assert.ok(r.attempts <= 10, `${r.attempts} attempts in 6 s`)
})

/**
 * Holds `n` silent TCP sockets against `port` from `hosts` (loopback addresses), opening again
 * those the node closes every `refillMs`; returns the stopper and the count of closes seen.
 */
export function holdSilentSockets (port: number, n: number, hosts: string[], refillMs = 1000): { stop: () => void, closed: () => number } {
  const live = new Set<Socket>()
  let closed = 0
  let stopped = false
  const open = (host: string): void => {
    const s = connect({ host: '127.0.0.1', port, localAddress: host })
    live.add(s)
    s.on('error', () => {})
    s.on('close', () => { live.delete(s); if (!stopped) closed++ })
  }
  for (let i = 0; i < n; i++) open(hosts[i % hosts.length])
  const refill = setInterval(() => { for (let i = live.size; i < n; i++) open(hosts[i % hosts.length]) }, refillMs)
  return { stop: () => { stopped = true; clearInterval(refill); for (const s of live) s.destroy() }, closed: () => closed }
}

test('1,000 silent sockets (no swarm key) cannot keep a member out: it connects within 3 s; silent ones are dropped after ~2 s', async ctx => {
  const b = await startA2ADaemon(ctx)
  const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
  const attack = holdSilentSockets(b.port, 1000, hosts)
  ctx.defer(() => { attack.stop() })
  await new Promise(resolve => setTimeout(resolve, 500))
  const { key } = parseSwarmKey(readFileSync(join(b.home, 'swarm.key')))
  const node = await startNode(ctx, key)
  const started = Date.now()
  let connected = false
  let lastError: unknown
  while (!connected && Date.now() - started < 3000) {
    try {
      await node.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(3000 - (Date.now() - started)) })
      connected = true
    } catch (err) { lastError = err; await new Promise(resolve => setTimeout(resolve, 100)) }
  }
  const ms = Date.now() - started
  console.log(`member connected in ${ms} ms with 1000 silent sockets held`)
  assert.ok(connected, `the member could not connect within 3 s: ${String(lastError)}`)
  // Beyond 16 pending per address, sockets are refused at once; a pending one is dropped at the
  // PSK deadline (~2 s), not after libp2p's 10 s upgrade timeout.
  await waitFor(() => attack.closed() >= 900, 5000, 'the node to refuse the sockets beyond the per-address slots')
  attack.stop()
  const lone = connect({ host: '127.0.0.1', port: b.port, localAddress: '127.0.0.9' })
  lone.on('error', () => {})
  const opened = Date.now()
  await withDeadline(new Promise(resolve => lone.once('close', resolve)), 6000, 'a silent socket to be dropped')
  const held = Date.now() - opened
  console.log(`a silent socket was dropped after ${held} ms`)
  assert.ok(held >= 1500 && held <= 5000, `dropped after ${held} ms (libp2p alone: 10 s)`)
})

test('silent sockets from 64 source addresses, more than the handshake slots in all, re-opened every 50 ms, cannot keep a member out either: the oldest pending one is dropped for a newcomer (helper finding, stop 30: 32 addresses × 16 kept every member out)', async ctx => {
  const b = await startA2ADaemon(ctx)
  const hosts = Array.from({ length: 64 }, (_, i) => `127.0.1.${i + 1}`)
  assert.ok(hosts.length * MAX_PENDING_PER_ADDRESS > MAX_PENDING_INBOUND, 'the flood can fill every slot')
  const attack = holdSilentSockets(b.port, hosts.length * MAX_PENDING_PER_ADDRESS, hosts, 50)
  ctx.defer(() => { attack.stop() })
  await new Promise(resolve => setTimeout(resolve, 1000))
  const { key } = parseSwarmKey(readFileSync(join(b.home, 'swarm.key')))
  for (let round = 0; round < 3; round++) {
    const node = await startNode(ctx, key)
    const started = Date.now()
    let lastError: unknown
    let connected = false
    // Members get in within 0.2–0.5 s on a quiet machine; the bound leaves room for a loaded one
    // (CI, stop 32: past 3 s with other test files beside it). Unfixed, none got in at all.
    while (!connected && Date.now() - started < 8000) {
      try {
        await node.dial(multiaddr(b.addr), { signal: AbortSignal.timeout(8000 - (Date.now() - started)) })
        connected = true
      } catch (err) { lastError = err; await new Promise(resolve => setTimeout(resolve, 100)) }
    }
    assert.ok(connected, `member ${round + 1} could not connect within 8 s: ${String(lastError)}`)
    console.log(`member ${round + 1} connected in ${Date.now() - started} ms with ${hosts.length} addresses flooding`)
    await node.stop()
  }
  const st = await sov(b.home, ['status', '--json'])
  assert.is(st.code, 0, 'the node kept running')
})

test('handshake slots count an IPv4 address, or an IPv6 /64, as one source', () => {
  const of = (a: string): string | undefined => sourceOf({ remoteAddr: multiaddr(a) })
  assert.is(of('/ip4/127.0.1.7/tcp/4001'), '127.0.1.7')
  assert.is(of('/ip6/2001:db8:1:2:aaaa::1/tcp/4001'), '2001:db8:1:2::/64')
  assert.is(of('/ip6/2001:db8:1:2:ffff:ffff:ffff:ffff/tcp/4001'), '2001:db8:1:2::/64')
  assert.is.not(of('/ip6/2001:db8:1:3::1/tcp/4001'), '2001:db8:1:2::/64')
  assert.is(of('/ip6/2001:db8::1/tcp/4001'), '2001:db8:0:0::/64')
  assert.is(of('/ip6/::1/tcp/4001'), '0:0:0:0::/64')
  assert.is(of('/ip6/::ffff:10.0.0.1/tcp/4001'), '10.0.0.1')
})

test.run()
