/**
 * Relay benchmarks (issue 12), the relay R in its own process, A and B in this one:
 * - `mesh.relay.bulk`: one 64 MiB stream A→B through R vs direct (target ≥ 0.4×), and R's CPU
 *   time per relayed MiB.
 * - `a2a.relay.latency`: p50 of one durable A2A message (send until the receiver's waiting
 *   `receive` returns it) through R vs direct (target ≤ 2× + 1 ms).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { createMeshNode, generateSwarmKey, type MeshNode } from '../mesh/index.js'
import { createMailboxes, type Mailboxes } from '../a2a/index.js'
import { SINK } from './mesh-peer.js'
import { median, row, type BenchResult } from './kit.js'

const MiB = 2 ** 20
const BULK_BYTES = 64 * MiB
const CHUNK = randomBytes(64 * 1024)
const BULK_RUNS = 3
const LATENCY_N = 150

async function sendAll (stream: Stream, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!stream.send(CHUNK)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  await stream.close()
}

/** MiB/s of one stream to B's sink over `node`'s connection to `addr`. */
async function bulk (node: MeshNode, addr: string): Promise<number> {
  const stream = await node.dialProtocol(multiaddr(addr), SINK)
  let reply = ''
  const done = new Promise<void>(resolve => {
    stream.addEventListener('message', evt => { reply += Buffer.from(evt.data.subarray()).toString() })
    stream.addEventListener('close', () => { resolve() }, { once: true })
  })
  const t = performance.now()
  await sendAll(stream, BULK_BYTES)
  await done
  if (Number(reply) !== BULK_BYTES) throw new Error(`sink counted ${reply} bytes`)
  return BULK_BYTES / MiB / ((performance.now() - t) / 1000)
}

async function latencies (a: Mailboxes, b: Mailboxes, to: string, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await a.send(to, 'inbox', { messageId: `m${i}-${Math.random()}`, role: 'ROLE_USER', parts: [{ text: 'x'.repeat(1000) }] })
    const got = await b.receive('inbox', { waitMs: 5_000, max: 1 })
    out.push(performance.now() - t)
    b.ack('inbox', got.map(m => m.lease))
  }
  return out
}

export async function run (): Promise<BenchResult[]> {
  const key = generateSwarmKey()
  const relay = spawn(process.execPath, [new URL('./relay-peer.js', import.meta.url).pathname, Buffer.from(key).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: relay.stdout! })[Symbol.asyncIterator]()
  const dir = mkdtempSync(join(tmpdir(), 'sov-bench-relay-'))
  const stops: Array<() => Promise<void>> = []
  try {
    const rAddr = JSON.parse((await lines.next()).value).addr as string
    const cpu = async (): Promise<number> => { relay.stdin!.write('cpu\n'); return JSON.parse((await lines.next()).value).cpuUs }
    const node = async (opts: Record<string, unknown>): Promise<MeshNode> => {
      const n = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), swarmKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], ...opts })
      stops.push(async () => { await n.stop() })
      return n
    }
    // B holds a slot on R and announces only it; A1 reaches B directly, A2 only through R.
    const b = await node({ reachability: 'private', relayUse: [rAddr], noAnnounce: ['/ip4/127.0.0.0/ipcidr/8'] })
    const deadline = Date.now() + 15_000
    while (!b.getMultiaddrs().some(m => m.toString().includes('/p2p-circuit'))) {
      if (Date.now() > deadline) throw new Error('B got no relay slot')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const circuit = b.getMultiaddrs().find(m => m.toString().includes('/p2p-circuit'))!.toString()
    const direct = `${(b as any).components.transportManager.getAddrs()[0].toString()}/p2p/${b.peerId.toString()}`
    await b.handle(SINK, async stream => {
      let bytes = 0
      for await (const chunk of stream) bytes += chunk.byteLength
      stream.send(Buffer.from(String(bytes)))
      await stream.close()
    }, { runOnLimitedConnection: true })
    const a1 = await node({})
    const a2 = await node({})
    await a1.dial(multiaddr(direct))
    await a2.dial(multiaddr(circuit))

    const rates: Record<'direct' | 'relayed', number[]> = { direct: [], relayed: [] }
    let relayCpuUs = 0
    for (let r = 0; r < BULK_RUNS; r++) {
      rates.direct.push(await bulk(a1, direct))
      const before = await cpu()
      rates.relayed.push(await bulk(a2, circuit))
      relayCpuUs += await cpu() - before
    }
    const cpuMsPerMiB = relayCpuUs / 1000 / (BULK_RUNS * BULK_BYTES / MiB)

    const mb = (n: MeshNode, name: string): Mailboxes => {
      const m = createMailboxes({ node: n, dbPath: join(dir, `${name}.db`), authorize: () => ({ ok: true }), audit: () => {}, sweepIntervalMs: 50 })
      stops.unshift(async () => { await m.stop() })
      return m
    }
    const [mb1, mb2] = [mb(a1, 'a1'), mb(a2, 'a2')]
    const mbB = mb(b, 'b')
    await Promise.all([mb1.start(), mb2.start(), mbB.start()])
    // Warm both paths first (JIT, SQLite pages, connections), then alternate blocks of the two.
    const to = b.peerId.toString()
    await latencies(mb1, mbB, to, 30)
    await latencies(mb2, mbB, to, 30)
    const lat: Record<'direct' | 'relayed', number[]> = { direct: [], relayed: [] }
    for (let block = 0; block < 3; block++) {
      lat.direct.push(...await latencies(mb1, mbB, to, LATENCY_N / 3))
      lat.relayed.push(...await latencies(mb2, mbB, to, LATENCY_N / 3))
    }
    const latDirect = median(lat.direct)
    const latRelayed = median(lat.relayed)
    const relayedConn = a2.getConnections(b.peerId).every(c => c.remoteAddr.toString().includes('/p2p-circuit'))
    return [
      row('mesh.relay.bulk', median(rates.relayed), 'MiB/s', median(rates.direct), `one ${BULK_BYTES / MiB} MiB stream through member relay R vs direct (target ≥ 0.4×); R spends ${cpuMsPerMiB.toFixed(2)} ms CPU per relayed MiB`),
      row('a2a.relay.latency', latRelayed, 'ms', latDirect, `p50 of one durable A2A message through R vs direct (target ≤ 2× + 1 ms = ${(2 * latDirect + 1).toFixed(2)} ms)${relayedConn ? '' : '; WARNING: A2 was not only relayed'}`)
    ]
  } finally {
    for (const stop of stops) await stop().catch(() => {})
    relay.stdin!.end()
    rmSync(dir, { recursive: true, force: true })
  }
}
