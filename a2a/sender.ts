/**
 * The sending end of `/sov/a2a/1.0.0`. `send` commits to the outbox (sends queued in the same
 * tick share one commit) and returns the id; a delivery session per peer then pipelines the
 * queued envelopes over one stream and settles them from the replies, which come back in order.
 *
 * Retry: a failed session (dial error, stream reset, reply timeout, transient refusal, a stream
 * refused after the handshake) backs the peer off exponentially with jitter, capped. A peer
 * connecting is tried at once but keeps its failure count: only a session that ends well clears
 * it, so a peer that accepts connections and then refuses us is backed off to the maximum
 * (issue 10 §3; before, every reconnect reset it: ~2.6 tries/s for a message's lifetime). Every
 * envelope stays queued until accepted/duplicate (delivered), refused with a permanent code
 * (failed) or past its TTL (expired) — never sent after its TTL.
 */
import { setMaxListeners } from 'node:events'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { v7 as uuidv7 } from 'uuid'
import * as v from 'valibot'
import {
  A2A_ENVELOPE_VERSION, A2A_PERMANENT_CODES, A2A_PROTOCOL, DEFAULT_TTL_MS, MAX_TTL_MS, MailboxNameSchema,
  SovError, anySignalWithin, badRequest, forbidden, parseA2AMessage, parseReply, timeout, tooLarge, unavailable, type A2AEnvelope
} from '../protocol/index.js'
import { dialProtocolFinding, lengthPrefixed } from '../mesh/index.js'
import type { MailboxStore, OutboxInput, QueuedFrame, Settlement } from './store.js'
import { report, type AuditSink } from './types.js'

/** First retry delay after a failed delivery session. @default 500 ms */
export const RETRY_BASE_MS = 500
/** Longest retry delay. @default 60 s */
export const RETRY_MAX_MS = 60_000
/** Time allowed to open a stream (dial, DHT lookup, protocol negotiation). @default 10 s */
export const DIAL_TIMEOUT_MS = 10_000
/** Time without any reply while envelopes are in flight before the stream is given up. @default 30 s */
export const REPLY_TIMEOUT_MS = 30_000
/** How long an idle delivery stream stays open for new sends. @default 10 s */
export const STREAM_IDLE_MS = 10_000
/** Envelopes in flight on one stream. @default 256 */
export const PIPELINE_MAX_ENVELOPES = 256
/**
 * How long answers are gathered before they are recorded in one transaction: bookkeeping only
 * (the receiver has the envelope on disk already), so a few ms cost nothing and save a commit
 * per reply batch under load (issue 15 §2). @default 2 ms
 */
export const SETTLE_DELAY_MS = 2
/** Free window slots needed before more envelopes are written (fewer, larger writes). @default 64 */
export const PIPELINE_REFILL_MIN = 64
/** Bytes in flight on one stream (at least one envelope always goes). @default 2 MiB */
export const PIPELINE_MAX_BYTES = 2 * 1024 * 1024
/** Largest reply frame read. @default 64 KiB */
export const MAX_REPLY_BYTES = 64 * 1024
/** Shortest wait between outbox expiry sweeps, and the longest. @default 100 ms, 60 s */
export const EXPIRY_SWEEP_MIN_MS = 100
export const EXPIRY_SWEEP_MAX_MS = 60_000
/**
 * Most rows handed to a session in memory (`PeerState.fresh`); past it the session reads the
 * outbox again, so a peer that stops reading cannot make the frames pile up in memory. @default 1024
 */
const FRESH_MAX_ROWS = 1024
/** PeerId texts remembered as parsed. @default 1024 */
const PEER_ID_CACHE_SIZE = 1024

export interface SenderInit {
  node: Libp2p
  store: MailboxStore
  audit: AuditSink
  maxEnvelopeBytes: number
  retryBaseMs: number
  retryMaxMs: number
}

