/**
 * How the CLI speaks (DESIGN §4): with `--json` exactly one JSON document on stdout; otherwise
 * human text. Errors go to stderr as `error[CODE]: message` (or `{"error":{…}}` with `--json`)
 * and set the exit code for the error's kind.
 */
import { badRequest, exitCodeFor, toSovError, type SovError } from '../protocol/index.js'

export interface GlobalOptions { home?: string, json?: boolean }

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text safe to print on a terminal: control characters other than newline and tab (ESC, CR,
 * BEL, C1…) and bidirectional overrides are shown as `\u{1b}`. Human output carries text from
 * other machines (cards, messages, refusal reasons), and an escape sequence in it could clear
 * the screen, retitle the window or forge lines (helper finding, stop 26). `--json` output is
 * JSON, escaped by the encoder.
 */
export function printable (text: string): string {
  return text.replace(UNPRINTABLE, c => `\\u{${c.codePointAt(0)!.toString(16)}}`)
}

/** `printable` for a field shown on one line of a table: newlines and tabs escaped too. */
export function oneLine (text: string): string {
  return text.replace(/[\n\t]/g, c => `\\u{${c.codePointAt(0)!.toString(16)}}`)
}

/** Prints a command's result: `human` renders it as text unless `--json` was given. */
export function emit<T> (opts: GlobalOptions, result: T, human: (r: T) => string): void {
  if (opts.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else {
    const text = printable(human(result))
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}

/** Reports an error and sets the exit code; returns the code for callers that exit at once. */
export function reportError (opts: GlobalOptions, err: unknown): number {
  const e: SovError = toSovError(err)
  // DESIGN §4: with --json the failure is the one document on stdout, with the same exit status.
  if (opts.json === true) process.stdout.write(JSON.stringify({ error: e.toJSON() }) + '\n')
  else process.stderr.write(`${process.env.SOV_LOG_TIMESTAMPS === '1' ? new Date().toISOString() + ' ' : ''}error[${e.code}]: ${printable(e.message)}\n`)
  if (process.env.SOV_DEBUG === '1' && e.cause !== undefined) console.error(e.cause)
  const code = exitCodeFor(e.code)
  process.exitCode = code
  return code
}

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Parses durations such as `30s`, `10m`, `24h`, `7d`, `250ms` (a bare number is seconds) to ms. */
export function parseDuration (text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) throw badRequest(`Cannot parse duration "${text}": use e.g. 250ms, 30s, 10m, 24h, 7d`)
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 's') as 'ms'])
}

/** `300000` → `5m`, `604800000` → `7d`: a duration in the largest unit that divides it. */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`
  return `${ms}ms`
}

/**
 * A duration flag checked against its allowed range, in the user's units and with the flag's
 * name (issue 14: never the daemon's `waitMs: Expected <=300000`). Returns milliseconds.
 */
export function durationFlag (flag: string, text: string, range: { min: number, max: number }): number {
  let ms: number
  try { ms = parseDuration(text) } catch {
    throw badRequest(`Cannot use ${flag} "${text}": not a duration; use e.g. 250ms, 30s, 10m, 24h, 7d`)
  }
  if (!Number.isFinite(ms) || ms < range.min || ms > range.max) {
    throw badRequest(`Cannot use ${flag} "${text}": out of range; use ${formatDuration(range.min)} to ${formatDuration(range.max)}`)
  }
  return ms
}

/** A whole-number flag (`--max 5abc` is refused, not read as 5), within `min`..`max`. */
export function intFlag (flag: string, text: string, range: { min: number, max: number }): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw badRequest(`Cannot use ${flag} "${text}": use a whole number from ${range.min} to ${range.max}`)
  }
  return n
}
