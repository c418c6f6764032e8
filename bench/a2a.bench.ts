/**
 * A2A benchmarks between two daemon processes (the built `sov`, default settings, loopback),
 * each beside a bare baseline on the same PSK+Noise+Yamux stack with its far end in its own
 * process:
 * - `a2a.throughput`: durable 1 KiB messages/s, from the first `a2a.send` over IPC until the
 *   sender has recorded every receiver's commit, against bare `lpStream` pipelined 1 KiB
 *   request/response (window 256). Target ≥ 0.5×.
 * - `a2a.latency.p50` / `.p99`: one message at a time, from `a2a.send` until a consumer's
 *   waiting `a2a.receive` returns it, against one bare 1 KiB round trip. Targets 3 ms / 15 ms.
 * - `a2a.vs-jetstream.throughput` / `.p50`: the same two figures beside NATS JetStream (file
 *   storage) in the same run (`jetstream.ts`; skipped with a note without `nats-server`).
 *   Targets (issue 15): ≥ 0.5× JetStream's throughput; p50 ≤ 1 ms.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { IpcClient } from '../cli/index.js'
import { generateSwarmKey } from '../mesh/index.js'
import { LP_ECHO } from './a2a-peer.js'
import { startJetStream, type JetStreamBaseline } from './jetstream.js'
import { libp2pNode } from './mesh-peer.js'
import { median, percentile, processCpuMs, row, startDaemon, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const PEER = new URL('./a2a-peer.js', import.meta.url).pathname
const MESSAGES = 10_000
const WARMUP = 500
const BODY_BYTES = 1024
const WINDOW = 256
const RUNS = 3
const LATENCY_N = 300
const SEND_CONNECTIONS = 4
const SENDS_PER_CONNECTION = 48

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function sovSync (home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [SOV, '--home', home, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`sov ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

async function firstLine (child: ChildProcess, match: RegExp): Promise<RegExpExecArray> {
  const lines = createInterface({ input: child.stdout! })
  for await (const line of lines) {
    const m = match.exec(line)
    if (m !== null) return m
  }
  throw new Error(`process exited before printing ${match}`)
}

function message (tag: string): Record<string, unknown> {
  return { messageId: tag, role: 'ROLE_USER', parts: [{ text: 'x'.repeat(BODY_BYTES) }] }
}

async function delivered (c: IpcClient): Promise<number> {
  return (await c.request('status', {})).outbox.delivered
}

async function a2aThroughput (clients: IpcClient[], peer: string, n: number, tag: string): Promise<number> {
  const before = await delivered(clients[0])
  let next = 0
  const t = performance.now()
  await Promise.all(clients.flatMap(c => Array.from({ length: SENDS_PER_CONNECTION }, async () => {
    while (next < n) {
      const i = next++
      await c.request('a2a.send', { peer, mailbox: 'bench', message: message(`${tag}-${i}`), ttlMs: 600_000 })
    }
  })))
  while (await delivered(clients[0]) - before < n) await sleep(2)
  return n / ((performance.now() - t) / 1000)
}

async function bareThroughput (lp: ReturnType<typeof lpStream>, n: number): Promise<number> {
  const frame = randomBytes(BODY_BYTES)
  let sent = 0
  let got = 0
  let wake: (() => void) | undefined
  const t = performance.now()
  const reader = (async () => {
    while (got < n) { await lp.read(); got++; wake?.() }
  })()
  while (sent < n) {
    const room = Math.min(WINDOW - (sent - got), n - sent)
    if (room <= 0) { await new Promise<void>(resolve => { wake = resolve }); wake = undefined; continue }
    await lp.writeV(Array.from({ length: room }, () => frame))
    sent += room
  }
  await reader
  return n / ((performance.now() - t) / 1000)
}

export async function run (): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'sov-bench-a2a-'))
  const [homeA, homeB] = [join(root, 'a'), join(root, 'b')]
  const children: ChildProcess[] = []
  const clients: IpcClient[] = []
  let bare: Awaited<ReturnType<typeof libp2pNode>> | undefined
  let js: JetStreamBaseline | undefined
  try {
    sovSync(homeB, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])
    const b = await startDaemon(homeB)
    children.push(b.child)
    sovSync(homeA, ['init', '--listen', '/ip4/127.0.0.1/tcp/0', '--swarm-key', join(homeB, 'swarm.key'), '--bootstrap', b.addr])
    const a = await startDaemon(homeA)
    children.push(a.child)
    sovSync(homeB, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', '*'])

    const key = generateSwarmKey()
    const peer = spawn(process.execPath, [PEER, Buffer.from(key).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(peer)
    const peerAddr = (await firstLine(peer, /^(\/ip4\/\S+)$/))[1]
    bare = await libp2pNode('psk', key, false)
    const lp = lpStream(await bare.dialProtocol(multiaddr(peerAddr), LP_ECHO), { maxDataLength: 2 * 1024 * 1024 })

    for (let i = 0; i < SEND_CONNECTIONS; i++) clients.push(await IpcClient.open(homeA))
    const consumer = await IpcClient.open(homeB)
    clients.push(consumer)

    const started = await startJetStream()
    if (!('skipped' in started)) js = started
    await a2aThroughput(clients.slice(0, SEND_CONNECTIONS), b.peerId, WARMUP, 'warm')
    await bareThroughput(lp, WARMUP)
    await js?.throughput(WARMUP, WINDOW)
    const a2aRates: number[] = []
    const bareRates: number[] = []
    const jsRates: number[] = []
    // Candidate and baselines alternate, so each sees the same noise.
    const cpu = { a: 0, b: 0 }
    for (let r = 0; r < RUNS; r++) {
      bareRates.push(await bareThroughput(lp, MESSAGES))
      const [a0, b0] = [processCpuMs(a.child.pid!), processCpuMs(b.child.pid!)]
      a2aRates.push(await a2aThroughput(clients.slice(0, SEND_CONNECTIONS), b.peerId, MESSAGES, `run${r}`))
      cpu.a += processCpuMs(a.child.pid!) - a0
      cpu.b += processCpuMs(b.child.pid!) - b0
      if (js !== undefined) jsRates.push(await js.throughput(MESSAGES, WINDOW))
    }
    // Where the CPU goes, per message (both daemons, all threads; the sender polls its status too).
    const perMsgUs = (ms: number): string => (ms * 1000 / (RUNS * MESSAGES)).toFixed(0)

    const a2aMs: number[] = []
    const bareMs: number[] = []
    const jsMs: number[] = []
    const frame = randomBytes(BODY_BYTES)
    for (let i = 0; i < LATENCY_N + 20; i++) {
      const waiting = consumer.request('a2a.receive', { mailbox: 'lat', max: 1, waitMs: 10_000, leaseMs: 60_000 }, 20_000)
      const t = performance.now()
      await clients[0].request('a2a.send', { peer: b.peerId, mailbox: 'lat', message: message(`lat-${i}`) })
      const got = await waiting as any[]
      const ms = performance.now() - t
      if (got.length !== 1) throw new Error('latency message did not arrive')
      await consumer.request('a2a.ack', { mailbox: 'lat', leases: [got[0].lease] })
      const tb = performance.now()
      await lp.write(frame)
      await lp.read()
      const bms = performance.now() - tb
      const jms = await js?.latencyMs()
      if (i >= 20) { a2aMs.push(ms); bareMs.push(bms); if (jms !== undefined) jsMs.push(jms) }
    }

    const note = `durable 1 KiB A2A messages between two daemons (send over ${SEND_CONNECTIONS} IPC connections → receiver commit → sender settled), median of ${RUNS}×${MESSAGES}; CPU per message: sender daemon ${perMsgUs(cpu.a)} µs, receiver daemon ${perMsgUs(cpu.b)} µs`
    return [
      row('a2a.throughput', median(a2aRates), 'msg/s', median(bareRates), `${note} vs bare lpStream pipelined 1 KiB request/response (window ${WINDOW}) on PSK+Noise+Yamux (target ≥ 0.5×)`),
      row('a2a.latency.p50', percentile(a2aMs, 50), 'ms', percentile(bareMs, 50), `send → consumer-visible, one at a time, n=${LATENCY_N}, vs one bare 1 KiB round trip (target ≤ 3 ms)`),
      row('a2a.latency.p99', percentile(a2aMs, 99), 'ms', percentile(bareMs, 99), `as above, 99th percentile (target ≤ 15 ms)`),
      ...(js === undefined
        ? [row('a2a.vs-jetstream.throughput', median(a2aRates), 'msg/s', null, (started as { skipped: string }).skipped)]
        : [
            row('a2a.vs-jetstream.throughput', median(a2aRates), 'msg/s', median(jsRates),
              `a2a.throughput vs ${js.version} -js, file storage, 1 KiB publishes acked by the server (window ${WINDOW}), median of ${RUNS}×${MESSAGES}; JetStream fsyncs every 2 min, we commit each accept to SQLite WAL (target ≥ 0.5×)`),
            row('a2a.vs-jetstream.p50', percentile(a2aMs, 50), 'ms', percentile(jsMs, 50),
              `a2a.latency.p50 vs one JetStream publish → pull consumer holds it (explicit ack), n=${LATENCY_N} (target ≤ 1 ms); JetStream p99 ${percentile(jsMs, 99).toFixed(2)} ms vs ours ${percentile(a2aMs, 99).toFixed(2)} ms (target ≤ 5 ms)`)
          ])
    ]
  } finally {
    for (const c of clients) c.close()
    await bare?.stop()
    await js?.stop()
    await Promise.all(children.map(async c => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise(resolve => c.once('exit', resolve))
      c.kill('SIGTERM')
      await exited
    }))
    rmSync(root, { recursive: true, force: true })
  }
}
