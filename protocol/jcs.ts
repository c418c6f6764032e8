/** RFC 8785 (JCS) canonical JSON, via the `canonicalize` package. */
import canonicalizeModule from 'canonicalize'
import { assertFitJson } from './unicode.js'

// `canonicalize` is CommonJS (`module.exports = fn`) with a d.ts that declares an ES default
// export; under NodeNext the default import is `module.exports` itself, which TS cannot see.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined

/** Deeper values take the package's path (the lone-surrogate check stops at this depth too). */
const FAST_MAX_DEPTH = 64
const NOT_PLAIN = Symbol('not plain JSON')

/**
 * The canonical form of `value`; throws for values JSON cannot carry (NaN, Infinity, BigInt),
 * and `BAD_REQUEST` for a lone surrogate in any string or member name, which RFC 8785 §3.2.2.2
 * forbids (the package would emit `\ud800`; issue 10 §5).
 *
 * Plain data (objects, arrays, well-formed strings, finite numbers, booleans, null) is written by
 * `JSON.stringify` once every object lists its members in UTF-16 order: for such values that is
 * the JCS form (ES number and string serialisation are the ones RFC 8785 §3.2.2 names). It takes
 * about 60 % of the package's time, and every audit row pays it (issue 15). Anything else goes
 * through the package; test/secrets-edge.test.ts compares the two on generated values.
 */
export function jcs (value: unknown): string {
  const ordered = inJcsOrder(value, 0)
  if (ordered !== NOT_PLAIN) return JSON.stringify(ordered)
  assertFitJson(value, 'a value for canonical JSON')
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('Cannot canonicalise: the value has no JSON form')
  return text
}

/**
 * `value` itself when it is plain data whose objects already list their members in order, a copy
 * with the members ordered when one does not, or NOT_PLAIN (then the slow path decides).
 */
function inJcsOrder (value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string': return value.isWellFormed() ? value : NOT_PLAIN
    case 'number': return Number.isFinite(value) ? value : NOT_PLAIN
    case 'boolean': return value
    case 'object': break
    default: return NOT_PLAIN
  }
  if (value === null) return null
  if (depth >= FAST_MAX_DEPTH) return NOT_PLAIN
  if (Array.isArray(value)) {
    let out: unknown[] = value
    for (let i = 0; i < value.length; i++) {
      const x = inJcsOrder(value[i], depth + 1)
      if (x === NOT_PLAIN) return NOT_PLAIN
      if (x !== value[i]) {
        if (out === value) out = value.slice()
        out[i] = x
      }
    }
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
  for (const k of keys) {
    // Integer-like names are enumerated in numeric order whatever the insertion order, so
    // JSON.stringify cannot be made to write them in JCS order: those go the slow way.
    const c = k.charCodeAt(0)
    if ((c >= 0x30 && c <= 0x39) || !k.isWellFormed()) return NOT_PLAIN
  }
  let sorted = true
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1] < keys[i])) { sorted = false; break }
  if (!sorted) keys.sort()
  // A copy is made only when something inside differs; a null prototype keeps `__proto__` a member.
  let out: Record<string, unknown> = sorted ? obj : Object.create(null)
  for (const k of keys) {
    const v = obj[k]
    // Undefined members are left out, as JSON.stringify and the package both do.
    if (v === undefined) continue
    const x = inJcsOrder(v, depth + 1)
    if (x === NOT_PLAIN) return NOT_PLAIN
    if (out !== obj) out[k] = x
    else if (x !== v) {
      out = Object.create(null)
      for (const j of keys) if (obj[j] !== undefined) out[j] = obj[j]
      out[k] = x
    }
  }
  return out
}
