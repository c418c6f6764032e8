/**
 * Mesh benchmarks, every stack side by side in one run, the far end in its own process:
 * `mesh.bulk` (one 256 MiB stream), `mesh.rr` (1 KiB request/response, sequential and
 * pipelined), `mesh.dial` (connection setup, PSK vs none), `mesh.mismatch` (time until a
 * wrong-key dial fails, ours vs stock pnet). Each figure is the median of several runs.
 */
import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import type { Libp2p, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { generateSwarmKey } from '../mesh/index.js'
import { ECHO, SINK, libp2pNode, type Stack } from './mesh-peer.js'
import { median, row, type BenchResult } from './kit.js'

const BULK_BYTES = 256 * 2 ** 20
const CHUNK = randomBytes(64 * 1024)
const RR_COUNT = 2000
const PIPELINE_WINDOW = 32
/** Runs per figure; bulk runs alternate between stacks so drift hits every stack alike. */
const RUNS = 3
const BULK_RUNS = 7
const MiB = 2 ** 20

/** A byte pipe over a raw socket or a libp2p stream, with back-pressure on send. */
interface Pipe { send: (b: Uint8Array) => Promise<void>, onData: (cb: (n: number) => void) => void, end: () => Promise<void>, reply: () => Promise<string> }

function socketPipe (s: Socket): Pipe {
  let text = ''
  let ended: Promise<void> | undefined
  return {
    send: async b => { if (!s.write(b)) await new Promise(resolve => s.once('drain', resolve)) },
    onData: cb => { s.on('data', d => { text += d.length < 32 ? d.toString() : ''; cb(d.length) }) },
    end: async () => { s.end() },
    reply: async () => { ended ??= new Promise(resolve => s.once('end', resolve)); await ended; return text }
  }
}

function streamPipe (st: Stream): Pipe {
  let text = ''
  const closed = new Promise<void>(resolve => st.addEventListener('close', () => { resolve() }, { once: true }))
  return {
    send: async b => {
      if (!st.send(b)) {
        await new Promise<void>((resolve, reject) => {
          st.addEventListener('drain', () => { resolve() }, { once: true })
          st.addEventListener('close', evt => { reject((evt as any).error ?? new Error('stream closed')) }, { once: true })
        })
      }
    },
    onData: cb => { st.addEventListener('message', evt => { const d = evt.data.subarray(); if (d.byteLength < 32) text += Buffer.from(d).toString(); cb(d.byteLength) }) },
    end: async () => { await st.close() },
    reply: async () => { await closed; return text }
  }
}

async function open (stack: Stack | 'raw', addrs: Record<string, string>, clients: Record<string, Libp2p>, proto: string): Promise<Pipe> {
  if (stack === 'raw') {
    const port = Number(proto === SINK ? addrs.rawSink : addrs.rawEcho)
    const s = connect(port, '127.0.0.1')
    await new Promise(resolve => s.once('connect', resolve))
    s.setNoDelay(true)
    return socketPipe(s)
  }
  return streamPipe(await clients[stack].dialProtocol(multiaddr(addrs[stack]), proto))
}

/** MiB/s for one 256 MiB stream, or the MiB reached when the stack broke. */
async function bulk (pipe: Pipe): Promise<{ mibs: number, reached: number, error?: string }> {
  let sent = 0
  pipe.onData(() => {})
  const t = performance.now()
  try {
    while (sent < BULK_BYTES) { await pipe.send(CHUNK); sent += CHUNK.length }
    await pipe.end()
    const got = Number(await pipe.reply())
    if (got !== BULK_BYTES) throw new Error(`far end counted ${got} bytes`)
  } catch (err) {
    return { mibs: NaN, reached: sent / MiB, error: (err as Error).message }
  }
  return { mibs: BULK_BYTES / MiB / ((performance.now() - t) / 1000), reached: sent / MiB }
}

/** Requests/s of 1 KiB echoes with `window` requests in flight (1 = sequential). */
async function rr (pipe: Pipe, window: number): Promise<number> {
  const req = randomBytes(1024)
  let received = 0
  let sent = 0
  let wake: (() => void) | undefined
  pipe.onData(n => { received += n; wake?.() })
  const t = performance.now()
  while (received < RR_COUNT * 1024) {
    while (sent < RR_COUNT && sent - Math.floor(received / 1024) < window) { await pipe.send(req); sent++ }
    await new Promise<void>(resolve => { wake = resolve })
  }
  const rate = RR_COUNT / ((performance.now() - t) / 1000)
  await pipe.end()
  return rate
}

async function dialMs (client: Libp2p, addr: string, runs: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    try {
      const conn = await client.dial(multiaddr(addr), { force: true, signal: AbortSignal.timeout(10_000) } as any)
      out.push(performance.now() - t)
      await conn.close()
    } catch {
      out.push(performance.now() - t)
    }
  }
  return out
}

