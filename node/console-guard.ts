/**
 * What libraries print with `console.*` in the daemon reaches daemon.log one line per call,
 * escaped, and at a bounded rate. The A2A SDK warns with text a client chose (`Reference task
 * <id> not found.` for each of a request's `referenceTaskIds`): raw, a token holder could forge
 * daemon.log lines, send terminal escapes to `--foreground`, and add 20,000 lines with one
 * request (helper finding, stop 33).
 *
 * Each call becomes one line: `util.format` of its arguments, control and bidi characters
 * escaped (`printable`), at most LINE_MAX_CHARS. At most LOG_BURST lines at once and LOG_PER_SECOND
 * a second after that; the next line that passes says how many were dropped.
 */
import { format } from 'node:util'
import { printable } from '../protocol/index.js'

/** Longest line kept, in UTF-16 units (a stack's first frames fit). */
export const LINE_MAX_CHARS = 2000
/** Lines that may go out at once. */
export const LOG_BURST = 100
/** Lines a second after the burst. */
export const LOG_PER_SECOND = 20

const METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const

/** Routes `console.*` through `write` (one line, no `\n`), escaped and rate-bounded. Once per process. */
export function guardConsole (write: (line: string) => void, now: () => number = Date.now): void {
  let tokens = LOG_BURST
  let last = now()
  let dropped = 0
  const emit = (...args: unknown[]): void => {
    const t = now()
    tokens = Math.min(LOG_BURST, tokens + (t - last) * LOG_PER_SECOND / 1000)
    last = t
    if (tokens < 1) { dropped++; return }
    tokens--
    if (dropped > 0) {
      write(`(${dropped} log line${dropped === 1 ? '' : 's'} dropped: more than ${LOG_PER_SECOND} a second)`)
      dropped = 0
    }
    write(printable(format(...args), LINE_MAX_CHARS))
  }
  for (const m of METHODS) console[m] = emit
}
