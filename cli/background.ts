/**
 * Starting a long-lived `sov` process in the background (the daemon, the devnet): spawn
 * `sov ARGS…` detached with its output appended to a log file, then poll until it answers or
 * dies — a death reports the log's last lines instead of a bare timeout.
 */
import { spawn } from 'node:child_process'
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SovError, isErrorCode, timeout, unavailable, type ErrorCode } from '../protocol/index.js'

const POLL_MS = 100

export interface BackgroundOptions<T> {
  /** What it is, for messages: "the daemon", "the devnet". */
  what: string
  /** `sov` arguments (without the program). */
  args: string[]
  logPath: string
  timeoutMs: number
  /** Resolves with the process's answer once it serves (given its pid), else undefined. */
  probe: (pid: number) => Promise<T | undefined>
}

export async function startInBackground<T> (opts: BackgroundOptions<T>): Promise<T> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url))
  let log: number
  try {
    log = openSync(opts.logPath, 'a', 0o600)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error'
    const fix = code === 'EROFS' ? 'the file system is read-only; the home must be writable' : code === 'ENOSPC' ? 'the disk is full; free some space' : 'check the home\'s owner and mode'
    throw unavailable(`Cannot start ${opts.what}: cannot write its log "${opts.logPath}" (${code}); ${fix}`, { cause })
  }
  // Only what this child writes is reported (the log keeps earlier runs).
  const from = fstatSync(log).size
  const child = spawn(process.execPath, [main, ...opts.args], { detached: true, stdio: ['ignore', log, log] })
  closeSync(log)
  let exited: number | null | undefined
  child.once('exit', code => { exited = code })
  child.unref()
  const until = Date.now() + opts.timeoutMs
  for (;;) {
    if (exited !== undefined) {
      const lines = readFileSync(opts.logPath).subarray(from).toString('utf8').trim().split('\n')
      // The child's own `error[CODE]: …` line is the answer: same code, same words.
      const said = lines.map(l => /^error\[([A-Z_]+)\]: (.*)$/.exec(l)).findLast(m => m !== null && isErrorCode(m[1]))
      if (said != null) throw new SovError(said[1] as ErrorCode, `${said[2]} (${opts.what} exited with code ${String(exited)}; log: ${opts.logPath})`)
      throw unavailable(`Cannot start ${opts.what}: it exited with code ${String(exited)}; see ${opts.logPath}:\n${lines.slice(-5).join('\n')}`)
    }
    const answer = await opts.probe(child.pid!).catch(() => undefined)
    if (answer !== undefined) return answer
    if (Date.now() > until) throw timeout(`Cannot start ${opts.what}: no answer within ${opts.timeoutMs} ms; see ${opts.logPath}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
