/**
 * Starting a long-lived `sov` process in the background (the daemon, the devnet): spawn
 * `sov ARGS…` detached with its output appended to a log file, then poll until it answers or
 * dies — a death reports the log's last lines instead of a bare timeout.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SovError, isErrorCode, timeout, unavailable } from '../protocol/index.js'

/** Set for a background child: its log lines carry an ISO timestamp (the log is append-only). */
export const LOG_TIMESTAMPS_ENV = 'SOV_LOG_TIMESTAMPS'

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
  let log: number
  try {
    log = openSync(opts.logPath, 'a', 0o600)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error'
    const fix = code === 'EROFS' ? 'the file system is read-only; the home must be writable' : code === 'ENOSPC' ? 'the disk is full; free some space' : 'check the home\'s owner and mode'
    throw unavailable(`Cannot start ${opts.what}: cannot write its log "${opts.logPath}" (${code}); ${fix}`, { cause })
  }
  // Only this run's lines explain this run's failure: remember where it starts (issue 14).
  const runStart = statSync(opts.logPath).size
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), main, ...opts.args], {
    detached: true, stdio: ['ignore', log, log], env: { ...process.env, [LOG_TIMESTAMPS_ENV]: '1' }
  })
  closeSync(log)
  let exited: number | null | undefined
  child.once('exit', code => { exited = code })
  child.unref()
  const until = Date.now() + opts.timeoutMs
  for (;;) {
    if (exited !== undefined) throw startFailure(opts, exited, runStart)
    const answer = await opts.probe(child.pid!).catch(() => undefined)
    if (answer !== undefined) return answer
    if (Date.now() > until) throw timeout(`Cannot start ${opts.what}: no answer within ${opts.timeoutMs} ms; see ${opts.logPath}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/**
 * The child's own error, with its code (so the exit status is the one a foreground start gives,
 * 2 for a bad config), from this run's part of the log only.
 */
function startFailure (opts: BackgroundOptions<unknown>, exited: number | null, runStart: number): SovError {
  const fd = openSync(opts.logPath, 'r')
  let text = ''
  try {
    const size = statSync(opts.logPath).size - runStart
    const buf = Buffer.alloc(Math.max(0, Math.min(size, 64 * 1024)))
    readSync(fd, buf, 0, buf.length, Math.max(runStart, runStart + size - buf.length))
    text = buf.toString('utf8')
  } finally { closeSync(fd) }
  const lines = text.trim().split('\n').filter(Boolean)
  const err = [...lines].reverse().map(l => /error\[([A-Z_]+)\]: (.*)$/.exec(l)).find(m => m !== null)
  if (err != null && isErrorCode(err[1])) return new SovError(err[1], `Cannot start ${opts.what}: ${err[2]} (${opts.what} exited with code ${String(exited)}; log: ${opts.logPath})`)
  return unavailable(`Cannot start ${opts.what}: it exited with code ${String(exited)}; this run's log (${opts.logPath}):\n${lines.slice(-5).join('\n')}`)
}
