// The PSK protector on real TCP: bulk integrity, connection churn, interop with stock
// @libp2p/pnet, fast failure on a wrong key, and nothing in clear on the wire.
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { Socket, connect } from 'node:net'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { generateSwarmKey, isSwarmKeyMismatch } from '../mesh/index.js'
import { kitSuite, withDeadline } from './kit/index.js'
import { hashStream, readAll, sendAll, startNode, startStockPnetNode } from './kit/mesh.js'

const test = kitSuite('psk')
const BULK = '/sov/test/bulk/1.0.0'
const ECHO = '/sov/test/echo/1.0.0'

/** Answers every stream on BULK with the byte count and SHA-256 of what it read. */
async function serveHash (node: Libp2p): Promise<void> {
  await node.handle(BULK, async stream => {
    const r = await hashStream(stream)
    stream.send(Buffer.from(JSON.stringify(r)))
    await stream.close()
  })
}

async function serveEcho (node: Libp2p): Promise<void> {
  await node.handle(ECHO, async stream => {
    for await (const chunk of stream) {
      if (!stream.send(chunk)) await stream.onDrain().catch(() => {})
    }
    await stream.close()
  })
}

const bare = (node: Libp2p): any => node.getMultiaddrs()[0].decapsulate('/p2p')

test('same key: a 1 GiB stream arrives intact (SHA-256 compared)', async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  await serveHash(a)
  const chunk = randomBytes(1024 * 1024)
  const total = 1024
  const h = createHash('sha256')
  for (let i = 0; i < total; i++) h.update(chunk)
  const expected = h.digest('hex')
  const stream = await b.dialProtocol(a.getMultiaddrs()[0], BULK)
  const reply = readAll(stream)
  await withDeadline((async () => {
    await sendAll(stream, (function * () { for (let i = 0; i < total; i++) yield chunk })())
    await stream.close()
  })(), 120_000, 'sending 1 GiB')
  const got = JSON.parse((await withDeadline(reply, 60_000, 'the digest')).toString())
  assert.equal(got, { bytes: total * chunk.length, sha256: expected })
})

test('2,000 connect/disconnect cycles leave no connections behind and heap grows < 8 MiB, RSS < 64 MiB', async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  const addr = a.getMultiaddrs()[0]
  // A full cycle: connect, identify completes (as on any real connection), disconnect.
  // (Closing mid-identify leaks ~13 KB a time inside @libp2p/identify 4.1.x; see the closing note.)
  // The connections the cycles opened (the nodes' own services may open one meanwhile, which is
  // no leak). A WeakSet of the objects: ids repeat across 2,500 connections, and it keeps none of
  // them alive for the heap check.
  const ours = new WeakSet<object>()
  let opened = 0
  const cycle = async (): Promise<void> => {
    let conn: any
    const identified = new Promise<void>(resolve => {
      const onIdentify = (evt: any): void => {
        if (evt.detail.connection !== conn) return
        b.removeEventListener('peer:identify', onIdentify)
        resolve()
      }
      b.addEventListener('peer:identify', onIdentify)
    })
    conn = await b.dial(addr, { force: true } as any)
    ours.add(conn)
    opened++
    await withDeadline(identified, 10_000, 'identify')
    await conn.close()
  }
  const run = async (n: number): Promise<void> => {
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => { while (next++ < n) await cycle() }))
  }
  await run(500) // warm-up: lazy allocations, JIT, allocator pools
  global.gc?.()
  const before = process.memoryUsage()
  await withDeadline(run(2000), 120_000, '2,000 cycles')
  await new Promise(resolve => setTimeout(resolve, 500))
  global.gc?.()
  const after = process.memoryUsage()
  const rss = (after.rss - before.rss) / 2 ** 20
  const heap = (after.heapUsed - before.heapUsed) / 2 ** 20
  // A leak of even 4 KiB a connection would show as 8 MiB of heap here.
  assert.ok(heap < 8, `heap grew by ${heap.toFixed(1)} MiB over 2,000 cycles (bound 8 MiB)`)
  assert.ok(rss < 64, `RSS grew by ${rss.toFixed(1)} MiB over 2,000 cycles (bound 64 MiB; heap above is the sharp leak signal, RSS also moves with allocator pools)`)
  // Closing is asynchronous on both sides: on a loaded machine the last close can land after the
  // pause above, so wait for it (bounded) rather than flake. A connection of the cycles that stays
  // is a leak on b; one end that stays without the other is a leak on a. A connection the nodes'
  // own services open (a DHT refresh, AutoNAT) is neither: CI on Node 22 once failed the old
  // check, "no connection at all", which could not say whose the one left was; this one names it.
  const left = (): string[] => b.getConnections(a.peerId).filter(c => ours.has(c)).map(c => `${c.id} (${c.status}, ${c.direction})`)
  const unpaired = (): boolean => a.getConnections(b.peerId).length !== b.getConnections(a.peerId).length
  const closedBy = Date.now() + 10_000
  while ((left().length > 0 || unpaired()) && Date.now() < closedBy) await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(left(), [], 'every connection of the cycles was closed')
  assert.is(a.getConnections(b.peerId).length, b.getConnections(a.peerId).length, 'a holds no end of a connection b has closed')
  assert.is(opened, 2500, 'the cycles opened 2,500 connections')
})

