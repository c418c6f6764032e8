/**
 * How the CLI speaks (DESIGN §4): with `--json` exactly one JSON document on stdout; otherwise
 * human text. Errors go to stderr as `error[CODE]: message` (or `{"error":{…}}` with `--json`)
 * and set the exit code for the error's kind.
 */
import { badRequest, exitCodeFor, toSovError, type SovError } from '../protocol/index.js'

export interface GlobalOptions { home?: string, json?: boolean }

/** Prints a command's result: `human` renders it as text unless `--json` was given. */
export function emit<T> (opts: GlobalOptions, result: T, human: (r: T) => string): void {
  if (opts.json === true) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  else {
    const text = human(result)
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}

/** Reports an error and sets the exit code; returns the code for callers that exit at once. */
export function reportError (opts: GlobalOptions, err: unknown): number {
  const e: SovError = toSovError(err)
  if (opts.json === true) process.stderr.write(JSON.stringify({ error: e.toJSON() }) + '\n')
  else process.stderr.write(`error[${e.code}]: ${e.message}\n`)
  if (process.env.SOV_DEBUG === '1' && e.cause !== undefined) console.error(e.cause)
  const code = exitCodeFor(e.code)
  process.exitCode = code
  return code
}

/** Parses durations such as `30s`, `10m`, `24h`, `7d`, `250ms` (a bare number is seconds) to ms. */
export function parseDuration (text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) throw badRequest(`Cannot parse duration "${text}": use e.g. 250ms, 30s, 10m, 24h, 7d`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms']
  return Math.round(Number(m[1]) * unit)
}