interface PeerState {
  active?: Promise<void>
  failures: number
  retryAt: number
  timer?: NodeJS.Timeout
  notify?: () => void
  lastError?: string
  /**
   * Set once the running session has read every durable queued row up to now from the outbox:
   * rows made durable since are handed to it here (in seq order) instead of read back from SQLite.
   */
  fresh?: QueuedFrame[]
}
interface PendingSend { row: OutboxInput, resolve: (r: { id: string, duplicate: boolean }) => void, reject: (e: unknown) => void }

const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()
const PERMANENT = new Set<string>(A2A_PERMANENT_CODES)

/** Longest wait before trying a peer again that did not speak the mailbox protocol yet. @default 2 s */
export const NOT_READY_RETRY_MS = 2000

/** Delay before retry number `failures` (≥ 1): base·2^(n-1), capped, with ±50 % jitter below the cap. */
export function backoffMs (failures: number, baseMs: number, maxMs: number, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(30, failures - 1))
  return Math.round(exp / 2 + random() * exp / 2)
}

export class Sender {
  private readonly init: SenderInit
  private readonly selfId: string
  private readonly peers = new Map<string, PeerState>()
  private readonly peerIds = new Map<string, string>()
  /** Envelope ids written to a stream and not yet answered (never expired under a session). */
  private readonly inflight = new Set<string>()
  private pending: PendingSend[] = []
  private flushScheduled = false
  /** A queued batch is waiting for its group commit: sends meanwhile wait and go in the next one. */
  private committing = false
  private shutdown = new AbortController()
  private running = false
  private expiryTimer?: NodeJS.Timeout
  private expiryAt = Infinity

  constructor (init: SenderInit) {
    this.init = init
    this.selfId = init.node.peerId.toString()
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.shutdown = new AbortController()
    // Each peer's session listens on it: more than ten peers is normal, not a leak.
    setMaxListeners(0, this.shutdown.signal)
    this.init.node.addEventListener('peer:connect', this.onConnect)
    for (const peer of this.init.store.queuedPeers()) this.wake(peer)
    this.scheduleExpiry(true)
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.flush()
    this.running = false
    this.shutdown.abort(unavailable('Cannot deliver: the node is stopping'))
    this.init.node.removeEventListener('peer:connect', this.onConnect)
    clearTimeout(this.expiryTimer)
    this.expiryAt = Infinity
    const sessions: Array<Promise<void>> = []
    for (const st of this.peers.values()) {
      clearTimeout(st.timer)
      st.notify?.()
      if (st.active !== undefined) sessions.push(st.active)
    }
    await Promise.allSettled(sessions)
    this.peers.clear()
  }

