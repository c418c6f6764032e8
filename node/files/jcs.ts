/** RFC 8785 (JCS) canonical JSON, via the `canonicalize` package. */
import canonicalizeModule from 'canonicalize'
import { assertNoLoneSurrogate } from '../../protocol/index.js'

// `canonicalize` is CommonJS (`module.exports = fn`) with a d.ts that declares an ES default
// export; under NodeNext the default import is `module.exports` itself, which TS cannot see.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined

/**
 * The canonical form of `value`; throws for values JSON cannot carry (NaN, Infinity, BigInt),
 * and `BAD_REQUEST` for a lone surrogate in any string or member name, which RFC 8785 §3.2.2.2
 * forbids (the package would emit `\ud800`; issue 10 §5).
 */
export function jcs (value: unknown): string {
  assertNoLoneSurrogate(value, 'a value for canonical JSON')
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('Cannot canonicalise: the value has no JSON form')
  return text
}
