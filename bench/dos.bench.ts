/**
 * Cheap-DoS figures (issue 10 §3) against one daemon process (the built `sov`, default settings,
 * loopback): audit rows a hostile member without a grant makes the node write per second while
 * it opens `/sov/a2a/1.0.0` streams as fast as it can for 10 s (target ≤ 10/s), and the time a
 * member needs to connect while 1,000 silent TCP sockets (no swarm key) are held against the
 * node from four loopback addresses (target ≤ 3 s; median of 3).
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createMeshNode, parseSwarmKey, type MeshNode } from '../mesh/index.js'
import { median, row, startDaemon, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const HOSTILE_S = 10
const SILENT_SOCKETS = 1000

async function initAndStart (home: string): Promise<{ child: ChildProcess, peerId: string, addr: string, port: number }> {
  const init = spawnSync(process.execPath, [SOV, '--home', home, 'init', '--listen', '/ip4/127.0.0.1/tcp/0'], { encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`sov init: ${init.stderr}`)
  const started = await startDaemon(home)
  return { ...started, port: Number(/tcp\/(\d+)/.exec(started.addr)![1]) }
}

async function stopDaemon (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function member (home: string): Promise<MeshNode> {
  const { key } = parseSwarmKey(readFileSync(join(home, 'swarm.key')))
  return await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), swarmKey: key, listen: [] })
}

/** Streams opened by a member without a grant in `seconds`; each answered and dropped. */
async function hostile (node: MeshNode, target: string, seconds: number): Promise<number> {
  const peer = peerIdFromString(target)
  const env = new TextEncoder().encode(JSON.stringify({ v: 1, id: '00000000-0000-7000-8000-000000000000', mailbox: 'inbox', ts: Date.now(), ttl: 60_000, message: { messageId: 'x', role: 'ROLE_USER', parts: [{ text: 'x' }] } }))
  let n = 0
  const until = Date.now() + seconds * 1000
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < until) {
      try {
        const s = await node.dialProtocol(peer, '/sov/a2a/1.0.0', { signal: AbortSignal.timeout(5000) })
        const lp = lpStream(s)
        await lp.write(env).catch(() => {})
        await lp.read({ signal: AbortSignal.timeout(5000) }).catch(() => {})
        s.abort(new Error('next'))
        n++
      } catch { await new Promise(resolve => setTimeout(resolve, 10)) }
    }
  }))
  return n
}

function holdSilent (port: number, n: number): { stop: () => void } {
  const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
  const live = new Set<Socket>()
  let stopped = false
  const open = (i: number): void => {
    const s = connect({ host: '127.0.0.1', port, localAddress: hosts[i % hosts.length] })
    live.add(s)
    s.on('error', () => {})
    s.on('close', () => { live.delete(s) })
  }
  for (let i = 0; i < n; i++) open(i)
  const refill = setInterval(() => { if (!stopped) for (let i = live.size; i < n; i++) open(i) }, 1000)
  return { stop: () => { stopped = true; clearInterval(refill); for (const s of live) s.destroy() } }
}

export async function run (): Promise<BenchResult[]> {
  const home = mkdtempSync(join(tmpdir(), 'sov-bench-dos-'))
  const d = await initAndStart(home)
  try {
    const bad = await member(home)
    await bad.dial(multiaddr(d.addr))
    const t0 = Date.now()
    const streams = await hostile(bad, d.peerId, HOSTILE_S)
    const seconds = (Date.now() - t0) / 1000
    await bad.stop()

    const times: number[] = []
    const attack = holdSilent(d.port, SILENT_SOCKETS)
    try {
      await new Promise(resolve => setTimeout(resolve, 1000))
      for (let i = 0; i < 3; i++) {
        const m = await member(home)
        const started = Date.now()
        let ok = false
        while (!ok && Date.now() - started < 10_000) {
          try { await m.dial(multiaddr(d.addr), { signal: AbortSignal.timeout(10_000) }); ok = true } catch { await new Promise(resolve => setTimeout(resolve, 100)) }
        }
        times.push(ok ? Date.now() - started : Infinity)
        await m.stop()
      }
    } finally {
      attack.stop()
    }
    await stopDaemon(d.child)
    // Rows caused by the hostile peer (the open window is flushed at stop).
    const badId = `peer:${bad.peerId.toString()}`
    const rows = readFileSync(join(home, 'audit', 'events.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l)).filter(r => r.actor === badId)
    return [
      row('dos: audit rows/s by a member without a grant', rows.length / seconds, 'rows/s', null, `${streams} streams refused in ${seconds.toFixed(1)} s → ${rows.length} rows (counts sum ${rows.reduce((n, r) => n + (r.detail?.count ?? 1), 0)}); target ≤ 10`),
      row('dos: member connect time, 1,000 silent sockets held', median(times), 'ms', null, `median of 3 (${times.join(', ')} ms); target ≤ 3000`)
    ]
  } finally {
    await stopDaemon(d.child)
    rmSync(home, { recursive: true, force: true })
  }
}
