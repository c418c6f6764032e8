// Linking the payment's block to the tip without every header in between (issue 13). A link is
// a walk from the payment header up to the agreed tip: each step is either a segment of fetched
// headers whose first `prevHash` is where the walk stands, or a span already known to be linked
// — the shipped checkpoints (one hash per 2016-block period, as the Electrum wallet ships), or
// this node's own earlier verification kept in the home. Pure: hashes and hex in, a result out.
import { equalBytes } from './bytes.js'
import { headerFromHex, type BlockHeader } from './header.js'

/** Headers fetched for consecutive heights from `start`. */
export interface HeaderSegment { start: number, headers: string[] }

/** A known link between two blocks, hashes as shown (display hex). */
export interface TrustedSpan {
  from: { height: number, hash: string }
  to: { height: number, hash: string }
  /** Why it is trusted, for the verdict's detail: `checkpoints`, `verified <time>`. */
  why: string
}

export interface LinkResult {
  ok: boolean
  /** Why the walk stopped short, or how it went. */
  detail: string
  /** Every fetched header, parsed (for the proof-of-work checks). */
  headers: BlockHeader[]
}

/**
 * Walks from the first header of `segments[0]` (which must start at `height`: the payment's
 * block) to the tip, by segments and trusted spans. Never throws.
 */
export function linkToTip (height: number, segments: HeaderSegment[], spans: TrustedSpan[], tip: { height: number, hash: Uint8Array, id: string }): LinkResult {
  const parsed: Array<{ start: number, headers: BlockHeader[] }> = []
  const all: BlockHeader[] = []
  for (const seg of segments) {
    const hs: BlockHeader[] = []
    for (const [i, hex] of seg.headers.entries()) {
      try { hs.push(headerFromHex(hex)) } catch (err) { return { ok: false, detail: `header at height ${seg.start + i}: ${(err as Error).message}`, headers: all } }
    }
    for (let i = 1; i < hs.length; i++) {
      if (!equalBytes(hs[i].prevHash, hs[i - 1].hash)) return { ok: false, detail: `the header at height ${seg.start + i} does not link to the one below it`, headers: all }
    }
    if (hs.length > 0) parsed.push({ start: seg.start, headers: hs })
    all.push(...hs)
  }
  const first = parsed[0]
  if (first === undefined || first.start !== height) return { ok: false, detail: `no header at height ${height}`, headers: all }
  if (tip.height < height) return { ok: false, detail: `the tip (height ${tip.height}) is below the transaction's block (height ${height})`, headers: all }
  let at = first.start + first.headers.length - 1
  let hash = first.headers[first.headers.length - 1].hash
  const used: string[] = []
  // Each step moves up; at most one per segment and span.
  for (let step = 0; step <= segments.length + spans.length && at < tip.height; step++) {
    const seg = parsed.find(s => s.start === at + 1 && equalBytes(s.headers[0].prevHash, hash))
    if (seg !== undefined) {
      at = seg.start + seg.headers.length - 1
      hash = seg.headers[seg.headers.length - 1].hash
      continue
    }
    const shown = Buffer.from(hash).reverse().toString('hex')
    const span = spans.find(s => s.from.height === at && s.from.hash === shown && s.to.height > at)
    if (span === undefined) break
    used.push(`${span.why} ${span.from.height}→${span.to.height}`)
    at = span.to.height
    hash = Buffer.from(span.to.hash, 'hex').reverse()
  }
  if (at !== tip.height) return { ok: false, detail: `cannot link the block at height ${at} to the tip ${tip.height}: no header or known span continues from it`, headers: all }
  if (!equalBytes(hash, tip.hash)) return { ok: false, detail: `the header at height ${tip.height} is not the tip ${tip.id}`, headers: all }
  const n = all.length
  return { ok: true, detail: `${n} header${n === 1 ? '' : 's'} link block ${height} to the tip ${tip.height}${used.length > 0 ? ` (with ${used.join(', ')})` : ''}`, headers: all }
}
