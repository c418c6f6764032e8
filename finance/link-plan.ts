// Which headers to fetch to link the payment's block to the tip (issue 13), cheapest first:
// 1. the last verified tip in the home still heads the server's chain: only the headers since;
// 2. it does not (a reorganisation): the server's headers over the kept window, re-verified
//    from the highest block both chains share;
// 3. nothing kept, or the fork is below it: the payment's period up to its checkpoint, then
//    the headers since the last checkpoint; a payment above the last checkpoint: every header
//    from the checkpoint up (the link must pass it: `LinkAnchor`); no checkpoints (regtest):
//    every header from the payment up.
// A tip at or below the last checkpoint gets no headers: the verifier refuses it. At most
// `MAX_LINK_HEADERS` are fetched, and fetching stops at the first reply holding a header without
// its work (the verifier then refuses what came), so a server claiming a tip far ahead cannot
// make the node hold junk by the gigabyte (helper finding, stop 30: 5 GB, then out of memory).
// Whether the headers link is decided by the verifier.
import { electrumError, type SovError } from '../protocol/index.js'
import type { ElectrumClient } from './electrum-client.js'
import { HEADER_BYTES, headerFromHex, meetsFloor, meetsOwnTarget } from './header.js'
import type { HeaderSegment, TrustedSpan } from './header-link.js'
import { checkpointHeight, type Checkpoints } from './checkpoints.js'
import { LINK_RECENT, type LinkState } from './link-state.js'

/** Headers per `blockchain.block.headers` request (ElectrumX's MAX_CHUNK_SIZE). */
export const HEADERS_PER_REQUEST = 2016
/** `blockchain.block.headers` requests in flight at once. */
export const HEADER_REQUESTS_IN_FLIGHT = 4
/**
 * Most headers one verification fetches (~16 MB): 100 difficulty periods, about four years of
 * blocks past the last shipped checkpoint. A server whose tip needs more is lying about its
 * height, or this build's checkpoints are that old.
 */
export const MAX_LINK_HEADERS = 100 * 2016

export interface LinkPlan {
  /** From the payment's block up. */
  headers: string[]
  more: HeaderSegment[]
  spans: TrustedSpan[]
  /** Headers fetched for this plan. */
  fetched: number
  /** The kept state this plan builds on (for the next state), if any. */
  base?: { state: LinkState, upTo: number }
  /** What happened to the chain since the last verification, when something did. */
  note?: string
  /**
   * The header the retarget rule is checked from (`difficultyProblem`): the last checkpoint's
   * (`header`, its hash to be matched), or the highest block kept from the last verification
   * (`bits`). Absent without checkpoints.
   */
  difficultyFrom?: { height: number, bits?: number, header?: string }
}

export interface PlanInput {
  height: number
  tip: { height: number, hex: string }
  state?: LinkState | null
  checkpoints?: Checkpoints | null
  /** The network's proof-of-work floor: every fetched header must meet it and its own target. */
  pow: { powLimit: bigint, powLimitBits: number }
  signal?: AbortSignal
  /** Called after each `blockchain.block.headers` reply: headers fetched so far, of how many. */
  onProgress?: (fetched: number, total: number) => void
}

/** Counts fetched headers across a plan's parallel ranges. */
interface Progress { done: number, total: number, report?: (fetched: number, total: number) => void }
interface FetchOptions { signal?: AbortSignal, progress?: Progress, pow?: PlanInput['pow'] }

const idOf = (hex: string): string => headerFromHex(hex).id
const prevOf = (hex: string): string => Buffer.from(headerFromHex(hex).prevHash).reverse().toString('hex')

