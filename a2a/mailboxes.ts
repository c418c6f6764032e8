/**
 * The mailbox service: the store, the `/sov/a2a/1.0.0` receiver and sender, and the consumer
 * side (leases with long-poll, ack, nack, dead letters) under one lifecycle.
 */
import type { Libp2p, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import {
  A2A_PROTOCOL, DEFAULT_MAX_DELIVERIES, MAX_ENVELOPE_BYTES, RECEIVE_MAX_BYTES, badRequest, unavailable
} from '../protocol/index.js'
import { Receiver } from './receiver.js'
import { RETRY_BASE_MS, RETRY_MAX_MS, Sender } from './sender.js'
import { MailboxStore, type DeadLetter, type InboxItem, type MailboxStats, type OutboxItem, type OutboxStatus } from './store.js'
import { report, type AuditSink, type Authorize } from './types.js'
import { listDead, purge, redrive, retryOutbox, type DeadLetterItem, type PurgeWhich } from './dead-letters.js'

/** Lease given by `receive` when none is asked for. @default 30 s */
export const DEFAULT_LEASE_MS = 30_000
/** Longest lease `receive` grants. @default 24 h */
export const MAX_LEASE_MS = 24 * 3600_000
/** Messages `receive` returns when no `max` is given. @default 10 */
export const DEFAULT_RECEIVE_MAX = 10
/** Longest long-poll of `receive`. @default 5 min */
export const MAX_WAIT_MS = 300_000
/** How often exhausted leases are moved to the dead letters. @default 1 s */
export const SWEEP_INTERVAL_MS = 1000
/** How often expired dedupe ids and old outbox rows are dropped. @default 1 h */
export const PRUNE_INTERVAL_MS = 3600_000
/** Inbound `/sov/a2a/1.0.0` streams per connection. @default 8 */
export const MAX_INBOUND_STREAMS = 8

export interface MailboxesInit {
  /** A started libp2p node (the mesh node). */
  node: Libp2p
  /** Path of `mailbox.db` (created 0600). */
  dbPath: string
  authorize: Authorize
  audit: AuditSink
  /** Largest envelope accepted or sent, in bytes. @default MAX_ENVELOPE_BYTES (1 MiB) */
  maxEnvelopeBytes?: number
  /** Leases of one message before it moves to the dead letters. @default 5 */
  maxDeliveries?: number
  /** First retry delay of a failed delivery. @default RETRY_BASE_MS (500 ms) */
  retryBaseMs?: number
  /** Longest retry delay. @default RETRY_MAX_MS (60 s) */
  retryMaxMs?: number
  /** Dead-letter sweep period. @default SWEEP_INTERVAL_MS (1 s) */
  sweepIntervalMs?: number
  /**
   * Registers the inbound handler and returns its remover. Lets the daemon put a guard in front
   * of the protocol. @default `node.handle()` / `node.unhandle()`
   */
  handleProtocol?: (protocol: string, handler: StreamHandler, options: StreamHandlerOptions) => Promise<() => Promise<void>>
  /**
   * Which of `ids` have an A2A_ACCEPTED row among the audit log's recent rows: at start, an
   * acceptance left in `accept_unaudited` by a crash gets its row unless it is there already.
   * @default none are
   */
  acceptedInAudit?: (ids: string[]) => Promise<Set<string>>
}

export interface ReceiveOptions {
  /** @default DEFAULT_LEASE_MS */
  leaseMs?: number
  /** @default DEFAULT_RECEIVE_MAX */
  max?: number
  /** Wait this long for a message when none is ready. @default 0 */
  waitMs?: number
  /** Stored message bytes per call (at least one message is always leased). @default RECEIVE_MAX_BYTES */
  maxBytes?: number
}

export type MailboxesStatus = 'stopped' | 'starting' | 'started' | 'stopping'

export class Mailboxes {
  status: MailboxesStatus = 'stopped'
  private readonly init: Required<MailboxesInit>
  private store?: MailboxStore
  private sender?: Sender
  private receiver?: Receiver
  private readonly waiters = new Map<string, Set<() => void>>()
  private shutdown = new AbortController()
  private sweepTimer?: NodeJS.Timeout
  private unhandle?: () => Promise<void>
  private lastPrune = 0

  constructor (init: MailboxesInit) {
    this.init = {
      maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
      maxDeliveries: DEFAULT_MAX_DELIVERIES,
      retryBaseMs: RETRY_BASE_MS,
      retryMaxMs: RETRY_MAX_MS,
      sweepIntervalMs: SWEEP_INTERVAL_MS,
      handleProtocol: async (protocol, handler, options) => {
        await init.node.handle(protocol, handler, options)
        return async () => { await init.node.unhandle(protocol) }
      },
      ...stripUndefined(init)
    } as Required<MailboxesInit>
  }

  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    this.status = 'starting'
    try {
      const store = this.store = MailboxStore.open(this.init.dbPath)
      this.shutdown = new AbortController()
      await this.recordUnaudited(store)
      this.receiver = new Receiver({
        store,
        authorize: this.init.authorize,
        audit: this.init.audit,
        maxEnvelopeBytes: this.init.maxEnvelopeBytes,
        onAccepted: mailboxes => { for (const m of mailboxes) this.notify(m) }
      })
      this.unhandle = await this.init.handleProtocol(A2A_PROTOCOL, this.receiver.handle, { maxInboundStreams: MAX_INBOUND_STREAMS, runOnLimitedConnection: true })
      this.sender = new Sender({
        node: this.init.node,
        store,
        audit: this.init.audit,
        maxEnvelopeBytes: this.init.maxEnvelopeBytes,
        retryBaseMs: this.init.retryBaseMs,
        retryMaxMs: this.init.retryMaxMs
      })
      this.sender.start()
      this.sweepTimer = setInterval(() => { this.sweep() }, this.init.sweepIntervalMs)
      this.sweepTimer.unref()
      this.status = 'started'
    } catch (err) {
      this.status = 'started'
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return
    this.status = 'stopping'
    clearInterval(this.sweepTimer)
    this.shutdown.abort()
    for (const set of this.waiters.values()) for (const w of set) w()
    await this.sender?.stop()
    await this.unhandle?.().catch(() => {})
    this.unhandle = undefined
    this.receiver?.closeAll()
    this.store?.close()
    this.store = this.sender = this.receiver = undefined
    this.status = 'stopped'
  }

  /** Queues `message` for `mailbox` on `peer`; resolves with the envelope id once it is on disk. */
  async send (peer: string, mailbox: string, message: unknown, ttlMs?: number): Promise<{ id: string, duplicate: boolean }> {
    return await this.running().sender!.send(peer, mailbox, message, ttlMs)
  }

  /**
   * Leases up to `max` ready messages of `mailbox` for `leaseMs`; with `waitMs`, waits that long
   * for one to arrive (or for a lease to run out). Returns `[]` when none came.
   */
  async receive (mailbox: string, opts: ReceiveOptions = {}, options: { signal?: AbortSignal } = {}): Promise<InboxItem[]> {
    const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS
    const max = opts.max ?? DEFAULT_RECEIVE_MAX
    const waitMs = opts.waitMs ?? 0
    if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) throw badRequest(`Cannot lease for ${leaseMs} ms: use 1 ms to ${MAX_LEASE_MS} ms`)
    if (!Number.isInteger(max) || max < 1 || max > 1000) throw badRequest(`Cannot receive ${max} messages: use 1 to 1000`)
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_WAIT_MS) throw badRequest(`Cannot wait ${waitMs} ms: use 0 to ${MAX_WAIT_MS} ms`)
    const deadline = Date.now() + waitMs
    for (;;) {
      const store = this.running().store!
      // A caller that is gone would never see what we lease.
      if (options.signal?.aborted === true) return []
      const now = Date.now()
      const { leased, dead } = store.lease(mailbox, { leaseMs, max, maxDeliveries: this.init.maxDeliveries, maxBytes: opts.maxBytes ?? RECEIVE_MAX_BYTES }, now)
      this.auditDead(dead)
      if (leased.length > 0 || now >= deadline) return leased
      const nextLease = store.nextLeaseExpiry(now, mailbox) ?? Infinity
      await this.waitFor(mailbox, Math.min(deadline, nextLease) - now, options.signal)
    }
  }

  /**
   * Gives back leases whose messages never reached the consumer (the reply could not be
   * written): not counted as a delivery, ready at once. Safe after `stop()` (does nothing).
   */
  release (items: InboxItem[]): void {
    const store = this.status === 'started' ? this.store : undefined
    if (store === undefined || items.length === 0) return
    if (store.unlease(items) > 0) for (const m of new Set(items.map(i => i.mailbox))) this.notify(m)
  }

  /**
   * Puts a message into our own `mailbox` as if `sender` had delivered it (a call to a pull agent,
   * issue 11): committed before this returns, de-duplicated by `id`, consumers woken.
   */
  deliverLocal (mailbox: string, id: string, sender: string, message: unknown, ttlMs: number): 'accepted' | 'duplicate' | 'conflict' {
    const [outcome] = this.running().store!.acceptNow([{ id, sender, mailbox, ts: Date.now(), ttl: ttlMs, message: JSON.stringify(message) }])
    if (outcome === 'accepted') this.notify(mailbox)
    return outcome
  }

  /**
   * Removes message `id` from `mailbox` whatever its lease: a pull agent's final `a2a reply`
   * answered it (issue 11), so no consumer must see it again. Returns whether it was there.
   */
  settle (mailbox: string, id: string): boolean {
    return this.running().store!.removeAnswered(mailbox, id)
  }

  /**
   * Renews the lease on message `id` of `mailbox` for `leaseMs` from now, when it is leased (a
   * pull agent's `a2a reply --state working`: it is still at work on that call, issue 11).
   */
  renew (mailbox: string, id: string, leaseMs = DEFAULT_LEASE_MS): boolean {
    return this.running().store!.renewLease(mailbox, id, Date.now() + leaseMs)
  }

  /**
   * Deletes leased messages, each named by its lease (`InboxItem.lease`). Leases of messages no
   * longer in `mailbox` are listed as missing; a stale lease (the message was leased again or
   * nacked since) throws `CONFLICT` and nothing changes.
   */
  ack (mailbox: string, leases: string[]): { count: number, acked: string[], missing: string[] } {
    const r = this.running().store!.ack(mailbox, leases)
    return { count: r.acked.length, ...r }
  }

  /** Returns leased messages to the queue at once (or to the dead letters when exhausted); leases as for `ack`. */
  nack (mailbox: string, leases: string[]): { count: number, nacked: string[], missing: string[], dead: string[] } {
    const r = this.running().store!.nack(mailbox, leases, this.init.maxDeliveries)
    this.auditDead(r.dead)
    if (r.nacked.length > r.dead.length) this.notify(mailbox)
    return { count: r.nacked.length, nacked: r.nacked, missing: r.missing, dead: r.dead.map(d => d.id) }
  }

  /** Outbox rows, oldest first; queued ones carry the last delivery error to their peer. */
  outbox (status?: OutboxStatus): Array<OutboxItem & { lastError?: string }> {
    const sender = this.running().sender!
    return this.store!.outbox(status).map(r => {
      const lastError = r.status === 'queued' ? sender.lastError(r.to) : undefined
      return lastError === undefined ? r : { ...r, lastError }
    })
  }

  /** Dead letters of `mailbox` (issue 14: `sov a2a dead`). */
  dead (mailbox: string, limit?: number): DeadLetterItem[] {
    return listDead(this.running().store!.database, mailbox, limit)
  }

  /** Dead letters back to ready, deliveries reset; all of them when `ids` is undefined. */
  redrive (mailbox: string, ids?: string[]): { redriven: string[], missing: string[] } {
    const r = this.running().store!.durably(db => redrive(db, mailbox, ids))
    if (r.redriven.length > 0) this.notify(mailbox)
    return r
  }

  /** Empties the dead letters and/or ready messages of `mailbox`; leased ones stay. */
  purge (mailbox: string, which: PurgeWhich): { dead: number, ready: number } {
    return this.running().store!.durably(db => purge(db, mailbox, which))
  }

  /** Re-queues a failed outbox message and delivers it at once. */
  retry (id: string): { id: string, peer: string } {
    const r = this.running().store!.durably(db => retryOutbox(db, id))
    this.sender!.retryNow(r.peer)
    return r
  }

  /** Outbox rows by status (cheap; for status and progress checks). */
  outboxCounts (): Record<OutboxStatus, number> {
    return this.running().store!.outboxCounts()
  }

  mailboxes (): MailboxStats[] {
    return this.running().store!.mailboxes()
  }

  /**
   * Every acceptance is an audit row (docs/protocols.md): the envelopes a crash (or a failing
   * log) left accepted without one get it now — marked `recovered` — before anything new is
   * taken; a sender's retry of them is only answered "duplicate" (helper finding, stop 29).
   */
  private async recordUnaudited (store: MailboxStore): Promise<void> {
    const left = store.unaudited()
    if (left.length === 0) return
    const present = await this.init.acceptedInAudit?.(left.map(u => u.id)) ?? new Set<string>()
    const written = await Promise.all(left.map(async u => {
      if (present.has(u.id)) return u.id
      try {
        await this.init.audit({ type: 'A2A_ACCEPTED', actor: `peer:${u.sender}`, outcome: 'ok', detail: { id: u.id, mailbox: u.mailbox, bytes: u.bytes, recovered: true } })
        return u.id
      } catch (err) {
        console.error(`a2a: cannot record the acceptance of ${u.id}: ${(err as Error).message}; tried again at the next start`)
        return undefined
      }
    }))
    store.audited(written.filter((id): id is string => id !== undefined))
  }

  private running (): this {
    if (this.status !== 'started' || this.store === undefined) throw unavailable('Cannot use mailboxes: they are not running')
    return this
  }

  private notify (mailbox: string): void {
    const set = this.waiters.get(mailbox)
    if (set !== undefined) for (const w of [...set]) w()
  }

  private async waitFor (mailbox: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return
    let set = this.waiters.get(mailbox)
    if (set === undefined) { set = new Set(); this.waiters.set(mailbox, set) }
    const waiters = set
    let wake!: () => void
    const woken = new Promise<void>(resolve => { wake = resolve })
    const timer = setTimeout(wake, ms)
    waiters.add(wake)
    signal?.addEventListener('abort', wake)
    try {
      await woken
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', wake)
      waiters.delete(wake)
      if (waiters.size === 0) this.waiters.delete(mailbox)
    }
  }

  private sweep (): void {
    const store = this.store
    if (store === undefined) return
    try {
      this.auditDead(store.buryExhausted(this.init.maxDeliveries))
      if (Date.now() - this.lastPrune >= PRUNE_INTERVAL_MS) {
        store.prune()
        this.lastPrune = Date.now()
      }
      store.reclaim()
    } catch (err) {
      console.error('a2a: sweep failed:', (err as Error).message)
    }
  }

  private auditDead (dead: DeadLetter[]): void {
    for (const d of dead) {
      void report(this.init.audit, { type: 'A2A_DEAD_LETTER', actor: 'node', outcome: 'error', detail: { id: d.id, mailbox: d.mailbox, from: d.from, deliveries: d.deliveries, reason: d.reason } })
    }
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
