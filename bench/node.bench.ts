/**
 * The daemon's weight (issue 16): `node.rss.idle`, the resident memory of a daemon started as a
 * user starts it (`sov node start`, in the background), after it has idled, beside a bare
 * `node -e` process holding one TCP listener; and `node.rss.idle.x10`, ten such daemons on one
 * machine beside ten bare processes. Target: `node.rss.idle` ≤ 90 MiB. Linux only (/proc).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median, row, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const DAEMONS = 10
/** Long enough for V8's memory reducer to run its first idle GC (8 s after start on a quiet machine, 25 s on a busy one). */
const IDLE_MS = 30_000
const TARGET_MIB = 90
const BARE = "require('node:net').createServer().listen(0, '127.0.0.1', () => process.stdout.write('ready\\n'))"

function rssMiB (pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) / 1024
}

function sov (home: string, args: string[]): void {
  const r = spawnSync(process.execPath, [SOV, '--home', home, ...args], { encoding: 'utf8', timeout: 60_000 })
  if (r.status !== 0) throw new Error(`sov ${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`)
}

async function bare (): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', BARE], { stdio: ['ignore', 'pipe', 'ignore'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => { resolve() })
    child.once('exit', code => { reject(new Error(`bare listener exited ${String(code)}`)) })
  })
  return child
}

export async function run (): Promise<BenchResult[]> {
  if (!existsSync('/proc/self/status')) {
    return [row('node.rss.idle', NaN, 'MiB', null, 'skipped: needs Linux /proc to read VmRSS')]
  }
  const root = mkdtempSync(join(tmpdir(), 'sov-bench-rss-'))
  const homes = Array.from({ length: DAEMONS }, (_, i) => join(root, `n${i}`))
  const bares: ChildProcess[] = []
  const started: string[] = []
  try {
    for (const home of homes) {
      sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])
      sov(home, ['node', 'start'])
      started.push(home)
    }
    for (let i = 0; i < DAEMONS; i++) bares.push(await bare())
    await new Promise(resolve => setTimeout(resolve, IDLE_MS))
    const daemons = homes.map(h => rssMiB(Number(readFileSync(join(h, 'daemon.pid'), 'utf8'))))
    const baseline = bares.map(c => rssMiB(c.pid!))
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
    const one = median(daemons)
    return [
      row('node.rss.idle', one, 'MiB', median(baseline),
        `median of ${DAEMONS} idle daemons (\`sov node start\`, ${IDLE_MS / 1000} s idle) vs a bare \`node -e\` TCP listener; target ≤ ${TARGET_MIB} MiB: ${one <= TARGET_MIB ? 'met' : 'NOT met'}`),
      row('node.rss.idle.x10', sum(daemons), 'MiB', sum(baseline),
        `${DAEMONS} idle daemons on one machine vs ${DAEMONS} bare listeners (RSS counts the shared node binary in each)`)
    ]
  } finally {
    for (const c of bares) c.kill()
    for (const home of started) {
      try { sov(home, ['node', 'stop']) } catch { /* reported by the rows above, or already gone */ }
    }
    rmSync(root, { recursive: true, force: true })
  }
}
