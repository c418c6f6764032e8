/** Shared pieces of the benchmarks: the result row, small statistics helpers, a daemon to measure. */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** The built `sov` CLI. */
export const SOV_CLI = new URL('../cli/main.js', import.meta.url).pathname

/** One row of `bench/results/latest.json`; `ratio` = value / baseline (null without baseline). */
export interface BenchResult {
  name: string
  value: number
  unit: string
  baseline: number | null
  ratio: number | null
  /** What the baseline is and anything a reader must know (failures, targets). */
  note?: string
}

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function percentile (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

export function row (name: string, value: number, unit: string, baseline: number | null, note?: string): BenchResult {
  const ratio = baseline === null || baseline === 0 ? null : value / baseline
  return { name, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: ratio === null ? null : round(ratio), note }
}

function round (n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(4)) : n
}

/**
 * Starts `sov node start --foreground` on an initialised `home` and resolves once it listens, with
 * its PeerId and first listen address; the caller ends `child` (SIGTERM: a profile is written on
 * the way out). With `SOV_BENCH_CPU_PROF=DIR` in the environment each daemon writes a V8 CPU
 * profile into DIR, for finding where a figure's time goes (issue 15 §2).
 */
export async function startDaemon (home: string): Promise<{ child: ChildProcess, peerId: string, addr: string }> {
  const profile = process.env.SOV_BENCH_CPU_PROF
  const flags = profile === undefined || profile === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]
  const child = spawn(process.execPath, [...flags, SOV_CLI, '--home', home, 'node', 'start', '--foreground'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let peerId = ''
  for await (const line of createInterface({ input: child.stdout! })) {
    const id = /PeerId: (\S+)/.exec(line)
    if (id !== null) peerId = id[1]
    const addr = /Listening on (\S+)/.exec(line)
    if (addr !== null) return { child, peerId, addr: addr[1] }
  }
  throw new Error(`daemon in ${home} exited early`)
}

/** CPU time (user + system, all threads) a process has used so far, in ms; NaN where `/proc` is missing. Clock-tick resolution (10 ms): use over long runs. */
export function processCpuMs (pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

