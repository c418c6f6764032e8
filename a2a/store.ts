/**
 * The mailbox store: one SQLite file (`mailbox.db`, WAL, 0600) holding the outbox, the inbox,
 * the ids already accepted and the dead letters. Every method is one transaction.
 *
 * Durability (issue 15): the two commits that are answered as durable — queueing a send
 * (`enqueue`, answered to the caller) and accepting envelopes (`accept`, answered to the peer)
 * — are group-committed: they run without an fsync on the event loop, and the caller awaits
 * `durable()` (one fdatasync of the WAL on the thread pool, shared by every commit made while
 * the previous one ran) before it answers. `queuedFor` never hands out an outbox row before it
 * is durable, so no envelope leaves the node before its caller could have been told it is
 * queued. Other writes are relaxed (`relaxed`), or, when rare, synced at once (`full`). The
 * connection stays in `synchronous = NORMAL`: switching it around every relaxed transaction
 * cost two more statements, parsed each time, per commit (issue 15).
 */
import type Database from 'better-sqlite3'
import { openDatabase, transactionOf } from './sqlite.js'
import { WalSync } from './wal-sync.js'
import { chmodSync, closeSync, openSync } from 'node:fs'
import { conflict } from '../protocol/index.js'
import { checkHeader, damaged, useIncrementalVacuum, worthReclaiming } from './store-file.js'
import { parseLease } from './lease.js'
import { prepare, type InboxRow } from './store-statements.js'

export { parseLease }
import { migrate } from './schema.js'

/** How long an accepted id is remembered after its TTL ran out. @default 1 hour, in ms */
export const DEDUPE_GRACE_MS = 3600_000
/** How long a statement waits for another connection's lock (SQLite `busy_timeout`). @default 5 s, in ms */
export const BUSY_TIMEOUT_MS = 5000
/** How long settled outbox rows stay listed. @default 7 days, in ms */
export const OUTBOX_RETENTION_MS = 7 * 24 * 3600_000

export type OutboxStatus = 'queued' | 'delivered' | 'failed' | 'expired'

export interface OutboxInput {
  id: string
  peer: string
  mailbox: string
  messageId: string
  frame: string
  createdAt: number
  expiresAt: number
  /** Set by `enqueue` when the row is new: its place in the outbox. */
  seq?: number
}

export interface OutboxItem {
  id: string
  to: string
  mailbox: string
  messageId: string
  status: OutboxStatus
  attempts: number
  code?: string
  reason?: string
  createdAt: number
  expiresAt: number
  settledAt?: number
}

export interface QueuedFrame { seq: number, id: string, frame: string, expiresAt: number }

export interface Settlement { id: string, status: 'delivered' | 'failed' | 'retry', code?: string, reason?: string }

/**
 * An envelope to accept. `bytes` (its frame's size) marks one from the mesh, whose A2A_ACCEPTED row
 * is tracked until durable; a local delivery (a pull agent's call) is audited as its call.
 */
export interface AcceptInput { id: string, sender: string, mailbox: string, ts: number, ttl: number, message: string, bytes?: number }

/** An accepted envelope whose A2A_ACCEPTED row is not known to be on disk (`accept_unaudited`). */
export interface UnauditedAccept { id: string, sender: string, mailbox: string, bytes: number }
export type AcceptOutcome = 'accepted' | 'duplicate' | 'conflict'

export interface InboxItem {
  id: string
  from: string
  mailbox: string
  ts: number
  receivedAt: number
  deliveries: number
  leaseUntil: number
  /** The lease this hand-out is (`<id>.<delivery>`): what `ack` and `nack` name (DESIGN §13, issue 10). */
  lease: string
  message: unknown
}

export interface DeadLetter { id: string, mailbox: string, from: string, deliveries: number, reason: string }

export interface MailboxStats { mailbox: string, ready: number, leased: number, dead: number }


export class MailboxStore {
  private readonly db: Database.Database
  private readonly q: ReturnType<typeof prepare>
  /** Group commit of the WAL (a no-op for `:memory:`). */
  private readonly wal: WalSync
  /** First outbox seq of each `enqueue` not yet durable, ascending: `queuedFor` stops before them. */
  private undurable: number[] = []
  /** A truncating checkpoint was busy: `reclaim` tries it again. */
  private checkpointOwed = false
  private readonly tx: <T>(fn: () => T) => T