test('interop: our protector and stock @libp2p/pnet talk in both directions', async ctx => {
  const key = generateSwarmKey()
  const ours = await startNode(ctx, key)
  const stock = await startStockPnetNode(ctx, key)
  await serveEcho(ours)
  await serveEcho(stock)
  for (const [from, to] of [[ours, stock], [stock, ours]] as Array<[Libp2p, Libp2p]>) {
    const payload = randomBytes(4 * 1024 * 1024)
    const stream = await withDeadline(from.dialProtocol(to.getMultiaddrs()[0], ECHO), 10_000, 'interop dial')
    const echoed = readAll(stream)
    await sendAll(stream, [payload.subarray(0, 1), payload.subarray(1, 70_000), payload.subarray(70_000)])
    await stream.close()
    const back = await withDeadline(echoed, 30_000, 'the echo')
    assert.is(back.length, payload.length)
    assert.ok(back.equals(payload), 'echoed bytes equal the sent bytes')
  }
})

test('a small message leaves in one socket write, not one per Noise/Yamux frame (issue 15 §4)', async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  await serveEcho(a)
  const stream = await b.dialProtocol(a.getMultiaddrs()[0], ECHO)
  const req = randomBytes(1024)
  const roundTrip = async (): Promise<void> => {
    const got = new Promise<void>(resolve => { stream.addEventListener('message', () => { resolve() }, { once: true }) })
    stream.send(req)
    await withDeadline(got, 5000, 'the echo')
  }
  for (let i = 0; i < 20; i++) await roundTrip()
  // Both nodes run in this process: count every socket write while 200 messages go each way.
  const write = Socket.prototype.write
  let writes = 0
  Socket.prototype.write = function (this: Socket, ...args: any[]) { writes++; return (write as any).apply(this, args) } as any
  ctx.defer(() => { Socket.prototype.write = write })
  const count = 200
  try {
    for (let i = 0; i < count; i++) await roundTrip()
  } finally {
    Socket.prototype.write = write
  }
  // Per round trip: the message each way, and Yamux's window update each way at most. Before
  // issue 15 each of those was two writes (Noise's length prefix, then the frame).
  assert.ok(writes <= count * 4, `${writes} socket writes for ${count} echoed messages (bound ${count * 4})`)
  await stream.close()
})

test('a stream that only receives answers small messages with no Yamux window update each (issue 15: one write and one wake-up of the sender fewer per message)', async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  let arrived: (() => void) | undefined
  await a.handle(ECHO, async stream => {
    for await (const _ of stream) arrived?.()
  })
  const stream = await b.dialProtocol(a.getMultiaddrs()[0], ECHO)
  const oneWay = async (): Promise<void> => {
    const got = new Promise<void>(resolve => { arrived = resolve })
    stream.send(randomBytes(1024))
    await withDeadline(got, 5000, 'the message')
    // End the turn: A's writes in it would otherwise leave with B's next message.
    await new Promise(resolve => setImmediate(resolve))
  }
  for (let i = 0; i < 20; i++) await oneWay()
  const write = Socket.prototype.write
  let writes = 0
  Socket.prototype.write = function (this: Socket, ...args: any[]) { writes++; return (write as any).apply(this, args) } as any
  ctx.defer(() => { Socket.prototype.write = write })
  const count = 200
  try {
    for (let i = 0; i < count; i++) await oneWay()
  } finally {
    Socket.prototype.write = write
  }
  // B's 200 messages, and a window update from A once half its 256 KiB window is used
  // (patches/@chainsafe+libp2p-yamux+8.0.1.patch, as hashicorp/yamux does). Stock
  // @chainsafe/libp2p-yamux sent one per message received: 400 writes.
  const bound = count + 8
  assert.ok(writes <= bound, `${writes} socket writes for ${count} one-way messages (bound ${bound})`)
  await stream.close()
})