export async function planLink (client: ElectrumClient, p: PlanInput): Promise<LinkPlan> {
  const ro: FetchOptions = { signal: p.signal, progress: { done: 0, total: 0, report: p.onProgress }, pow: p.pow }
  const h = p.height
  const T = p.tip.height
  const S = p.state
  let note: string | undefined
  const cp = p.checkpoints
  const last = cp == null ? -1 : cp.hashes.length - 1
  const lastHeight = cp == null || last < 0 ? -1 : checkpointHeight(cp, last)
  if (lastHeight >= 0 && T <= lastHeight) return { headers: [], more: [], spans: [], fetched: 0 }
  if (S != null) {
    const sTip = S.tipHeight
    const low = sTip - S.recent.length + 1
    const hashAt = (height: number): string | undefined => S.recent[height - low]
    // Kept even when empty (to = h): it says the payment's block was linked through the last
    // checkpoint before, so the walk may start from it.
    const span = (to: number): TrustedSpan[] => [{ from: { height: h, hash: idOf(S.paymentHeader) }, to: { height: to, hash: to > h ? hashAt(to)! : idOf(S.paymentHeader) }, why: `verified ${S.verifiedAt}`, kept: true }]
    if (T >= sTip) {
      assertWithinCap(T - sTip, client, T)
      const fresh = await fetchHeaders(client, sTip + 1, T, ro)
      const links = fresh.length > 0 ? prevOf(fresh[0]) === hashAt(sTip) : idOf(p.tip.hex) === hashAt(sTip)
      if (links) return { headers: [S.paymentHeader], more: fresh.length > 0 ? [{ start: sTip + 1, headers: fresh }] : [], spans: span(sTip), fetched: fresh.length, base: { state: S, upTo: sTip }, difficultyFrom: { height: sTip, bits: S.tipBits } }
    }
    const lo = Math.max(h, low)
    if (T >= lo && T - lo < MAX_LINK_HEADERS) {
      const win = await fetchHeaders(client, lo, T, ro)
      for (let height = Math.min(sTip, T); height >= lo; height--) {
        if (idOf(win[height - lo]) !== hashAt(height)) continue
        note = `the chain was reorganised above height ${height} since the last verification; re-verified from there`
        const above = win.slice(height - lo + 1)
        // The fork point's header hashes to a kept verified block: its bits are trusted.
        return { headers: [S.paymentHeader], more: above.length > 0 ? [{ start: height + 1, headers: above }] : [], spans: span(height), fetched: win.length, base: { state: S, upTo: height }, note, difficultyFrom: { height, bits: headerFromHex(win[height - lo]).bits } }
      }
    }
    note = `the chain changed at or below the payment's block (height ${h}) since the last verification; verified afresh`
  }
  if (cp != null && last >= 0 && h <= lastHeight) {
    const period = Math.floor(h / cp.interval)
    const end = checkpointHeight(cp, period)
    assertWithinCap(end - h + 1 + T - lastHeight, client, T)
    const [own, since, anchor] = await Promise.all([fetchHeaders(client, h, end, ro), fetchHeaders(client, lastHeight + 1, T, ro), anchorHeader(client, lastHeight, ro)])
    const spans: TrustedSpan[] = period < last ? [{ from: { height: end, hash: cp.hashes[period] }, to: { height: lastHeight, hash: cp.hashes[last] }, why: 'checkpoints' }] : []
    return { headers: own, more: [{ start: lastHeight + 1, headers: since }], spans, fetched: own.length + since.length + 1, note, difficultyFrom: { height: lastHeight, header: anchor } }
  }
  // Above the last checkpoint (or none): from the checkpoint up, the payment's block among them.
  const from = lastHeight >= 0 ? lastHeight + 1 : h
  assertWithinCap(T - from + 1, client, T)
  const [all, anchor] = await Promise.all([fetchHeaders(client, from, T, ro), lastHeight >= 0 ? anchorHeader(client, lastHeight, ro) : undefined])
  const below = all.slice(0, h - from)
  return { headers: all.slice(h - from), more: below.length > 0 ? [{ start: from, headers: below }] : [], spans: [], fetched: all.length + (anchor !== undefined ? 1 : 0), note, difficultyFrom: anchor !== undefined ? { height: lastHeight, header: anchor } : undefined }
}

/** The header at the last checkpoint's height, as the server gives it (the verifier matches its hash). */
async function anchorHeader (client: ElectrumClient, height: number, ro: FetchOptions): Promise<string> {
  const hex = await client.request<unknown>('blockchain.block.header', [height], ro)
  if (typeof hex !== 'string' || hex.length !== HEADER_BYTES * 2) throw electrumError(`Cannot use ${client.url.url}: blockchain.block.header ${height} did not return 80 bytes of hex`)
  return hex
}

function assertWithinCap (count: number, client: ElectrumClient, tip: number): void {
  if (count > MAX_LINK_HEADERS) {
    throw electrumError(`Cannot use ${client.url.url}: linking the payment to its tip (height ${tip}) would take ${count} headers, more than the ${MAX_LINK_HEADERS} a check fetches; the server's tip height is implausible (or this build's checkpoints are years old: update sov)`)
  }
}

