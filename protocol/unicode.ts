/**
 * Lone UTF-16 surrogates (U+D800–U+DFFF not in a pair): JSON's `\ud800` escape can carry one,
 * but RFC 8785 §3.2.2.2 forbids them and UTF-8 cannot encode them, so a conforming outside
 * verifier of our signed or hash-chained data could not process a row holding one (issue 10
 * §5). Every edge that takes JSON from outside refuses them with `BAD_REQUEST`.
 */
import { badRequest } from './errors.js'

/** Path (`$.a[2].b`, or `$` / a key marked `(key)`) of the first string holding a lone surrogate, or null. */
export function findLoneSurrogate (value: unknown, path = '$', depth = 0): string | null {
  if (typeof value === 'string') return value.isWellFormed() ? null : path
  if (value === null || typeof value !== 'object' || depth > 64) return null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findLoneSurrogate(value[i], `${path}[${i}]`, depth + 1)
      if (p !== null) return p
    }
    return null
  }
  for (const [k, v] of Object.entries(value)) {
    const safeKey = k.isWellFormed() ? k : null
    if (safeKey === null) return `${path} (a member name)`
    const p = findLoneSurrogate(v, `${path}.${safeKey}`, depth + 1)
    if (p !== null) return p
  }
  return null
}

/** Throws `BAD_REQUEST` ("Cannot accept WHAT: the string at PATH holds a lone surrogate…"). */
export function assertNoLoneSurrogate (value: unknown, what: string): void {
  const path = findLoneSurrogate(value)
  if (path !== null) throw badRequest(`Cannot accept ${what}: the string at ${path.slice(0, 200)} holds a lone UTF-16 surrogate, which RFC 8785 and UTF-8 forbid`)
}