test('a pipelined burst (one writeV of 100 small frames) leaves in a few socket writes, not two per frame (issue 15)', async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  let received = 0
  let arrived: (() => void) | undefined
  await a.handle(ECHO, async stream => {
    for await (const chunk of stream) { received += chunk.byteLength; arrived?.() }
  })
  const stream = await b.dialProtocol(a.getMultiaddrs()[0], ECHO)
  const lp = lpStream(stream)
  const count = 100
  const frames = Array.from({ length: count }, () => randomBytes(1024))
  const burst = async (): Promise<void> => {
    const want = received + count * (1024 + 2)
    const got = new Promise<void>(resolve => { arrived = () => { if (received >= want) resolve() } })
    await lp.writeV(frames)
    await withDeadline(got, 5000, 'the burst')
  }
  await burst()
  const write = Socket.prototype.write
  let writes = 0
  Socket.prototype.write = function (this: Socket, ...args: any[]) { writes++; return (write as any).apply(this, args) } as any
  ctx.defer(() => { Socket.prototype.write = write })
  try {
    await burst()
  } finally {
    Socket.prototype.write = write
  }
  // ~103 KiB joined 16 KiB at a time: 7 writes, and a Yamux window update from A. Noise hands
  // the burst down as one list of 200 buffers (length prefix, frame): when the PSK layer passed
  // on any list over 16 KiB as it was, the TCP transport wrote each buffer alone (200 writes).
  assert.ok(writes <= 12, `${writes} socket writes for a burst of ${count} 1 KiB frames (bound 12)`)
  await stream.close()
})

test('wrong key: 20 bare dials each fail with SWARM_KEY_MISMATCH in well under the 6 s dial timeout; no PeerId leaks', async ctx => {
  const a = await startNode(ctx, generateSwarmKey())
  const x = await startNode(ctx, generateSwarmKey())
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const [from, to] = i % 2 === 0 ? [x, a] : [a, x]
    const started = Date.now()
    try {
      await from.dial(bare(to), { signal: AbortSignal.timeout(10_000) })
      assert.unreachable('a dial with another swarm key succeeded')
    } catch (err) {
      assert.ok(isSwarmKeyMismatch(err), `dial ${i} failed with something else: ${String(err)}`)
    }
    times.push(Date.now() - started)
  }
  assert.ok(Math.max(...times) < 3000, `slowest mismatch took ${Math.max(...times)} ms (bound 3000 ms)`)
  const knownByA = (await a.peerStore.all()).map(p => p.id.toString())
  const knownByX = (await x.peerStore.all()).map(p => p.id.toString())
  assert.not.ok(knownByA.includes(x.peerId.toString()), 'A never learned X')
  assert.not.ok(knownByX.includes(a.peerId.toString()), 'X never learned A')
})

/** Everything a raw TCP client receives from `port` until the node closes it (or 8 s pass). */
async function rawReceive (port: number, send?: Buffer): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    const s = connect(port, '127.0.0.1')
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(parts)) }, 8000)
    s.on('connect', () => { if (send !== undefined) s.write(send) })
    s.on('data', d => parts.push(d))
    s.on('error', err => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(parts)) })
  })
}

test('a raw TCP client receives exactly 24 random bytes and nothing in clear', async ctx => {
  const a = await startNode(ctx, generateSwarmKey())
  const port = Number(a.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
  const silent = await rawReceive(port)
  assert.is(silent.length, 24, `received ${silent.length} bytes`)
  const other = await rawReceive(port)
  assert.not.ok(other.equals(silent), 'a fresh nonce per connection')
  // A scanner that speaks multistream-select in clear after a fake nonce learns nothing either.
  const probe = await rawReceive(port, Buffer.concat([randomBytes(24), Buffer.from('\x13/multistream/1.0.0\n\x07/noise\n')]))
  assert.ok(probe.length === 24 || probe.length === 44, `received ${probe.length} bytes`)
  for (const word of ['multistream', 'noise', 'yamux', 'p2p', a.peerId.toString().slice(0, 12)]) {
    assert.not.ok(probe.includes(word), `"${word}" appeared in clear`)
  }
})

test.run()
