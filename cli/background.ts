/**
 * Starting a long-lived `sov` process in the background (the daemon, the devnet): spawn
 * `sov ARGS…` detached with its output appended to a log file, then poll until it answers or
 * dies — a death reports the log's last lines instead of a bare timeout.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { timeout, unavailable } from '../protocol/index.js'

const POLL_MS = 100

export interface BackgroundOptions<T> {
  /** What it is, for messages: "the daemon", "the devnet". */
  what: string
  /** `sov` arguments (without the program). */
  args: string[]
  /** Options for `node` itself, before the program (e.g. V8 heap flags). */
  nodeFlags?: string[]
  logPath: string
  timeoutMs: number
  /** Resolves with the process's answer once it serves (given its pid), else undefined. */
  probe: (pid: number) => Promise<T | undefined>
}

export async function startInBackground<T> (opts: BackgroundOptions<T>): Promise<T> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url))
  const log = openSync(opts.logPath, 'a', 0o600)
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), main, ...opts.args], { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  let exited: number | null | undefined
  child.once('exit', code => { exited = code })
  child.unref()
  const until = Date.now() + opts.timeoutMs
  for (;;) {
    if (exited !== undefined) {
      const tail = readFileSync(opts.logPath, 'utf8').trim().split('\n').slice(-5).join('\n')
      throw unavailable(`Cannot start ${opts.what}: it exited with code ${String(exited)}; see ${opts.logPath}:\n${tail}`)
    }
    const answer = await opts.probe(child.pid!).catch(() => undefined)
    if (answer !== undefined) return answer
    if (Date.now() > until) throw timeout(`Cannot start ${opts.what}: no answer within ${opts.timeoutMs} ms; see ${opts.logPath}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