  private constructor (db: Database.Database, wal: WalSync) {
    this.db = db
    this.q = prepare(db)
    this.wal = wal
    this.tx = transactionOf(db)
  }

  /**
   * Opens and migrates the database at `path`, creating it 0600 only when no file is there. A
   * file that is empty, not SQLite or shorter than its header says (truncated), or that SQLite
   * finds damaged, throws `INTERNAL` naming the file and the recovery step, and is left exactly
   * as it was: a fresh database in its place would drop every queued message and the dedupe
   * table without a word (issue 10).
   */
  static open (path: string): MailboxStore {
    if (path !== ':memory:') {
      try {
        closeSync(openSync(path, 'wx', 0o600))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        checkHeader(path)
      }
    }
    let db: Database.Database
    try {
      db = openDatabase(path, { fileMustExist: path !== ':memory:' })
    } catch (err) {
      throw damaged(path, err)
    }
    try {
      if (path !== ':memory:') chmodSync(path, 0o600)
      useIncrementalVacuum(db)
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
      migrate(db)
      // Whatever a killed predecessor committed without its sync is made durable before this
      // process acts on it (sends a queued envelope, hands out a message).
      const wal = new WalSync(path, db)
      wal.syncNow()
      db.pragma('synchronous = NORMAL')
      return new MailboxStore(db, wal)
    } catch (err) {
      db.close()
      throw damaged(path, err)
    }
  }

  /** Makes pending commits durable and closes the file. */
  close (): void {
    this.wal.close()
    if (this.db.open) this.db.close()
  }

  /**
   * Resolves once every commit made before the call is on disk (one fdatasync shared with every
   * other caller meanwhile). Rejects with the disk's error: the caller must then undo what it
   * committed (`dropQueued`, `unaccept`) and report a failure.
   */
  async durable (): Promise<void> {
    const upTo = this.undurable.at(-1)
    try {
      await this.wal.sync()
    } finally {
      // Either on disk now, or about to be dropped by the caller: no longer held back.
      if (upTo !== undefined) this.undurable = this.undurable.filter(seq => seq > upTo)
    }
  }