/** The state to keep after the plan's headers verified: the payment header and the last hashes up to the tip. */
export function nextLinkState (plan: LinkPlan, meta: { network: LinkState['network'], txid: string, height: number, tipHeight: number, checkpoints?: Checkpoints | null }): LinkState {
  const known = new Map<number, string>()
  const base = plan.base
  if (base !== undefined) {
    const low = base.state.tipHeight - base.state.recent.length + 1
    base.state.recent.forEach((hash, i) => { if (low + i <= base.upTo) known.set(low + i, hash) })
  }
  for (const s of plan.spans) known.set(s.to.height, s.to.hash)
  for (const seg of [{ start: meta.height, headers: plan.headers }, ...plan.more]) {
    seg.headers.forEach((hex, i) => known.set(seg.start + i, idOf(hex)))
  }
  const recent: string[] = []
  for (let height = meta.tipHeight; recent.length < LINK_RECENT && known.has(height); height--) recent.unshift(known.get(height)!)
  // The tip's bits: the retarget rule of the next check starts from them.
  let tipBits = base?.state.tipBits ?? 0
  for (const seg of [{ start: meta.height, headers: plan.headers }, ...plan.more]) {
    const i = meta.tipHeight - seg.start
    if (i >= 0 && i < seg.headers.length) tipBits = headerFromHex(seg.headers[i]).bits
  }
  return { version: 2, network: meta.network, txid: meta.txid, height: meta.height, paymentHeader: plan.headers[0], tipHeight: meta.tipHeight, tipBits, recent, verifiedAt: new Date().toISOString() }
}

/**
 * Headers `from`..`tip` inclusive, in requests of at most 2016, in either reply form; the plan
 * caps how many. With `pow`, fewer when a reply holds a header that misses its own target or
 * that floor: nothing is asked for after it.
 */
export async function fetchHeaders (client: ElectrumClient, from: number, tip: number, ro: FetchOptions): Promise<string[]> {
  if (tip < from) return []
  const progress = ro.progress
  if (progress !== undefined) progress.total += tip - from + 1
  const starts: number[] = []
  for (let s = from; s <= tip; s += HEADERS_PER_REQUEST) starts.push(s)
  // A few chunks in flight at a time: servers meter cost per session.
  const parts: string[][] = []
  for (let i = 0; i < starts.length; i += HEADER_REQUESTS_IN_FLIGHT) {
    const replies = await Promise.all(starts.slice(i, i + HEADER_REQUESTS_IN_FLIGHT).map(async start => {
      const count = Math.min(HEADERS_PER_REQUEST, tip - start + 1)
      const got = splitHeaders(await client.request<any>('blockchain.block.headers', [start, count], ro), client.url.url)
      if (got.length !== count) throw electrumError(`Cannot use ${client.url.url}: asked for ${count} headers from height ${start}, got ${got.length}`)
      if (progress !== undefined) { progress.done += count; progress.report?.(progress.done, progress.total) }
      return got
    }))
    for (const got of replies) {
      parts.push(got)
      // A header without its work proves nothing: stop asking; the verifier refuses what came.
      if (ro.pow !== undefined && !workDone(got, ro.pow)) return parts.flat()
    }
  }
  return parts.flat()
}

/** Protocol 1.4 replies `{hex, count}` (concatenated); 1.6 replies `{headers: [...], count}`. */
export function splitHeaders (r: any, server: string): string[] {
  const bad = (why: string): SovError => electrumError(`Cannot use ${server}: blockchain.block.headers ${why}`)
  if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.count) || r.count < 0) throw bad('returned no count')
  let out: string[]
  // Lengths are checked here; whether the digits are hex, when each header is parsed.
  if (Array.isArray(r.headers)) {
    out = r.headers
    if (!out.every(h => typeof h === 'string' && h.length === HEADER_BYTES * 2)) throw bad('returned a header that is not 80 bytes of hex')
  } else if (typeof r.hex === 'string') {
    if (r.hex.length % (HEADER_BYTES * 2) !== 0) throw bad('returned hex that is not whole 80-byte headers')
    out = []
    for (let i = 0; i < r.hex.length; i += HEADER_BYTES * 2) out.push(r.hex.slice(i, i + HEADER_BYTES * 2))
  } else {
    throw bad('returned neither "hex" nor "headers"')
  }
  if (out.length !== r.count) throw bad(`said count ${String(r.count)} but sent ${out.length} headers`)
  return out
}

/** Whether every header parses and meets its own target and the network's floor. */
function workDone (headers: string[], pow: PlanInput['pow']): boolean {
  return headers.every(hex => {
    try {
      const h = headerFromHex(hex)
      return meetsOwnTarget(h).ok && meetsFloor(h, pow.powLimit, pow.powLimitBits).ok
    } catch { return false }
  })
}
