// Member relay (issue 12) between real daemon processes on loopback: A and B listen on no address
// at all (as behind NAT, nobody can dial them), R serves as relay; A2A both ways goes through R,
// `sov peers` says so, `sov status` shows reachability and the reservations.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { kitSuite, repoPath, waitFor, withDeadline } from './kit/index.js'
import { daemonRequest, sov } from './kit/daemon.js'
import { grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'
import { sendAll, startNode } from './kit/mesh.js'
import { connectionInfo, generateSwarmKey, reachability } from '../mesh/index.js'

const test = kitSuite('relay')

/** R serves; A and B are private, listen nowhere and keep a connection to R. */
async function relayedTrio (ctx: Parameters<Parameters<typeof test>[1]>[0], relayExtra: Record<string, unknown> = {}) {
  const r = await startA2ADaemon(ctx, { config: { relay: { serve: true, ...relayExtra } } })
  const key = join(r.home, 'swarm.key')
  const priv = { listen: [], reachability: 'private', relay: { use: [r.addr] } }
  const a = await startA2ADaemon(ctx, { swarmKeyFile: key, config: priv })
  const b = await startA2ADaemon(ctx, { swarmKeyFile: key, config: priv })
  return { r, a, b }
}

async function reserved (home: string): Promise<any> {
  return await waitFor(async () => {
    const s = await daemonRequest(home, 'status', {})
    return s?.relay?.reservations?.some((x: any) => x.role === 'client') === true ? s : undefined
  }, 20_000, `a relay slot for ${home}`, 200)
}

test('A and B behind no address exchange A2A both ways through member relay R; peers and status say how', async ctx => {
  const { r, a, b } = await relayedTrio(ctx)
  const [sa, sb] = [await reserved(a.home), await reserved(b.home)]
  assert.is(sa.reachability, 'private')
  assert.ok(sa.addrs.every((x: string) => x.includes('/p2p-circuit')), `A announces only relayed addresses: ${sa.addrs.join(' ')}`)
  assert.equal(sb.relay.reservations.filter((x: any) => x.role === 'client').map((x: any) => x.peerId), [r.peerId])
  const sr = await daemonRequest(r.home, 'status', {})
  assert.equal(sr.relay.serving, true)
  assert.is(sr.reachability, 'unknown', 'auto on loopback: AutoNAT cannot judge it')
  assert.equal(sr.relay.reservations.filter((x: any) => x.role === 'server').map((x: any) => x.peerId).sort(), [a.peerId, b.peerId].sort())

  await grantSend(b.home, a.peerId, 'inbox')
  await grantSend(a.home, b.peerId, 'inbox')
  const [ca, cb] = [await ipc(ctx, a.home), await ipc(ctx, b.home)]
  const toB = Array.from({ length: 20 }, (_, i) => textMessage(`to B ${i}`))
  const toA = Array.from({ length: 20 }, (_, i) => textMessage(`to A ${i}`))
  await withDeadline(Promise.all([
    ...toB.map(async m => await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: m })),
    ...toA.map(async m => await cb.request('a2a.send', { peer: a.peerId, mailbox: 'inbox', message: m }))
  ]), 10_000, 'sends committed')
  const drain = async (c: typeof ca, n: number): Promise<string[]> => {
    const got: string[] = []
    await waitFor(async () => {
      const msgs = await c.request('a2a.receive', { mailbox: 'inbox', leaseMs: 30_000, max: 100, waitMs: 500 }) as any[]
      if (msgs.length > 0) await c.request('a2a.ack', { mailbox: 'inbox', leases: msgs.map(m => m.lease) })
      got.push(...msgs.map(m => m.message.messageId))
      return got.length >= n
    }, 30_000, `${n} messages`, 10)
    return got
  }
  const [gotB, gotA] = await Promise.all([drain(cb, 20), drain(ca, 20)])
  assert.equal(gotB.sort(), toB.map(m => m.messageId).sort())
  assert.equal(gotA.sort(), toA.map(m => m.messageId).sort())

  const peers = await sov(a.home, ['peers', '--json'])
  assert.is(peers.code, 0, peers.stderr)
  const pb = peers.json.find((p: any) => p.peerId === b.peerId)
  assert.ok(pb?.connected, 'A is connected to B')
  assert.is(pb.connection.type, 'relayed')
  assert.is(pb.connection.via, r.peerId)
  assert.match(pb.connection.addr, `/p2p/${r.peerId}/p2p-circuit`)
  // Counters exist only for connections our PSK protector wrapped: the relayed one was, end to end.
  assert.ok(pb.connection.bytesIn > 0 && pb.connection.bytesOut > 0, 'the PSK layer counted bytes on the relayed connection')
  assert.ok(Date.parse(pb.connection.since) <= Date.now())
  const pr = peers.json.find((p: any) => p.peerId === r.peerId)
  assert.is(pr.connection.type, 'direct')
  assert.not.ok('via' in pr.connection)
  const human = await sov(a.home, ['peers'])
  assert.match(human.stdout, `relayed via ${r.peerId}`)
})

