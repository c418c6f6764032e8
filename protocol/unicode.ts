/**
 * JSON every edge takes from outside must be fit to keep and to sign (issue 10 §5, stop 26):
 * - no lone UTF-16 surrogates (U+D800–U+DFFF not in a pair): JSON's `\ud800` escape can carry
 *   one, but RFC 8785 §3.2.2.2 forbids them and UTF-8 cannot encode them, so a conforming
 *   outside verifier of our signed or hash-chained data could not process a row holding one;
 * - nothing nested deeper than `MAX_JSON_DEPTH`: `JSON.parse` takes thousands of levels, but
 *   `JSON.stringify` of the same value overflows the stack, so a 5,000-deep message or card
 *   failed deep inside the node (helper finding, stop 26).
 * Every such edge refuses them with `BAD_REQUEST`.
 */
import { badRequest } from './errors.js'

/** Deepest nesting of arrays and objects accepted in JSON from outside. @default 64 */
export const MAX_JSON_DEPTH = 64

/**
 * What makes `value` unfit, in words naming where (`$.a[2].b`, or a member name), or null:
 * "the string at PATH holds a lone UTF-16 surrogate…" or "the value at PATH is nested deeper…".
 */
export function jsonProblem (value: unknown, path = '$', depth = 0): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : `the string at ${path.slice(0, 200)} holds a lone UTF-16 surrogate, which RFC 8785 and UTF-8 forbid`
  if (value === null || typeof value !== 'object') return null
  if (depth >= MAX_JSON_DEPTH) return `the value at ${path.slice(0, 200)} is nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1)
      if (p !== null) return p
    }
    return null
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue
    if (!k.isWellFormed()) return `a member name in ${path.slice(0, 200)} holds a lone UTF-16 surrogate, which RFC 8785 and UTF-8 forbid`
    const p = jsonProblem((value as Record<string, unknown>)[k], `${path}.${k}`, depth + 1)
    if (p !== null) return p
  }
  return null
}

/** Throws `BAD_REQUEST` ("Cannot accept WHAT: " and the problem) for JSON unfit to take (`jsonProblem`). */
export function assertFitJson (value: unknown, what: string): void {
  const problem = jsonProblem(value)
  if (problem !== null) throw badRequest(`Cannot accept ${what}: ${problem}`)
}

/**
 * Text from outside (an Electrum server's error, a peer's refusal reason) as it may be shown to
 * the operator: control characters (C0, DEL, C1: terminal escapes, newlines) and bidirectional
 * overrides written as `\uXXXX`, so the sender can neither draw on the terminal nor forge lines
 * of our output (helper finding, stop 30: an error moved the cursor up and printed "Licence
 * VALID"); at most `max` characters.
 */
export function printable (text: string, max = 300): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