  /** Queues a message for `mailbox` on `peer`; resolves with its envelope id once committed. */
  async send (peer: string, mailbox: string, message: unknown, ttlMs = DEFAULT_TTL_MS): Promise<{ id: string, duplicate: boolean }> {
    const target = this.canonicalPeer(peer)
    if (target === this.selfId) throw badRequest('Cannot send to this node itself: use a mailbox on another node')
    if (!v.is(MailboxNameSchema, mailbox)) throw badRequest(`Cannot send to mailbox "${mailbox}": mailbox names are 1-64 of A-Z a-z 0-9 . _ -`)
    if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) throw badRequest(`Cannot send with ttl ${ttlMs} ms: use 1 ms to ${MAX_TTL_MS} ms`)
    const msg = parseA2AMessage(message)
    const now = Date.now()
    const envelope: A2AEnvelope = { v: A2A_ENVELOPE_VERSION, id: uuidv7(), mailbox, ts: now, ttl: ttlMs, message: msg }
    const frame = JSON.stringify(envelope)
    const bytes = Buffer.byteLength(frame)
    if (bytes > this.init.maxEnvelopeBytes) throw tooLarge(`Cannot send message: its envelope is ${bytes} bytes, over the limit of ${this.init.maxEnvelopeBytes}`)
    const row: OutboxInput = { id: envelope.id, peer: target, mailbox, messageId: msg.messageId, frame, createdAt: now, expiresAt: now + ttlMs }
    return await new Promise((resolve, reject) => {
      this.pending.push({ row, resolve, reject })
      this.scheduleFlush()
    })
  }

  /** The canonical text of a PeerId (parsing one costs a base58 round trip; senders repeat). */
  private canonicalPeer (peer: string): string {
    let id = this.peerIds.get(peer)
    if (id === undefined) {
      try {
        id = peerIdFromString(peer).toString()
      } catch (cause) {
        throw badRequest(`Cannot send to "${peer}": not a PeerId`, { cause })
      }
      if (this.peerIds.size >= PEER_ID_CACHE_SIZE) this.peerIds.clear()
      this.peerIds.set(peer, id)
    }
    return id
  }

  /** Why the last delivery session to `peer` failed (for `sov a2a outbox`), if it did. */
  lastError (peer: string): string | undefined { return this.peers.get(peer)?.lastError }

  /** Delivers to `peer` now (after `sov a2a retry`), skipping its backoff. */
  retryNow (peer: string): void { this.wake(peer, true) }

  /** Ids written and not yet answered. */
  get inFlight (): ReadonlySet<string> { return this.inflight }

  private readonly onConnect = (evt: CustomEvent<{ toString: () => string }>): void => {
    this.wake(evt.detail.toString(), true)
  }

  /** Flushes on the next turn of the event loop, or after the batch waiting for the disk. */
  private scheduleFlush (): void {
    if (this.flushScheduled || this.committing) return
    this.flushScheduled = true
    setImmediate(() => { this.flush() })
  }

  /**
   * Commits every queued send in one transaction and answers their callers once it is durable
   * (group commit, `MailboxStore.durable`); only then may the rows go out.
   */
  private flush (): void {
    this.flushScheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    let results: Array<string | null>
    try {
      results = this.init.store.enqueue(batch.map(p => p.row))
    } catch (err) {
      for (const p of batch) p.reject(err instanceof SovError ? err : unavailable(`Cannot queue message: ${(err as Error).message}`, { cause: err }))
      return
    }
    // Sends that arrive while this batch waits for the disk go in one transaction after it: under
    // load, one commit per fdatasync instead of one per tick (issue 15 §2).
    this.committing = true
    void this.answer(batch, results).finally(() => {
      this.committing = false
      if (this.pending.length > 0) this.scheduleFlush()
    })
  }

  private async answer (batch: PendingSend[], results: Array<string | null>): Promise<void> {
    const added = batch.filter((_, i) => results[i] === null)
    try {
      await this.init.store.durable()
    } catch (err) {
      try { this.init.store.dropQueued(added.map(p => p.row.id)) } catch { /* the disk is failing: the log says so */ }
      for (const p of batch) p.reject(err instanceof SovError ? err : unavailable(`Cannot queue message: ${(err as Error).message}`, { cause: err }))
      return
    }
    let soonest = Infinity
    batch.forEach((p, i) => { p.resolve({ id: results[i] ?? p.row.id, duplicate: results[i] !== null }) })
    for (const p of added) {
      soonest = Math.min(soonest, p.row.expiresAt)
      // A session that has caught up takes the row from here: no read back from the outbox.
      const st = this.peers.get(p.row.peer)
      if (st?.fresh !== undefined && p.row.seq !== undefined) {
        if (st.fresh.length >= FRESH_MAX_ROWS) st.fresh = undefined
        else st.fresh.push({ seq: p.row.seq, id: p.row.id, frame: p.row.frame, expiresAt: p.row.expiresAt })
      }
    }
    if (soonest < this.expiryAt) this.scheduleExpiry(true)
    for (const peer of new Set(added.map(p => p.row.peer))) this.wake(peer)
  }

  /** Starts a delivery session for `peer` if it has work and is not backing off. */
  private wake (peer: string, reset = false): void {
    if (!this.running) return
    let st = this.peers.get(peer)
    if (st === undefined) { st = { failures: 0, retryAt: 0 }; this.peers.set(peer, st) }
    // A (re)connected peer is tried now; its failure count stays until a session ends well.
    if (reset && st.active === undefined) { st.retryAt = 0; clearTimeout(st.timer); st.timer = undefined }
    if (st.active !== undefined) { st.notify?.(); return }
    const wait = st.retryAt - Date.now()
    if (wait > 0) {
      const state = st
      state.timer ??= setTimeout(() => { state.timer = undefined; this.wake(peer) }, wait)
      return
    }
    if (this.init.store.queuedFor(peer, 0, 1).length === 0) return
    const state = st
    state.active = this.session(peer, state).finally(() => {
      state.active = undefined
      if (this.running && this.init.store.queuedFor(peer, 0, 1).length > 0) this.wake(peer)
    })
  }

  /** One stream to `peer`: pipeline queued envelopes until none are left (and the stream idled). */
  private async session (peer: string, st: PeerState): Promise<void> {
    const window: Array<{ id: string, bytes: number }> = []
    const settlements: Settlement[] = []
    let stream: Stream | undefined
    let transient = false
    let settleScheduled = false
    const settle = (): void => {
      settleScheduled = false
      try { this.init.store.settle(settlements.splice(0)) } catch { /* rows stay queued and are sent again */ }
    }
    // Wake-ups: a reply arrived, new work was queued, the reader ended, or shutdown.
    let dirty = false
    let waiter: (() => void) | undefined
    st.notify = () => { dirty = true; waiter?.() }
    const waitChange = async (ms: number): Promise<boolean> => {
      if (dirty || this.shutdown.signal.aborted) { dirty = false; return true }
      return await new Promise<boolean>(resolve => {
        const timer = setTimeout(() => { waiter = undefined; resolve(false) }, ms)
        waiter = () => { clearTimeout(timer); waiter = undefined; dirty = false; resolve(true) }
      })
    }
    const onShutdown = (): void => { stream?.abort(new Error('a2a sender stopping')); st.notify?.() }
    let notReady = false
    this.shutdown.signal.addEventListener('abort', onShutdown)
    try {
      try {
        // Looks the peer up afresh when all its stored addresses fail (issue 12 §3).
        stream = await dialProtocolFinding(this.init.node, peerIdFromString(peer), A2A_PROTOCOL, {
          // A relay with configured limits makes its connections "limited"; envelopes are
          // acknowledged one by one, so a cut-off stream loses nothing (issue 12).
          runOnLimitedConnection: true,
          signal: anySignalWithin(DIAL_TIMEOUT_MS, this.shutdown.signal)
        })
      } catch (err) {
        if (!this.shutdown.signal.aborted) this.init.store.recordPeerAttempt(peer)
        throw err
      }
      const lp = lengthPrefixed(stream, { maxDataLength: MAX_REPLY_BYTES })
      let inflightBytes = 0
      let lastProgress = Date.now()
      let readerError: unknown
      let readerDone = false
      const reader = (async () => {
        for (;;) {
          const reply = parseReply(JSON.parse(utf8.decode((await lp.read()).subarray())))
          // FORBIDDEN without an id refuses the stream (the receiver's guard: no grant at all):
          // every envelope written is refused, permanently, and the session has failed.
          if (reply.id === null && reply.status === 'rejected' && reply.code === 'FORBIDDEN') {
            for (const w of window.splice(0)) {
              this.inflight.delete(w.id)
              settlements.push({ id: w.id, status: 'failed', code: reply.code, reason: reply.reason ?? 'refused' })
              void report(this.init.audit, { type: 'A2A_SEND_FAILED', actor: 'node', outcome: 'denied', detail: { id: w.id, peer, code: reply.code, reason: reply.reason ?? null } })
            }
            settle()
            throw forbidden(`Cannot deliver to ${peer}: ${reply.reason ?? 'the stream was refused'}`)
          }
          const head = window.shift()
          if (head === undefined || (reply.id !== null && reply.id !== head.id)) {
            throw new Error(`a2a: reply for "${reply.id}" does not match the envelope in flight "${head?.id}"`)
          }
          inflightBytes -= head.bytes
          this.inflight.delete(head.id)
          lastProgress = Date.now()
          if (reply.status !== 'rejected') settlements.push({ id: head.id, status: 'delivered' })
          else if (PERMANENT.has(reply.code ?? '')) {
            settlements.push({ id: head.id, status: 'failed', code: reply.code, reason: reply.reason ?? 'rejected' })
            void report(this.init.audit, { type: 'A2A_SEND_FAILED', actor: 'node', outcome: 'denied', detail: { id: head.id, peer, code: reply.code, reason: reply.reason ?? null } })
          } else {
            transient = true
            st.lastError = `refused: ${reply.code ?? 'error'} ${reply.reason ?? ''}`.trim()
            settlements.push({ id: head.id, status: 'retry' })
          }
          if (!settleScheduled) { settleScheduled = true; setTimeout(settle, SETTLE_DELAY_MS) }
          st.notify?.()
        }
      })()
      reader.catch(err => { readerError = err }).finally(() => { readerDone = true; st.notify?.() })

      let cursor = 0
      for (;;) {
        if (this.shutdown.signal.aborted) throw this.shutdown.signal.reason
        if (readerDone) {
          if (window.length > 0 || (readerError as Error | undefined)?.name !== 'UnexpectedEOFError') throw readerError ?? new Error('a2a: the receiver closed the stream')
          break
        }
        const room = PIPELINE_MAX_ENVELOPES - window.length
        const refill = window.length === 0 || (room >= PIPELINE_REFILL_MIN && inflightBytes < PIPELINE_MAX_BYTES)
        const rows = refill ? this.nextRows(peer, st, cursor, room) : []
        if (rows.length > 0) {
          const batch = []
          for (const r of rows) {
            const bytes = Buffer.byteLength(r.frame)
            if (batch.length > 0 && inflightBytes + bytes > PIPELINE_MAX_BYTES) break
            batch.push({ id: r.id, frame: r.frame, bytes })
            inflightBytes += bytes
            cursor = r.seq
          }
          for (const b of batch) { window.push({ id: b.id, bytes: b.bytes }); this.inflight.add(b.id) }
          // Rows left out by the byte bound are read from the outbox again next time.
          if (batch.length < rows.length) st.fresh = undefined
          lastProgress = Date.now()
          // A receiver that stops reading holds the write: bounded like a missing reply.
          await lp.writeV(batch.map(b => encoder.encode(b.frame)), { signal: anySignalWithin(REPLY_TIMEOUT_MS, this.shutdown.signal) })
          continue
        }
        if (window.length === 0) {
          if (!await waitChange(STREAM_IDLE_MS)) break
          continue
        }
        await waitChange(REPLY_TIMEOUT_MS)
        if (window.length > 0 && Date.now() - lastProgress >= REPLY_TIMEOUT_MS) throw timeout(`Cannot deliver to ${peer}: no reply within ${REPLY_TIMEOUT_MS} ms`)
      }
      await stream.close({ signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch(() => { stream?.abort(new Error('a2a: close timed out')) })
      st.failures = transient ? st.failures + 1 : 0
      if (!transient) st.lastError = undefined
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)))
      st.failures++
      notReady = isUnsupportedProtocol(err)
      if (!this.shutdown.signal.aborted) st.lastError = describeFailure(err)
    } finally {
      this.shutdown.signal.removeEventListener('abort', onShutdown)
      settle()
      // Written but never answered: one attempt each (answered ones were counted by settle).
      try { this.init.store.recordAttempts(window.map(w => w.id)) } catch { /* only a counter */ }
      for (const w of window) this.inflight.delete(w.id)
      st.notify = undefined
      st.fresh = undefined
      const backoff = st.failures > 0 ? backoffMs(st.failures, this.init.retryBaseMs, this.init.retryMaxMs) : 0
      st.retryAt = st.failures > 0 ? Date.now() + (notReady ? Math.min(backoff, NOT_READY_RETRY_MS) : backoff) : 0
    }
  }

  /**
   * Up to `room` queued rows after `cursor`, oldest first: read from the outbox until one read
   * comes back short (every durable row is then in hand), then from the rows `answer` hands over
   * as they become durable (issue 15: the outbox read was ~12 % of the sender's CPU).
   */
  private nextRows (peer: string, st: PeerState, cursor: number, room: number): QueuedFrame[] {
    if (st.fresh === undefined) {
      const rows = this.init.store.queuedFor(peer, cursor, room)
      if (rows.length < room) st.fresh = []
      return rows
    }
    // Rows already written, and rows the read above returned too (made durable around it), go by
    // seq; the rest stay until written, in case the caller cannot take them all.
    const now = Date.now()
    let fresh = st.fresh
    let start = 0
    while (start < fresh.length && (fresh[start].seq <= cursor || fresh[start].expiresAt <= now)) start++
    if (start > 0) st.fresh = fresh = fresh.slice(start)
    return fresh.slice(0, room)
  }

  private scheduleExpiry (force = false): void {
    if (!this.running) return
    const next = this.init.store.nextOutboxExpiry()
    if (next === null) { clearTimeout(this.expiryTimer); this.expiryAt = Infinity; return }
    if (!force && next >= this.expiryAt) return
    clearTimeout(this.expiryTimer)
    this.expiryAt = next
    const delay = Math.min(EXPIRY_SWEEP_MAX_MS, Math.max(EXPIRY_SWEEP_MIN_MS, next - Date.now()))
    this.expiryTimer = setTimeout(() => { this.expire() }, delay)
    this.expiryTimer.unref()
  }

  private expire (): void {
    this.expiryAt = Infinity
    try {
      for (const e of this.init.store.expireOutbox(Date.now(), this.inflight)) {
        void report(this.init.audit, { type: 'A2A_EXPIRED', actor: 'node', outcome: 'error', detail: { id: e.id, peer: e.peer, mailbox: e.mailbox, attempts: e.attempts } })
      }
    } finally {
      this.scheduleExpiry(true)
    }
  }
}

