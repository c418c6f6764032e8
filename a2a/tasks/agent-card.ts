/**
 * Agent Cards and their HTTP caching (A2A v1.0 §8.6, RFC 9111; issue 11 §2): how long a card
 * fetched from an agent, or received from a peer, may be used before it is asked for again, and
 * the conditional fetch (`If-None-Match`) that revalidates it. The same bounds apply on both
 * nodes, so the caller's copy expires when the agent said (give or take a second), never sooner
 * than `CARD_CACHE_MIN_MS` nor later than `CARD_CACHE_MAX_MS`.
 */
import { createHash } from 'node:crypto'
import { AgentCard } from '@a2a-js/sdk'
import { SovError, anySignalWithin, badRequest, shownUrl } from '../../protocol/index.js'
import { readBounded } from './bounded-body.js'

/** Life of a card whose agent sent no caching hint (spec §8.6.2 lets a client choose). @default 60 s */
export const CARD_CACHE_DEFAULT_MS = 60_000
/** Shortest life of a cached card, whatever the hint (`no-store`, `no-cache` and `max-age=0` included): at most one fetch a second. @default 1 s */
export const CARD_CACHE_MIN_MS = 1000
/** Longest life of a cached card, whatever the hint. @default 1 h */
export const CARD_CACHE_MAX_MS = 3600_000
/** How long an offered agent's stored card is served after a failed revalidation before it is tried again. @default 10 s */
export const CARD_RETRY_AFTER_MS = 10_000
/** Time given to fetch an agent's card. @default 10 s */
export const CARD_FETCH_TIMEOUT_MS = 10_000
/**
 * Largest Agent Card accepted, in bytes of its JSON (cards are a few KiB). Every offered card
 * travels in one `agents` frame of the mesh (1 MiB), so one huge card would hide all of a node's
 * agents from its peers. @default 64 KiB
 */
export const MAX_CARD_BYTES = 64 * 1024
/** The card path under an agent's base URL (A2A v1.0 §8.2). */
export const AGENT_CARD_PATH = '.well-known/agent-card.json'

/**
 * `base/.well-known/agent-card.json`, `base`'s path taken as a directory and its query kept (a URL
 * with a query lost its path: `/a2a?k=v` gave `/.well-known/…`).
 */
export function cardUrlOf (base: URL): URL {
  const url = new URL(AGENT_CARD_PATH, new URL(base.pathname.endsWith('/') ? base.pathname : base.pathname + '/', base.origin))
  url.search = base.search
  return url
}

/**
 * How long, in ms from `now`, a response with these headers may be used without asking again
 * (RFC 9111 §4.2.1: `s-maxage`, as the node serves many clients, else `max-age`, else `Expires`
 * minus `Date`; less `Age`). `no-store` and `no-cache` give 0. Undefined when there is no hint.
 */
export function freshnessMs (headers: Headers, now = Date.now()): number | undefined {
  const directives = new Map<string, string>()
  for (const part of (headers.get('cache-control') ?? '').split(',')) {
    const m = /^\s*([A-Za-z-]+)\s*(?:=\s*"?([^",]*)"?)?\s*$/.exec(part)
    if (m !== null) directives.set(m[1].toLowerCase(), m[2] ?? '')
  }
  if (directives.has('no-store') || directives.has('no-cache')) return 0
  const age = seconds(headers.get('age')) ?? 0
  const maxAge = seconds(directives.get('s-maxage')) ?? seconds(directives.get('max-age'))
  if (maxAge !== undefined) return Math.max(0, maxAge - age) * 1000
  const expires = headers.get('expires')
  if (expires !== null) {
    const at = Date.parse(expires)
    if (Number.isNaN(at)) return 0 // RFC 9111 §5.3: an invalid Expires means already expired
    const date = Date.parse(headers.get('date') ?? '')
    return Math.max(0, at - (Number.isNaN(date) ? now : date) - age * 1000)
  }
  return undefined
}

function seconds (text: string | null | undefined): number | undefined {
  return text !== null && text !== undefined && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined
}

/** A hint (ms, or undefined for none) as the life this node gives a cached card. */
export function cacheLifeMs (hintMs: number | undefined): number {
  if (hintMs === undefined) return CARD_CACHE_DEFAULT_MS
  return Math.min(CARD_CACHE_MAX_MS, Math.max(CARD_CACHE_MIN_MS, hintMs))
}

/** A strong `ETag` for a body we serve: a hash of its bytes (spec §8.6.1). */
export function etagOf (body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
}

