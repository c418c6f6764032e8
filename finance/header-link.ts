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
  /** This node's own earlier verification (kept in the home), which passed the last checkpoint. */
  kept?: true
}

/**
 * A block every valid chain holds: the last shipped checkpoint. A link must pass through it
 * (or through a span verified from it): the tip's work alone is not enough, because a header
 * chain of a few blocks is cheap to make at the network's floor (helper finding, stop 30: one
 * lying server made a signet licence VALID with one invented header above block 200000).
 */
export interface LinkAnchor { height: number, hash: string }

export interface LinkResult {
  ok: boolean
  /** Why the walk stopped short, or how it went. */
  detail: string
  /** Every fetched header, parsed (for the proof-of-work checks). */
  headers: BlockHeader[]
}

/**
 * Walks from the first header of `segments[0]` (which must start at `height`: the payment's
 * block) to the tip, by segments and trusted spans. With an `anchor`, the tip must be above it
 * and the walk must pass through it: a payment below it is walked up through it; a payment above
 * it is reached by walking up from it (the headers between come as a segment of their own).
 * Spans count as passing the anchor when they were verified through it (`checkpoints`, and a
 * kept verification: link states are only written after an anchored link). Never throws.
 */
export function linkToTip (height: number, segments: HeaderSegment[], spans: TrustedSpan[], tip: { height: number, hash: Uint8Array, id: string }, anchor?: LinkAnchor): LinkResult {
  const parsed: Array<{ start: number, headers: BlockHeader[] }> = []
  const all: BlockHeader[] = []
  // Every header is parsed first, so that the proof-of-work checks see all that came even when
  // the link breaks (they said "no headers" after thousands: helper finding, stop 30).
  let broken: string | undefined
  for (const seg of segments) {
    const hs: BlockHeader[] = []
    for (const [i, hex] of seg.headers.entries()) {
      try { hs.push(headerFromHex(hex)) } catch (err) { broken ??= `header at height ${seg.start + i}: ${(err as Error).message}`; break }
    }
    for (let i = 1; i < hs.length && broken === undefined; i++) {
      if (!equalBytes(hs[i].prevHash, hs[i - 1].hash)) broken = `the header at height ${seg.start + i} does not link to the one below it`
    }
    if (hs.length > 0) parsed.push({ start: seg.start, headers: hs })
    all.push(...hs)
  }
  if (anchor !== undefined && tip.height <= anchor.height) {
    return { ok: false, detail: `the tip (height ${tip.height}) is not above the last checkpoint (height ${anchor.height}): the server is behind, or on a chain of its own`, headers: all }
  }
  if (broken !== undefined) return { ok: false, detail: broken, headers: all }
  const first = parsed[0]
  if (first === undefined || first.start !== height) return { ok: false, detail: `no header at height ${height}`, headers: all }
  if (tip.height < height) return { ok: false, detail: `the tip (height ${tip.height}) is below the transaction's block (height ${height})`, headers: all }
  // A payment block this node linked through the anchor before (a kept span from it) is walked
  // from; any other payment above the anchor is reached by walking up from the anchor.
  const paymentId = Buffer.from(first.headers[0].hash).reverse().toString('hex')
  const keptPayment = spans.some(s => s.kept === true && s.from.height === height && s.from.hash === paymentId)
  const fromAnchor = anchor !== undefined && height > anchor.height && !keptPayment
  let at = fromAnchor ? anchor.height : first.start + first.headers.length - 1
  let hash = fromAnchor ? Buffer.from(anchor.hash, 'hex').reverse() : first.headers[first.headers.length - 1].hash
  // From the anchor, or from a kept payment above it, the walk has passed it; from a payment
  // below it, not yet (a kept span reaching it, or a header at its height, passes it).
  let anchored = anchor === undefined || height > anchor.height
  /** Checks a segment the walk takes against the anchor, when it holds the anchor's height. */
  const passes = (seg: { start: number, headers: BlockHeader[] }): string | undefined => {
    if (anchored || anchor === undefined || seg.start > anchor.height || anchor.height >= seg.start + seg.headers.length) return undefined
    const there = Buffer.from(seg.headers[anchor.height - seg.start].hash).reverse().toString('hex')
    if (there !== anchor.hash) return `the header at height ${anchor.height} is ${there}, not the checkpoint ${anchor.hash}: this chain is not the network's`
    anchored = true
    return undefined
  }
  let paymentWalked = !fromAnchor
  const wrong = fromAnchor ? undefined : passes(first)
  if (wrong !== undefined) return { ok: false, detail: wrong, headers: all }
  const used: string[] = []
  // Each step moves up; at most one per segment and span.
  for (let step = 0; step <= segments.length + spans.length && at < tip.height; step++) {
    const seg = parsed.find(s => s.start === at + 1 && equalBytes(s.headers[0].prevHash, hash))
    if (seg !== undefined) {
      const off = passes(seg)
      if (off !== undefined) return { ok: false, detail: off, headers: all }
      if (seg === first) paymentWalked = true
      at = seg.start + seg.headers.length - 1
      hash = seg.headers[seg.headers.length - 1].hash
      continue
    }
    const shown = Buffer.from(hash).reverse().toString('hex')
    const span = spans.find(s => s.from.height === at && s.from.hash === shown && s.to.height > at)
    if (span === undefined) break
    if (!anchored && anchor !== undefined && span.to.height >= anchor.height) {
      if (span.to.height === anchor.height && span.to.hash !== anchor.hash) return { ok: false, detail: `the span ${span.why} ends at ${span.to.hash}, not the checkpoint ${anchor.hash}`, headers: all }
      anchored = true
    }
    used.push(`${span.why} ${span.from.height}→${span.to.height}`)
    at = span.to.height
    hash = Buffer.from(span.to.hash, 'hex').reverse()
  }
  if (at !== tip.height) {
    const from = fromAnchor && at === anchor.height ? `the last checkpoint (height ${at})` : `the block at height ${at}`
    return { ok: false, detail: `cannot link ${from} to the tip ${tip.height}: no header or known span continues from it`, headers: all }
  }
  if (!equalBytes(hash, tip.hash)) return { ok: false, detail: `the header at height ${tip.height} is not the tip ${tip.id}`, headers: all }
  if (!paymentWalked) return { ok: false, detail: `the walk from the last checkpoint (height ${anchor!.height}) to the tip does not pass the transaction's block (height ${height})`, headers: all }
  if (!anchored) return { ok: false, detail: `the link from block ${height} to the tip does not pass the last checkpoint (height ${anchor!.height})`, headers: all }
  const n = all.length
  const through = anchor === undefined ? '' : fromAnchor ? ` from the checkpoint at ${anchor.height}` : ''
  return { ok: true, detail: `${n} header${n === 1 ? ' links' : 's link'} block ${height} to the tip ${tip.height}${through}${used.length > 0 ? ` (with ${used.join(', ')})` : ''}`, headers: all }
}
