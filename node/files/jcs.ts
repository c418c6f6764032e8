/** RFC 8785 (JCS) canonical JSON, via the `canonicalize` package. */
import canonicalizeModule from 'canonicalize'

// `canonicalize` is CommonJS (`module.exports = fn`) with a d.ts that declares an ES default
// export; under NodeNext the default import is `module.exports` itself, which TS cannot see.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined

/** The canonical form of `value`; throws for values JSON cannot carry (NaN, Infinity, BigInt). */
export function jcs (value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('Cannot canonicalise: the value has no JSON form')
  return text
}