test('a relayed connection between members is not "limited" by default: 2 MiB in one A2A message passes R', async ctx => {
  const { a, b } = await relayedTrio(ctx)
  await Promise.all([reserved(a.home), reserved(b.home)])
  await grantSend(b.home, a.peerId, 'inbox')
  const ca = await ipc(ctx, a.home)
  const cb = await ipc(ctx, b.home)
  // Above libp2p's default relay cap of 128 KiB, under our 1 MiB envelope limit: 6 × 700 KiB.
  const big = Buffer.alloc(700 * 1024, 7).toString('base64')
  const ids = new Set<string>()
  for (let i = 0; i < 6; i++) {
    const m = { ...textMessage(`big ${i}`), parts: [{ raw: big.slice(0, 700 * 1024), mediaType: 'application/octet-stream' }] }
    ids.add(m.messageId)
    await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: m })
  }
  const got = new Set<string>()
  await waitFor(async () => {
    const msgs = await cb.request('a2a.receive', { mailbox: 'inbox', leaseMs: 30_000, max: 10, waitMs: 500 }) as any[]
    if (msgs.length > 0) await cb.request('a2a.ack', { mailbox: 'inbox', leases: msgs.map(m => m.lease) })
    for (const m of msgs) got.add(m.message.messageId)
    return got.size >= 6
  }, 30_000, '6 big messages', 10)
  assert.equal(got, ids)
  const pb = (await sov(a.home, ['peers', '--json'])).json.find((p: any) => p.peerId === b.peerId)
  assert.is(pb.connection.type, 'relayed')
  assert.ok(pb.connection.bytesOut > 3 * 1024 * 1024, `more than 3 MiB went out over the relayed connection (${pb.connection.bytesOut})`)
})

test('R keeps no copy of what it relays: 32 MiB through an open relayed stream leave R\'s buffers as they were', async ctx => {
  // libp2p's relay joined the two streams with `pipe(src, dst, src)`, which buffered every byte
  // from the dialer in a reader nobody read until the circuit closed (patches/, issue 12).
  const key = generateSwarmKey()
  const child = spawn(process.execPath, ['--expose-gc', repoPath('dist', 'bench', 'relay-peer.js'), Buffer.from(key).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] })
  ctx.defer(() => { child.stdin.end(); child.kill() })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<any> => JSON.parse((await withDeadline(lines.next(), 20_000, 'the relay child')).value)
  const rAddr = (await next()).addr as string
  const mem = async (): Promise<number> => { child.stdin.write('mem\n'); return (await next()).arrayBuffers }
  const b = await startNode(ctx, key, { reachability: 'private', relayUse: [rAddr], noAnnounce: ['/ip4/127.0.0.0/ipcidr/8'] })
  const circuit = await waitFor(async () => b.getMultiaddrs().find(m => m.toString().includes('/p2p-circuit')), 20_000, 'a relay slot for B', 100)
  const TOTAL = 32 * 1024 * 1024
  let received = 0
  await b.handle('/sov-test/sink/1.0.0', async stream => {
    for await (const chunk of stream) {
      received += chunk.byteLength
      if (received === TOTAL) stream.send(Buffer.from('all'))
    }
  }, { runOnLimitedConnection: true })
  const a = await startNode(ctx, key)
  const stream = await a.dialProtocol(multiaddr(circuit.toString()), '/sov-test/sink/1.0.0', { runOnLimitedConnection: true })
  const before = await mem()
  const got = new Promise<void>(resolve => { stream.addEventListener('message', () => { resolve() }, { once: true }) })
  const chunk = Buffer.alloc(64 * 1024, 1)
  await sendAll(stream, Array.from({ length: TOTAL / chunk.length }, () => chunk))
  await withDeadline(got, 60_000, 'B to read all 32 MiB')
  assert.ok(a.getConnections(b.peerId).every(c => c.remoteAddr.toString().includes('/p2p-circuit')), 'A reached B only through R')
  const held = await mem() - before
  assert.ok(held < 8 * 1024 * 1024, `R still holds ${(held / 2 ** 20).toFixed(1)} MiB more in buffers with the stream open`)
  stream.abort(new Error('done'))
})

