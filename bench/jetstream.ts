/**
 * The NATS JetStream baseline of the A2A benchmarks (issue 15): what people run instead of
 * Sovereign for durable agent messaging. Debian's `nats-server -js` (file storage) is started by
 * the bench on 127.0.0.1 with its store in a temp dir, and driven with `@nats-io/jetstream`:
 * 1 KiB messages, publishes acknowledged by the server (window 256) for throughput, one at a time
 * through a pull consumer with explicit acks for latency.
 *
 * What each side makes durable: JetStream acknowledges a publish once it is written to the OS
 * (file store; fsync every `sync_interval`, 2 min by default); Sovereign answers `accepted` once
 * the envelope is committed to SQLite in WAL mode on the receiver.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { connect } from '@nats-io/transport-node'
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JsMsg } from '@nats-io/jetstream'

const SUBJECT = 'bench.a2a'
const START_TIMEOUT_MS = 10_000

export interface JetStreamBaseline {
  /** Acknowledged publishes per second, `window` in flight. */
  throughput: (n: number, window: number) => Promise<number>
  /** Milliseconds from publish until the waiting consumer holds the message (then acked). */
  latencyMs: () => Promise<number>
  version: string
  stop: () => Promise<void>
}

/** Starts the server and a client, or returns why it cannot (no `nats-server` installed). */
export async function startJetStream (): Promise<JetStreamBaseline | { skipped: string }> {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) {
    return { skipped: 'skipped: no `nats-server` on PATH (Debian: `apt-get install nats-server`)' }
  }
  const store = mkdtempSync(join(tmpdir(), 'sov-bench-nats-'))
  const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] })
  const cleanup = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise(resolve => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited
    }
    rmSync(store, { recursive: true, force: true })
  }
  try {
    const port = await listeningPort(server)
    const nc = await connect({ servers: `127.0.0.1:${port}` })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'] })
    await jsm.consumers.add('BENCH', { durable_name: 'lat', ack_policy: AckPolicy.Explicit, filter_subject: SUBJECT })
    const js = jetstream(nc)
    const messages = await (await js.consumers.get('BENCH', 'lat')).consume({ max_messages: 1 })
    // One iterator for the whole run: a consumer's messages can be iterated only once.
    const received = messages[Symbol.asyncIterator]()
    const body = new Uint8Array(1024).fill(120)
    return {
      version: probe.stdout.trim(),
      throughput: async (n, window) => await publishRate(js, body, n, window),
      latencyMs: async () => await oneLatency(js, received, body),
      stop: async () => {
        messages.stop()
        await nc.close()
        await cleanup()
      }
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}

async function listeningPort (server: ChildProcess): Promise<number> {
  const timer = setTimeout(() => server.kill('SIGKILL'), START_TIMEOUT_MS)
  try {
    for await (const line of createInterface({ input: server.stderr! })) {
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(line)
      if (m !== null) return Number(m[1])
    }
  } finally {
    clearTimeout(timer)
  }
  throw new Error('nats-server exited before it listened')
}

async function publishRate (js: JetStreamClient, body: Uint8Array, n: number, window: number): Promise<number> {
  let next = 0
  const t = performance.now()
  await Promise.all(Array.from({ length: window }, async () => {
    while (next < n) {
      next++
      await js.publish('bench.tp', body)
    }
  }))
  return n / ((performance.now() - t) / 1000)
}

async function oneLatency (js: JetStreamClient, received: AsyncIterator<JsMsg>, body: Uint8Array): Promise<number> {
  const t = performance.now()
  const [, got] = await Promise.all([js.publish(SUBJECT, body), received.next()])
  const ms = performance.now() - t
  if (got.done === true) throw new Error('JetStream consumer ended')
  got.value.ack()
  return ms
}