  /**
   * Gives the pages of drained messages back to the file system (issue 14: a mailbox that held
   * large messages kept its size for ever): once `worthReclaiming` says so, frees them
   * (incremental vacuum) and checkpoints the WAL, which truncates both files. Returns the bytes
   * freed. Called by the sweep, so it never waits: a checkpoint that another connection blocks
   * is owed and retried by the next call.
   */
  reclaim (): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number
    const free = (this.db.pragma('freelist_count', { simple: true }) as number) * pageSize
    const vacuum = worthReclaiming(free, (this.db.pragma('page_count', { simple: true }) as number) * pageSize)
    if (!vacuum && !this.checkpointOwed) return 0
    // exec runs the pragma to its end; a prepared statement's step frees one page.
    if (vacuum) this.db.exec('PRAGMA incremental_vacuum')
    // The file shrinks only when the checkpoint copies the whole WAL back, which a reader of an
    // older snapshot prevents (a live backup: `sqlite3 mailbox.db ".backup …"`). A TRUNCATE
    // checkpoint waits busy_timeout for it, stalling the event loop, and the pages are off the
    // freelist by then, so the next sweep would never see a reason to try again.
    this.db.pragma('busy_timeout = 0')
    try {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>
      this.checkpointOwed = result.busy !== 0
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    }
    return vacuum ? free : 0
  }

  /** The open database, for the operator verbs in `dead-letters.ts`. */
  get database (): Database.Database { return this.db }

  get schemaVersion (): number { return this.db.pragma('user_version', { simple: true }) as number }

  // ---- sender side ----

  /**
   * Queues envelopes, all in one relaxed transaction: the caller awaits `durable()` before it
   * answers, and until then `queuedFor` holds the new rows back. For each input returns `null`
   * when queued (and sets its `seq`), or the id already queued for the same peer, mailbox and
   * A2A messageId (send is idempotent on it).
   */
  enqueue (rows: OutboxInput[]): Array<string | null> {
    let first: number | undefined
    const out = this.relaxed(() => rows.map(r => {
      // The insert is the lookup: only a messageId already queued costs a second statement.
      const ran = this.q.outboxInsert.run(r.id, r.peer, r.mailbox, r.messageId, r.frame, r.createdAt, r.expiresAt)
      if (ran.changes === 0) return (this.q.outboxByMessage.get(r.peer, r.mailbox, r.messageId) as { id: string }).id
      const seq = Number(ran.lastInsertRowid)
      r.seq = seq
      first ??= seq
      return null
    }))
    if (first !== undefined && this.wal.active) this.undurable.push(first)
    return out
  }

  /** Takes back queued envelopes whose commit could not be made durable (best effort). */
  dropQueued (ids: string[]): void {
    if (ids.length > 0) this.relaxed(() => { for (const id of ids) this.q.outboxDrop.run(id) })
  }

  /** Peers that have queued, unexpired envelopes. */
  queuedPeers (now = Date.now()): string[] {
    return (this.q.queuedPeers.all(now) as Array<{ peer: string }>).map(r => r.peer)
  }

  /** Queued, unexpired, durable envelopes for `peer` after `afterSeq`, oldest first. */
  queuedFor (peer: string, afterSeq: number, limit: number, now = Date.now()): QueuedFrame[] {
    const before = this.undurable[0] ?? Number.MAX_SAFE_INTEGER
    return (this.q.queuedFor.all(peer, afterSeq, before, now, limit) as any[]).map(r => ({ seq: r.seq, id: r.id, frame: r.frame, expiresAt: r.expires_at }))
  }

  /** Counts one more delivery attempt for each id (written but never answered). */
  recordAttempts (ids: string[]): void {
    if (ids.length === 0) return
    this.relaxed(() => { for (const id of ids) this.q.outboxAttempt.run(id) })
  }

  /** Counts a failed attempt (the peer could not be reached) for every queued envelope to `peer`. */
  recordPeerAttempt (peer: string, now = Date.now()): void {
    this.relaxed(() => { this.q.outboxPeerAttempt.run(peer, now) })
  }

  /**
   * Records the answers to written envelopes, each one attempt more: delivered or failed (only
   * rows still queued change), or `retry` (a transient refusal: the row stays queued).
   */
  settle (results: Settlement[], now = Date.now()): void {
    if (results.length === 0) return
    this.relaxed(() => {
      for (const r of results) {
        if (r.status === 'retry') this.q.outboxAttempt.run(r.id)
        else this.q.outboxSettle.run({ status: r.status, code: r.code ?? null, reason: r.reason ?? null, now, id: r.id })
      }
    })
  }

  /**
   * Commits without waiting for fsync (`synchronous = NORMAL`): WAL order keeps the file
   * consistent, the commit survives SIGKILL (it is in the OS cache), and the next sync of the WAL
   * (`durable()`, `full`, or SQLite's own before a checkpoint) makes it durable. Used where a
   * power cut can only cause a repeat, never a loss:
   * - sender bookkeeping: an envelope is sent again and answered "duplicate", or an attempt
   *   goes uncounted;
   * - consumer leases, acks, nacks and dead-letter moves: consumers are local processes (the
   *   IPC socket), so they lose power with the node; afterwards a message may be handed out
   *   once more (at-least-once), and nothing accepted from a peer is lost;
   * - `enqueue` and `accept`, whose callers await `durable()` before they answer.
   */
  private relaxed<T> (fn: () => T): T { return this.tx(fn) as T }

  /**
   * One transaction made durable before it returns: when it changed a row, the WAL is synced on
   * the event loop, as `synchronous = FULL` does at a commit. For rare writes (expiry, pruning,
   * operator verbs).
   */
  private full<T> (fn: () => T): T {
    const before = this.q.totalChanges.get() as number
    const r = this.tx(fn) as T
    // A transaction that wrote nothing left nothing to sync (a FULL commit would not sync either).
    if (this.q.totalChanges.get() !== before) this.wal.syncNow()
    return r
  }

  /** Runs an operator verb of `dead-letters.ts` on the database as one durable transaction (`full`). */
  durably<T> (fn: (db: Database.Database) => T): T { return this.full(() => fn(this.db)) }

  /** Marks queued envelopes past their TTL expired (except those in `skip`, still in flight). */
  expireOutbox (now = Date.now(), skip: ReadonlySet<string> = new Set()): Array<{ id: string, peer: string, mailbox: string, attempts: number }> {
    return this.full(() => {
      const due = (this.q.outboxDue.all(now) as any[]).filter(r => !skip.has(r.id))
      for (const r of due) this.q.outboxExpire.run('TTL ran out before the peer accepted it', now, r.id)
      return due.map(r => ({ id: r.id, peer: r.peer, mailbox: r.mailbox, attempts: r.attempts }))
    })
  }

  /** Earliest expiry among queued envelopes, or null. */
  nextOutboxExpiry (): number | null {
    return (this.q.outboxNextExpiry.get() as { t: number | null }).t
  }

  /** Outbox rows by status. */
  outboxCounts (): Record<OutboxStatus, number> {
    const out: Record<OutboxStatus, number> = { queued: 0, delivered: 0, failed: 0, expired: 0 }
    for (const r of this.q.outboxCounts.all() as Array<{ status: OutboxStatus, n: number }>) out[r.status] = r.n
    return out
  }

  outbox (status?: OutboxStatus): OutboxItem[] {
    const rows = (status === undefined ? this.q.outboxAll.all() : this.q.outboxByStatus.all(status)) as any[]
    return rows.map(r => {
      const item: OutboxItem = { id: r.id, to: r.peer, mailbox: r.mailbox, messageId: r.message_id, status: r.status, attempts: r.attempts, createdAt: r.created_at, expiresAt: r.expires_at }
      if (r.code !== null) item.code = r.code
      if (r.reason !== null) item.reason = r.reason
      if (r.settled_at !== null) item.settledAt = r.settled_at
      return item
    })
  }

  // ---- receiver side ----

  /**
   * Commits a batch of received envelopes in one relaxed transaction; one outcome per input, in
   * order. The caller awaits `durable()` before it answers the sender.
   */
  accept (batch: AcceptInput[], now = Date.now()): AcceptOutcome[] {
    if (batch.length === 0) return []
    return this.relaxed(() => batch.map((e): AcceptOutcome => {
      // The insert is the lookup: only an id already known costs a second statement.
      if (this.q.dedupeInsert.run(e.id, e.sender, now + e.ttl + DEDUPE_GRACE_MS).changes === 0) {
        return (this.q.dedupeGet.get(e.id) as { sender: string }).sender === e.sender ? 'duplicate' : 'conflict'
      }
      if (this.q.inboxInsert.run(e.id, e.mailbox, e.sender, e.ts, now, e.message).changes !== 1) return 'duplicate'
      if (e.bytes !== undefined) this.q.unauditedInsert.run(e.id, e.sender, e.mailbox, e.bytes)
      return 'accepted'
    }))
  }

  /** Forgets accepted envelopes whose audit rows are now on disk (relaxed: a crash only repeats the check). */
  audited (ids: string[]): void {
    if (ids.length > 0) this.relaxed(() => { for (const id of ids) this.q.unauditedDrop.run(id) })
  }

  /** Accepted envelopes whose audit rows may never have reached the disk (a crash, a failing log). */
  unaudited (): UnauditedAccept[] {
    return this.q.unauditedAll.all() as UnauditedAccept[]
  }

  /** `accept` made durable before it returns, on the event loop: for rare synchronous callers. */
  acceptNow (batch: AcceptInput[], now = Date.now()): AcceptOutcome[] {
    const outcomes = this.accept(batch, now)
    this.wal.syncNow()
    return outcomes
  }

  /** Takes back accepted envelopes whose commit could not be made durable (best effort). */
  unaccept (ids: string[]): void {
    if (ids.length > 0) this.relaxed(() => { for (const id of ids) { this.q.inboxDropId.run(id); this.q.dedupeDrop.run(id); this.q.unauditedDrop.run(id) } })
  }

  /** Sender of an id we have accepted (still remembered), if any. */
  acceptedFrom (id: string): string | undefined {
    return (this.q.dedupeGet.get(id) as { sender: string } | undefined)?.sender
  }

  // ---- consumers ----

  /**
   * Leases up to `max` ready messages of `mailbox` for `leaseMs`, oldest first, stopping before
   * the stored messages would pass `maxBytes` (the first one is always leased, whatever its size:
   * a reply must be able to carry every message that was accepted). A ready message already
   * leased `maxDeliveries` times moves to the dead letters instead (returned in `dead`).
   */
  lease (mailbox: string, opts: { leaseMs: number, max: number, maxDeliveries: number, maxBytes?: number }, now = Date.now()): { leased: InboxItem[], dead: DeadLetter[] } {
    const maxBytes = opts.maxBytes ?? Infinity
    return this.relaxed(() => {
      const leased: InboxItem[] = []
      const dead: DeadLetter[] = []
      const until = now + opts.leaseMs
      let bytes = 0
      let full = false
      // Each round either leases or buries every row it reads (or stops on the byte budget), so it ends.
      while (!full) {
        const rows = this.q.inboxReady.all(mailbox, now, opts.max - leased.length) as InboxRow[]
        for (const r of rows) {
          if (r.deliveries >= opts.maxDeliveries) {
            dead.push(this.bury(r, `leased ${r.deliveries} times without an ack`, now))
            continue
          }
          if (leased.length > 0 && bytes + r.bytes > maxBytes) { full = true; break }
          bytes += r.bytes
          this.q.inboxLease.run(until, r.seq)
          leased.push(toItem(r, r.deliveries + 1, until))
        }
        if (rows.length === 0 || leased.length >= opts.max) break
      }
      return { leased, dead }
    })
  }

  /**
   * Undoes leases whose reply never reached the consumer: the delivery is not counted and the
   * message is ready at once. Only a lease still exactly as handed out (same delivery, same end)
   * is undone. Returns how many were.
   */
  unlease (items: Array<Pick<InboxItem, 'id' | 'mailbox' | 'deliveries' | 'leaseUntil'>>): number {
    if (items.length === 0) return 0
    return this.relaxed(() => items.reduce((n, m) => n + this.q.inboxUnlease.run(m.mailbox, m.id, m.deliveries, m.leaseUntil).changes, 0))
  }

  /**
   * Deletes leased messages, each named by the lease `receive` returned. A lease that ran out
   * still counts until the message is leased again. Throws `CONFLICT` (and changes nothing) when
   * a lease is stale: the message was leased again since, or returned by `nack`. Messages no
   * longer in the mailbox (acked, dead) are listed as missing. Throws `BAD_REQUEST` for a string
   * that is not a lease.
   */
  ack (mailbox: string, leases: string[]): { acked: string[], missing: string[] } {
    return this.relaxed(() => {
      const acked: string[] = []
      const missing: string[] = []
      for (const lease of leases) {
        const r = this.current(mailbox, lease, 'acknowledge')
        if (r === undefined) { missing.push(lease); continue }
        this.q.inboxDelete.run(r.seq)
        acked.push(lease)
      }
      return { acked, missing }
    })
  }

  /**
   * Returns leased messages to the queue, or to the dead letters when exhausted; leases as for
   * `ack` (`CONFLICT` for a stale one, nothing changed).
   */
  nack (mailbox: string, leases: string[], maxDeliveries: number, now = Date.now()): { nacked: string[], missing: string[], dead: DeadLetter[] } {
    return this.relaxed(() => {
      const nacked: string[] = []
      const missing: string[] = []
      const dead: DeadLetter[] = []
      for (const lease of leases) {
        const r = this.current(mailbox, lease, 'return')
        if (r === undefined) { missing.push(lease); continue }
        nacked.push(lease)
        if (r.deliveries >= maxDeliveries) dead.push(this.bury(r, `nacked after ${r.deliveries} deliveries`, now))
        else this.q.inboxRelease.run(r.seq)
      }
      return { nacked, missing, dead }
    })
  }

  /**
   * Deletes message `id` of `mailbox` in any state, a dead letter too (an answered pull call,
   * issue 11: a call that died in the mailbox and was answered anyway must not be redriven).
   */
  removeAnswered (mailbox: string, id: string): boolean {
    return this.relaxed(() => {
      const r = this.q.inboxById.get(mailbox, id) as InboxRow | undefined
      if (r !== undefined) this.q.inboxDelete.run(r.seq)
      return this.q.deadDeleteId.run(mailbox, id).changes > 0 || r !== undefined
    })
  }

  /**
   * Moves the end of the lease on message `id` of `mailbox` to `until` (ms since the epoch) when
   * it is leased and would end sooner: a pull agent that answers `working` still holds its call.
   */
  renewLease (mailbox: string, id: string, until: number, now = Date.now()): boolean {
    return this.relaxed(() => this.q.inboxRenew.run({ mailbox, id, until, now }).changes > 0)
  }

  /** The row a lease still holds; undefined when the message is gone; `CONFLICT` when stale. */
  private current (mailbox: string, lease: string, verb: string): InboxRow | undefined {
    const { id, delivery } = parseLease(lease)
    const r = this.q.inboxById.get(mailbox, id) as InboxRow | undefined
    if (r === undefined) return undefined
    if (r.visible_at === 0 || r.earlier_deliveries + r.deliveries !== delivery) {
      const now = r.visible_at === 0 ? 'it is back in the queue' : `it was leased again (lease ${leaseName(r, r.deliveries)})`
      throw conflict(`Cannot ${verb} lease "${lease}": ${now}; nothing was changed — receive it again`)
    }
    return r
  }

  /** Moves messages whose lease ran out after their last allowed delivery to the dead letters. */
  buryExhausted (maxDeliveries: number, now = Date.now()): DeadLetter[] {
    return this.relaxed(() => {
      const rows = this.q.inboxExhausted.all(now, maxDeliveries) as InboxRow[]
      return rows.map(r => this.bury(r, `lease ran out after ${r.deliveries} deliveries`, now))
    })
  }

  /** When the next lease in `mailbox` (or any mailbox) runs out, or null. */
  nextLeaseExpiry (now = Date.now(), mailbox?: string): number | null {
    const r = (mailbox === undefined ? this.q.nextLeaseAny.get(now) : this.q.nextLease.get(mailbox, now)) as { t: number | null }
    return r.t
  }

  mailboxes (now = Date.now()): MailboxStats[] {
    const out = new Map<string, MailboxStats>()
    const get = (mailbox: string): MailboxStats => {
      let s = out.get(mailbox)
      if (s === undefined) { s = { mailbox, ready: 0, leased: 0, dead: 0 }; out.set(mailbox, s) }
      return s
    }
    for (const r of this.q.inboxStats.all({ now }) as any[]) { const s = get(r.mailbox); s.ready = r.ready; s.leased = r.leased }
    for (const r of this.q.deadStats.all() as any[]) get(r.mailbox).dead = r.dead
    // Code-unit order, as `a2a.mailboxes` pages with `after`.
    return [...out.values()].sort((a, b) => a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : 0)
  }

  /** Forgets expired dedupe ids and old settled outbox rows. */
  prune (now = Date.now()): { dedupe: number, outbox: number } {
    return this.full(() => ({
      dedupe: this.q.dedupePrune.run(now).changes,
      outbox: this.q.outboxPrune.run(now - OUTBOX_RETENTION_MS).changes
    }))
  }

  private bury (r: InboxRow, reason: string, now: number): DeadLetter {
    const moved = this.q.deadInsert.run(r.id, r.mailbox, r.sender, r.ts, r.received_at, r.message, r.deliveries, r.earlier_deliveries, now, reason).changes
    if (moved !== 1) throw conflict(`Cannot move message "${r.id}" to the dead letters: the id is already there`)
    this.q.inboxDelete.run(r.seq)
    return { id: r.id, mailbox: r.mailbox, from: r.sender, deliveries: r.deliveries, reason }
  }
}

function toItem (r: InboxRow, deliveries: number, leaseUntil: number): InboxItem {
  return { id: r.id, from: r.sender, mailbox: r.mailbox, ts: r.ts, receivedAt: r.received_at, deliveries, leaseUntil, lease: leaseName(r, deliveries), message: JSON.parse(r.message) }
}

/** `<id>.<n>`, n counting every delivery of the message, before redrives too (schema 1 → 2). */
function leaseName (r: InboxRow, deliveries: number): string {
  return `${r.id}.${r.earlier_deliveries + deliveries}`
}