export async function run (): Promise<BenchResult[]> {
  const key = generateSwarmKey()
  const peer = spawn(process.execPath, [new URL('./mesh-peer.js', import.meta.url).pathname, Buffer.from(key).toString('hex'), Buffer.from(generateSwarmKey()).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'] })
  const clients: Record<string, Libp2p> = {}
  try {
    const line = await new Promise<string>(resolve => createInterface({ input: peer.stdout! }).once('line', resolve))
    const addrs = JSON.parse(line) as Record<string, string>
    for (const stack of ['noise', 'psk', 'pnet'] as const) clients[stack] = await libp2pNode(stack, key, false)
    const stacks = ['raw', 'noise', 'psk', 'pnet'] as const

    const bulkRate: Record<string, number[]> = {}
    const pnetReached: number[] = []
    let pnetError: string | undefined
    for (let r = 0; r < BULK_RUNS; r++) {
      for (const s of stacks) {
        const res = await bulk(await open(s, addrs, clients, SINK))
        if (s === 'pnet' && res.error !== undefined) { pnetReached.push(res.reached); pnetError = res.error; continue }
        ;(bulkRate[s] ??= []).push(res.mibs)
      }
    }
    const rrSeq: Record<string, number[]> = {}
    const rrPipe: Record<string, number[]> = {}
    for (let r = 0; r < RUNS; r++) {
      for (const s of stacks) {
        (rrSeq[s] ??= []).push(await rr(await open(s, addrs, clients, ECHO), 1))
        ;(rrPipe[s] ??= []).push(await rr(await open(s, addrs, clients, ECHO), PIPELINE_WINDOW))
      }
    }
    const dialPsk = median(await dialMs(clients.psk, addrs.psk, 40))
    const dialNoise = median(await dialMs(clients.noise, addrs.noise, 40))
    const mismatchPsk = await dialMs(clients.psk, addrs['psk-wrong'], 10)
    const mismatchPnet = await dialMs(clients.pnet, addrs['pnet-wrong'], 6)

    const m = (xs: number[] | undefined): number => xs === undefined || xs.length === 0 ? NaN : median(xs)
    const pnetBulk = m(bulkRate.pnet)
    const pnetNote = pnetReached.length > 0
      ? `stock pnet FAILED in ${pnetReached.length}/${BULK_RUNS} runs after ~${m(pnetReached).toFixed(0)} MiB (${pnetError ?? ''}); rate shown is of runs that finished`
      : 'stock pnet finished every run'
    const rrRows = (name: string, data: Record<string, number[]>): BenchResult[] => [
      row(`${name}.raw`, m(data.raw), 'req/s', null, 'raw TCP echo'),
      row(`${name}.noise`, m(data.noise), 'req/s', m(data.raw), 'Noise+Yamux vs raw TCP'),
      row(`${name}.psk`, m(data.psk), 'req/s', m(data.noise), 'our PSK+Noise+Yamux vs Noise+Yamux'),
      row(`${name}.pnet`, m(data.pnet), 'req/s', m(data.noise), 'stock pnet+Noise+Yamux vs Noise+Yamux')
    ]
    return [
      row('mesh.bulk.raw', m(bulkRate.raw), 'MiB/s', null, `one ${BULK_BYTES / MiB} MiB stream over raw TCP`),
      row('mesh.bulk.noise', m(bulkRate.noise), 'MiB/s', m(bulkRate.raw), 'Noise+Yamux vs raw TCP'),
      row('mesh.bulk.psk', m(bulkRate.psk), 'MiB/s', m(bulkRate.noise), 'our PSK+Noise+Yamux vs Noise+Yamux (target ≥ 0.85×)'),
      row('mesh.bulk.psk-vs-pnet', m(bulkRate.psk), 'MiB/s', pnetBulk, `ours vs stock pnet (target ≥ 1.5×); ${pnetNote}`),
      row('mesh.bulk.pnet-reached', pnetReached.length > 0 ? m(pnetReached) : BULK_BYTES / MiB, 'MiB', BULK_BYTES / MiB, pnetNote),
      ...rrRows('mesh.rr.seq', rrSeq),
      ...rrRows(`mesh.rr.pipe${PIPELINE_WINDOW}`, rrPipe),
      row('mesh.dial.psk', dialPsk, 'ms', dialNoise, `connection setup with PSK vs without (target: within 1 ms; Δ ${(dialPsk - dialNoise).toFixed(2)} ms)`),
      row('mesh.mismatch.psk', median(mismatchPsk), 'ms', median(mismatchPnet), `wrong-key dial until failure, ours vs stock pnet (target < 100 ms); stock: ${mismatchPnet.filter(x => x > 1000).length}/${mismatchPnet.length} dials took > 1 s, max ${Math.max(...mismatchPnet).toFixed(0)} ms`)
    ]
  } finally {
    await Promise.all(Object.values(clients).map(async c => await c.stop()))
    peer.kill('SIGTERM')
  }
}