/** A delivery failure in words an operator can act on (libp2p errors by name). */
/**
 * A peer that does not speak the mailbox protocol yet: its node is starting (the mesh is up
 * before the a2a part registers the handler). It is tried again within `NOT_READY_RETRY_MS`,
 * not after the full backoff, which held messages for up to a minute (helper finding, stop 25).
 */
function isUnsupportedProtocol (err: unknown): boolean {
  const e = err as { name?: string, cause?: { name?: string } } | undefined
  return e?.name === 'UnsupportedProtocolError' || e?.cause?.name === 'UnsupportedProtocolError'
}

function describeFailure (err: unknown): string {
  const e = err as Error
  if (e?.name === 'NoValidAddressesError' || /no valid addresses|no addresses/i.test(e?.message ?? '')) return 'no address for peer (connect it with `sov peers connect MULTIADDR` or add a bootstrap)'
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${DIAL_TIMEOUT_MS / 1000} s`
  // A node that revoked us closes each connection as it opens: said as such, not as the raw
  // ConnectionClosedError or UnexpectedEOFError a user could not read (helper finding, stop 26).
  if (e?.name === 'UnexpectedEOFError' || e?.name === 'ConnectionClosedError' || /ECONNRESET|unexpected end|stream reset|connection reset|closed connection during opening/i.test(e?.message ?? '')) {
    return 'the peer closed the connection as it opened (it may have revoked this node: ask its operator; or it is restarting); retrying'
  }
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`
}