test('relay limits are configurable: a data cap makes the connection "limited", A2A still runs on it, an envelope over the cap is cut and stays queued; maxReservations holds', async ctx => {
  const { r, a, b } = await relayedTrio(ctx, { dataLimitBytes: 256 * 1024, maxReservations: 2 })
  await Promise.all([reserved(a.home), reserved(b.home)])
  await grantSend(b.home, a.peerId, 'inbox')
  const ca = await ipc(ctx, a.home)
  const small = Array.from({ length: 5 }, (_, i) => textMessage(`small ${i}`))
  for (const m of small) await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: m })
  await waitFor(async () => (await ca.request('a2a.outbox', { status: 'delivered' })).length === 5, 15_000, 'small messages over the limited relayed connection')
  const big = { ...textMessage('big'), parts: [{ raw: Buffer.alloc(400 * 1024, 1).toString('base64'), mediaType: 'application/octet-stream' }] }
  const id = (await ca.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: big })).id
  const row = await waitFor(async () => (await ca.request('a2a.outbox', {})).find((x: any) => x.id === id && x.attempts >= 2), 15_000, 'the big envelope cut and retried')
  assert.is(row.status, 'queued', 'cut by the relay, never lost: still queued for a later (direct or roomier) path')
  // A third private member finds no slot: R holds 2.
  const c = await startA2ADaemon(ctx, { swarmKeyFile: join(r.home, 'swarm.key'), config: { listen: [], reachability: 'private', relay: { use: [r.addr] } } })
  await new Promise(resolve => setTimeout(resolve, 3000))
  const sc = await daemonRequest(c.home, 'status', {})
  assert.equal(sc.relay.reservations, [], 'no slot beyond maxReservations')
  const sr = await daemonRequest(r.home, 'status', {})
  assert.is(sr.relay.reservations.filter((x: any) => x.role === 'server').length, 2)
})

test('a peer with both a direct and a relayed address is reached directly', async ctx => {
  const key = generateSwarmKey()
  const r = await startNode(ctx, key, { relayServe: {} })
  const rAddr = r.getMultiaddrs()[0].toString()
  const b = await startNode(ctx, key, { reachability: 'private', relayUse: [rAddr] })
  await waitFor(() => b.getMultiaddrs().some(m => m.toString().includes('/p2p-circuit')), 15_000, 'B\'s relay slot')
  const addrs = b.getMultiaddrs()
  assert.ok(addrs.some(m => !m.toString().includes('/p2p-circuit')), 'B also announces its direct address')
  const a = await startNode(ctx, key)
  await a.peerStore.merge(b.peerId, { multiaddrs: addrs })
  await a.services.ping.ping(b.peerId)
  const conns = a.getConnections(b.peerId)
  assert.ok(conns.length > 0 && conns.every(c => !c.remoteAddr.toString().includes('/p2p-circuit')), conns.map(c => c.remoteAddr.toString()).join(' '))
  assert.is(connectionInfo(conns[0]).type, 'direct')
})

test('relay.use auto: a private node reserves on whichever connected member serves', async ctx => {
  const key = generateSwarmKey()
  const r = await startNode(ctx, key, { relayServe: {} })
  const plain = await startNode(ctx, key)
  const b = await startNode(ctx, key, { reachability: 'private', relayUse: 'auto', bootstrap: [plain.getMultiaddrs()[0].toString(), r.getMultiaddrs()[0].toString()] })
  await waitFor(() => b.getMultiaddrs().some(m => m.toString().includes(`/p2p/${r.peerId.toString()}/p2p-circuit`)), 15_000, 'a slot on the serving member')
  assert.is(reachability(b, 'auto'), 'private')
  assert.is(reachability(b, 'public'), 'public', 'a configured value stands')
})

test('a member that is revoked, or that stops, no longer holds its slot on the relay: status drops it at once and another member takes the one slot (helper finding, stop 30: kept for an hour)', async ctx => {
  const { r, a, b } = await relayedTrio(ctx, { maxReservations: 2 })
  await reserved(a.home)
  await reserved(b.home)
  const servedTo = async (): Promise<string[]> => (await daemonRequest(r.home, 'status', {})).relay.reservations.filter((x: any) => x.role === 'server').map((x: any) => x.peerId).sort()
  assert.equal(await servedTo(), [a.peerId, b.peerId].sort())
  assert.is((await sov(r.home, ['peers', 'revoke', a.peerId])).code, 0)
  await waitFor(async () => (await servedTo()).join() === b.peerId, 5000, 'the revoked member\'s slot to go')
  await b.stop()
  await waitFor(async () => (await servedTo()).length === 0, 5000, 'the stopped member\'s slot to go')
  const key = join(r.home, 'swarm.key')
  const c = await startA2ADaemon(ctx, { swarmKeyFile: key, config: { listen: [], reachability: 'private', relay: { use: [r.addr] } } })
  const d = await startA2ADaemon(ctx, { swarmKeyFile: key, config: { listen: [], reachability: 'private', relay: { use: [r.addr] } } })
  await reserved(c.home)
  await reserved(d.home)
  assert.equal(await servedTo(), [c.peerId, d.peerId].sort(), 'both slots were free again')
})

test.run()