/**
 * Whether a request's `If-None-Match` names `etag` (RFC 9110 §13.1.2: `*`, or a list compared
 * weakly). Checked here rather than by Express's `req.fresh`, which ignores the header when the
 * request says `Cache-Control: no-cache` — as Node's fetch does on every conditional request.
 */
export function ifNoneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const bare = (t: string): string => t.trim().replace(/^W\//, '')
  return header.split(',').some(t => t.trim() === '*' || bare(t) === bare(etag))
}

export type FetchedCard =
  | { status: 'modified', card: Record<string, any>, etag: string | null, lifeMs: number }
  | { status: 'not-modified', lifeMs: number }

/**
 * GETs an agent's card, conditionally when `etag` is known (`If-None-Match`; a 304 keeps the
 * stored card and renews its life from the 304's headers, RFC 9111 §4.3.4). `lifeMs` is the
 * bounded life (`cacheLifeMs`). Throws `BAD_REQUEST` for a body that is not an A2A v1.0 card
 * (no `supportedInterfaces`) or is over `MAX_CARD_BYTES`, and the fetch's own error when the agent cannot be reached or
 * answers another status.
 */
export async function fetchAgentCard (cardUrl: URL, options: { etag?: string | null, signal?: AbortSignal } = {}): Promise<FetchedCard> {
  const headers: Record<string, string> = { 'A2A-Version': '1.0', Accept: 'application/json' }
  if (options.etag !== undefined && options.etag !== null) {
    headers['If-None-Match'] = options.etag
    // Node's fetch would add `Cache-Control: no-cache` to a conditional request, and Express-based
    // agents (`req.fresh`) then never answer 304; `max-age=0` asks for the same revalidation.
    headers['Cache-Control'] = 'max-age=0'
  }
  const signal = anySignalWithin(CARD_FETCH_TIMEOUT_MS, options.signal)
  const res = await fetch(cardUrl, { headers, signal })
  const lifeMs = cacheLifeMs(freshnessMs(res.headers))
  if (res.status === 304 && headers['If-None-Match'] !== undefined) {
    await res.body?.cancel()
    return { status: 'not-modified', lifeMs }
  }
  if (!res.ok) {
    await res.body?.cancel()
    throw new Error(`HTTP ${res.status}`)
  }
  // Read no further than a card may be: one that never ends must not fill memory (stop 26).
  let text: string
  try {
    text = await readBounded(res.body, MAX_CARD_BYTES, 'the card')
  } catch (err) {
    if ((err as SovError).code === 'TOO_LARGE') throw badRequest(`${shownUrl(cardUrl)} serves a card of over ${MAX_CARD_BYTES} bytes, more than a card may have (every offered card crosses the mesh in one frame)`)
    throw err
  }
  let card: unknown
  try { card = JSON.parse(text) } catch { card = undefined }
  if (typeof card !== 'object' || card === null || !Array.isArray((card as any).supportedInterfaces) || (card as any).supportedInterfaces.length === 0) {
    throw badRequest(`${shownUrl(cardUrl)} is not an A2A v1.0 Agent Card (no supportedInterfaces)`)
  }
  return { status: 'modified', card: v1CardOf(card as Record<string, any>, cardUrl.href), etag: res.headers.get('etag'), lifeMs }
}

/**
 * `card` as an A2A v1.0 AgentCard and nothing else (helper finding, stop 26): the SDK's own type
 * keeps the v1.0 members and drops the rest — 0.3's `url`, `additionalInterfaces`, `security`,
 * `preferredTransport`, where a 0.3 client would send its bearer token — and links that are not
 * http(s) (`javascript:`…) are dropped. Applied to what an agent serves (`sov agent add`, each
 * refetch) and again to every card a peer sends, before it is served to local clients. Throws
 * `BAD_REQUEST` naming `from` for a card the SDK cannot read (nested past the stack's depth).
 */
export function v1CardOf (card: Record<string, any>, from: string): Record<string, any> {
  let c: Record<string, any>
  try {
    c = AgentCard.toJSON(AgentCard.fromJSON(card)) as Record<string, any>
  } catch (cause) {
    throw badRequest(`${from} serves a card that cannot be read as an A2A v1.0 Agent Card: ${(cause as Error).message}`, { cause })
  }
  for (const key of ['iconUrl', 'documentationUrl']) if (!isHttpUrl(c[key])) delete c[key]
  if (c.provider !== undefined && !isHttpUrl(c.provider.url)) delete c.provider.url
  return c
}

function isHttpUrl (text: unknown): boolean {
  if (typeof text !== 'string') return false
  try {
    const u = new URL(text)
    return u.protocol === 'http:' || u.protocol === 'https:'
  } catch {
    return false
  }
}
