/**
 * The audit log (DESIGN §10): `audit/events.jsonl`, hash-chained rows, and
 * `audit/checkpoints.jsonl`, signed checkpoints.
 *
 * Group commit: `append()` seals a row and returns a promise that resolves once the row is on
 * disk. Rows appended in one tick go out in one write; every row queued while a write is in
 * flight goes out in the next single write. `events.jsonl` is opened `O_DSYNC`, so a write and
 * its sync are one call on the thread pool, and the next batch is submitted before the rows of
 * the last one are answered (issue 15). Splitting a burst so that its sealing overlaps the sync
 * was measured and dropped: sealing 64 rows (~0.27 ms) takes about as long as one sync
 * (~0.23 ms) here, so two writes per burst lost more than the overlap won (docs/protocols.md).
 * Callers that must not act before their row is durable (refusals, grants, revocations, token
 * changes) await it and refuse the action when it rejects (fail closed). A failed write is cut
 * off the file again so the chain on disk never holds a row that was not answered.
 *
 * State is loaded once at `open()`: the head (last row), the last checkpoint and a window of
 * recent rows for `tail()`. A torn last line left by a crash is moved aside into a
 * `events.jsonl.torn-<ms>` file and recorded by an `AUDIT_TORN_TAIL` row.
 */
import { open, readFile, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { SovError, badRequest, unavailable } from '../../protocol/index.js'
import { CHANGE_FAILED_TYPE, GENESIS_HASH, PURGE_TYPE, checkLine, prepareEvent, sealRow, type AuditEvent, type AuditRow } from './row.js'
import { checkpointLine, signCheckpoint, type Checkpoint } from './checkpoint.js'
import { EVENTS_DSYNC, loadAuditState } from './load.js'
import { dropCheckpointsThrough, findCut, keepSuffix, removeAbandonedPurges } from './purge.js'
import { readChunks, verifyAudit, type AuditHead, type VerifyResult } from './verify.js'
import { offsetBefore } from './seek.js'
import { SecretScrubber } from './redact.js'
import { ensureDir, explainFsError, openRw, writeAll } from '../files/index.js'

/** Rows between two automatic checkpoints. @default 1000 */
export const AUDIT_CHECKPOINT_EVERY_ROWS = 1000
/** A checkpoint is also written this long after the last one when rows were added. @default 60 s */
export const AUDIT_CHECKPOINT_INTERVAL_MS = 60_000
/** Recent rows kept in memory for `tail()`. @default 10,000 */
export const AUDIT_TAIL_WINDOW_ROWS = 10_000
/** Bytes a tail behind the window reads at a time. @default 256 KiB */
const TAIL_READ_BYTES = 256 * 1024
/** Most rows in one write. @default 8192 */
export const AUDIT_MAX_BATCH_ROWS = 8192

export interface AuditLogOptions {
  /** The `audit/` directory (created 0700). */
  dir: string
  /** Signs checkpoints (the node's libp2p identity key). */
  privateKey: PrivateKey
  /** @default AUDIT_CHECKPOINT_EVERY_ROWS */
  checkpointEvery?: number
  /** @default AUDIT_CHECKPOINT_INTERVAL_MS */
  checkpointIntervalMs?: number
  /** @default AUDIT_TAIL_WINDOW_ROWS */
  tailWindow?: number
  /** Secrets that must never reach a row, even in part; a row containing one has it replaced by `[redacted]`. */
  secrets?: () => string[]
  /** Prefixes of secrets this log cannot know (agent tokens, `sova_`): text from one on is redacted. */
  secretPrefixes?: string[]
  /** Where warnings go. @default stderr */
  warn?: (line: string) => void
}

/** A row sealed onto the chain (seq, prev, hash fixed) and waiting for its write. */
interface Pending {
  ev: AuditEvent
  detailJson: string
  row: AuditRow
  line: string
  resolve: (row: AuditRow) => void
  reject: (err: Error) => void
  /** What `append()` returned for the row. */
  written: Promise<AuditRow>
}

export interface PurgeResult { purged: number, throughSeq: number | null, anchor: string | null, seq: number | null }

export class AuditLog {
  /**
   * Durable writes of rows so far (group commit makes this far smaller than the row count), rows
   * written, rows handed to the file system (written or on their way), checkpoints, and bytes
   * `tail` read from the file (behind the in-memory window).
   */
  readonly stats = { writes: 0, rows: 0, submitted: 0, checkpoints: 0, tailBytesRead: 0 }
  /** Batch sizes of the writes so far, for the benchmark (bounded). */
  readonly batchSizes: number[] = []
  private readonly eventsPath: string
  private readonly checkpointsPath: string
  private readonly opts: Required<Omit<AuditLogOptions, 'secrets' | 'secretPrefixes'>>
  private readonly scrubber?: SecretScrubber
  private fh!: FileHandle
  private size = 0
  private cpFh!: FileHandle
  private cpSize = 0
  private durable: AuditHead = { seq: 0, hash: GENESIS_HASH }
  /** Head of the last sealed row, durable or queued: rows are chained as they are appended. */
  private sealed: AuditHead = { seq: 0, hash: GENESIS_HASH }
  private lastCp?: Checkpoint
  private lastCpAt = Date.now()
  private window: AuditRow[] = []
  private queue: Pending[] = []
  private flushing = false
  private lock: Promise<unknown> = Promise.resolve()
  /** Exclusive sections queued or running; 0 means the files are free right now. */
  private held = 0
  /** A flush is due at the end of this tick. */
  private kickQueued = false
  private state: 'open' | 'closing' | 'closed' | 'failed' = 'open'
  private failure?: Error
  private timer?: NodeJS.Timeout
  private tsMs = 0
  private tsText = ''

  private constructor (opts: AuditLogOptions) {
    this.opts = {
      checkpointEvery: AUDIT_CHECKPOINT_EVERY_ROWS,
      checkpointIntervalMs: AUDIT_CHECKPOINT_INTERVAL_MS,
      tailWindow: AUDIT_TAIL_WINDOW_ROWS,
      warn: (line: string) => { process.stderr.write(`audit: ${line}\n`) },
      ...opts
    }
    if (opts.secrets !== undefined || opts.secretPrefixes !== undefined) this.scrubber = new SecretScrubber(opts.secrets ?? (() => []), opts.secretPrefixes)
    this.eventsPath = join(opts.dir, 'events.jsonl')
    this.checkpointsPath = join(opts.dir, 'checkpoints.jsonl')
  }

  /** Opens (or creates) the log, recovers a torn tail and loads the head once. */
  static async open (opts: AuditLogOptions): Promise<AuditLog> {
    const log = new AuditLog(opts)
    ensureDir(opts.dir)
    try {
      await log.load()
    } catch (err) {
      await log.fh?.close().catch(() => {})
      await log.cpFh?.close().catch(() => {})
      throw err
    }
    log.timer = setInterval(() => { void log.timedCheckpoint() }, Math.max(1000, log.opts.checkpointIntervalMs))
    log.timer.unref()
    return log
  }

  /** The last durable row (`seq` 0 and the genesis hash for an empty log). */
  get head (): AuditHead { return { ...this.durable } }

  get lastCheckpoint (): Checkpoint | undefined { return this.lastCp }

  /**
   * Seals a row onto the chain now and queues it; resolves with it once it is durable, rejects
   * (UNAVAILABLE) when it could not be written. Sealing at append time keeps the hashing off the
   * write path: it overlaps the write of the batch before.
   */
  append (ev: AuditEvent): Promise<AuditRow> {
    // Not `async`: every row would pay for one more promise and its ticks (issue 15).
    if (this.state !== 'open') {
      return Promise.reject(unavailable(`Cannot write the audit log: it is ${this.state}${this.failure !== undefined ? ` (${this.failure.message})` : ''}`, { cause: this.failure }))
    }
    let detailJson: string
    try {
      detailJson = prepareEvent(ev)
      if (this.scrubber !== undefined && (this.scrubber.leaks(detailJson) || this.scrubber.leaks(ev.actor))) {
        ev = this.redact(ev)
        detailJson = prepareEvent(ev)
      }
    } catch (cause) {
      return Promise.reject(badRequest(`Cannot write audit row ${String(ev.type)}: ${(cause as Error).message}`, { cause }))
    }
    return this.enqueue(ev, detailJson, this.now())
  }

  /** Writes a checkpoint of the current head now (or returns the last one when it is already there). */
  async checkpoint (): Promise<Checkpoint> {
    await this.drain()
    return await this.exclusive(async () => {
      if (this.lastCp !== undefined && this.lastCp.seq === this.durable.seq) return this.lastCp
      if (this.durable.seq === 0) throw badRequest('Cannot write a checkpoint: the audit log is empty')
      return await this.writeCheckpoint()
    })
  }

  /**
   * The last `n` rows, or with `afterSeq` the first `n` rows after it (for `audit tail --follow`).
   * Recent rows come from memory; older ones are read from the file.
   */
  async tail (n: number, afterSeq?: number): Promise<AuditRow[]> {
    if (afterSeq === undefined) return n === 0 ? [] : this.window.slice(-n)
    const first = this.window[0]?.seq ?? this.durable.seq + 1
    if (afterSeq >= first - 1) return this.window.filter(r => r.seq > afterSeq).slice(0, n)
    const out: AuditRow[] = []
    const { fh, size } = await this.exclusive(async () => ({ fh: await open(this.eventsPath, 'r'), size: this.size }))
    try {
      const from = await offsetBefore(fh, size, afterSeq)
      this.stats.tailBytesRead += from.bytesRead
      let rest = ''
      const decoder = new TextDecoder()
      // Small reads: a page of a tail is a few rows, not the 4 MiB a verify reads at once.
      for await (const chunk of readChunks(fh, size, from.offset, TAIL_READ_BYTES)) {
        this.stats.tailBytesRead += chunk.byteLength
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n')
        rest = lines.pop() as string
        for (const line of lines) {
          const r = checkLine(line)
          if ('row' in r && r.row.seq > afterSeq) { out.push(r.row); if (out.length >= n) return out }
        }
      }
    } finally {
      await fh.close()
    }
    return out
  }

  /**
   * Verifies the files against the chain rules, the checkpoints and the head held in memory
   * (a file cut short or swapped under a running daemon is reported).
   */
  async verify (): Promise<VerifyResult> {
    await this.drain()
    const snap = await this.exclusive(async () => {
      // An fd opened now keeps reading this version of the file even if a purge replaces it.
      // No write is in flight here, so a size other than ours means someone else changed the file.
      const fh = await open(this.eventsPath, 'r')
      const { size } = await fh.stat()
      // A missing file is reported below (it lacks our last checkpoint), not thrown as ENOENT.
      const checkpoints = await readFile(this.checkpointsPath, 'utf8').catch(err => { if (err.code === 'ENOENT') return ''; throw err })
      const cp = this.lastCp === undefined ? undefined : { seq: this.lastCp.seq, hash: this.lastCp.hash }
      return { fh, size, head: { ...this.durable }, checkpoints, cp }
    })
    try {
      const result = await verifyAudit({
        events: readChunks(snap.fh, snap.size),
        checkpoints: snap.checkpoints,
        publicKey: this.opts.privateKey.publicKey,
        expectHead: snap.head,
        expectCheckpoint: snap.cp
      })
      return result
    } finally {
      await snap.fh.close()
    }
  }

  /**
   * Retention: drops the oldest rows whose `ts` is before `before`, keeping the chain verifiable
   * across the cut. Order (each step durable before the next, so a crash anywhere leaves a log
   * that verifies): 1. append an `AUDIT_PURGED` row whose detail names the last dropped row
   * (`throughSeq`) and its hash (`anchor`); 2. sign a checkpoint at that row (a purge row counts as
   * an anchor only when a checkpoint names it); 3. replace `events.jsonl` by its kept suffix;
   * 4. drop the checkpoints at or below the cut. No re-genesis: the first kept row's `prev` is the anchor.
   */
  async purge (before: Date, actor: string): Promise<PurgeResult> {
    if (Number.isNaN(before.getTime())) throw badRequest('Cannot purge the audit log: the date is not valid')
    await this.drain()
    return await this.exclusive(async () => {
      if (this.state !== 'open') throw unavailable(`Cannot purge the audit log: it is ${this.state}`)
      const cut = await findCut(this.fh, this.size, before.getTime())
      if (cut.count === 0) return { purged: 0, throughSeq: null, anchor: null, seq: null }
      const detail = { before: before.toISOString(), throughSeq: cut.throughSeq, anchor: cut.anchor, rows: cut.count }
      const written = this.enqueue({ type: PURGE_TYPE, actor, outcome: 'ok', detail }, prepareEvent({ type: PURGE_TYPE, actor, outcome: 'ok', detail }), this.now())
      const purgeSeq = this.sealed.seq
      // Only the rows up to the purge row: step 2's checkpoint must name that very row (verify
      // honours a purge only then); rows appended meanwhile wait for the files.
      while (this.queue.length > 0 && this.queue[0].row.seq <= purgeSeq) await this.writeQueued(purgeSeq)
      const row = await written
      try {
        await this.writeCheckpoint()
        const events = await keepSuffix(this.eventsPath, this.fh, this.size, cut.offset, EVENTS_DSYNC)
        this.fh = events.fh
        this.size = events.size
        const cps = await dropCheckpointsThrough(this.checkpointsPath, this.cpFh, cut.throughSeq)
        this.cpFh = cps.fh
        this.cpSize = cps.size
      } catch (err) {
        // The purge row is on disk: a row saying it was not carried out keeps the log honest.
        const failed = { type: CHANGE_FAILED_TYPE, actor, outcome: 'error' as const, detail: { ...detail, change: PURGE_TYPE, seq: row.seq, error: (err as Error).message.slice(0, 500) } }
        this.enqueue(failed, prepareEvent(failed), this.now()).catch(() => {})
        throw err
      }
      this.window = this.window.filter(r => r.seq > cut.throughSeq)
      return { purged: cut.count, throughSeq: cut.throughSeq, anchor: cut.anchor, seq: row.seq }
    })
  }

  /** Writes what is queued, a final checkpoint, and closes the files. Idempotent. */
  async close (): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return
    const failed = this.state === 'failed'
    this.state = 'closing'
    clearInterval(this.timer)
    if (!failed) {
      await this.drain()
      await this.exclusive(async () => {
        if (this.durable.seq > 0 && this.durable.seq !== this.lastCp?.seq) {
          await this.writeCheckpoint().catch(err => { this.opts.warn(`cannot write the shutdown checkpoint: ${err.message}`) })
        }
      })
    }
    await this.exclusive(async () => {
      await this.fh.close().catch(() => {})
      await this.cpFh.close().catch(() => {})
    })
    this.state = 'closed'
  }

  // ---- internals ----

  private async load (): Promise<void> {
    for (const name of await removeAbandonedPurges(this.eventsPath)) this.opts.warn(`removed ${name}, the copy of a purge the node did not finish (the log is whole)`)
    const st = await loadAuditState(this.eventsPath, this.checkpointsPath, this.opts.privateKey.publicKey, this.opts.tailWindow, this.opts.warn)
    this.fh = st.fh
    this.size = st.size
    this.cpFh = st.cpFh
    this.cpSize = st.cpSize
    this.durable = { ...st.head }
    this.sealed = { ...st.head }
    this.window = st.window
    this.lastCp = st.lastCp
    this.lastCpAt = Date.now()
    if (st.notes.length > 0) {
      const written = st.notes.map(async ev => await this.enqueue(ev, prepareEvent(ev), this.now()))
      await this.drain()
      await Promise.all(written)
    }
  }

  private redact (ev: AuditEvent): AuditEvent {
    const scrub = (v: unknown): unknown => {
      if (typeof v === 'string') return this.scrubber!.scrub(v)
      if (Array.isArray(v)) return v.map(scrub)
      if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrub(k) as string, scrub(x)]))
      return v
    }
    return { ...ev, actor: scrub(ev.actor) as string, detail: scrub(ev.detail) as Record<string, unknown> }
  }

  /**
   * Runs `fn` with the files to itself (writes, checkpoints, purges and snapshots take turns).
   * When the files are free, `fn` starts at once; `held` also tells the writer loop whether
   * another section waits (then it hands over after the write in flight).
   */
  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const free = this.held === 0
    this.held++
    const run = free ? fn() : this.lock.then(fn, fn)
    this.lock = run.then(() => { this.held-- }, () => { this.held-- })
    return await run
  }

  /** Starts writing what is queued at the end of this tick (rows appended together go out together), unless a flush is on its way. */
  private kick (): void {
    if (this.flushing || this.kickQueued) return
    this.kickQueued = true
    queueMicrotask(() => {
      this.kickQueued = false
      if (this.flushing || this.queue.length === 0) return
      this.flushing = true
      void this.flushLoop()
    })
  }

  private enqueue (ev: AuditEvent, detailJson: string, ts: string): Promise<AuditRow> {
    const { promise, resolve, reject } = Promise.withResolvers<AuditRow>()
    const { row, line } = sealRow(this.sealed.seq + 1, ts, ev, detailJson, this.sealed.hash)
    this.sealed = { seq: row.seq, hash: row.hash }
    this.queue.push({ ev, detailJson, row, line, resolve, reject, written: promise })
    this.kick()
    return promise
  }

  /** The row time (RFC 3339, ms): formatted once per millisecond, as rows come in bursts. */
  private now (): string {
    const ms = Date.now()
    if (ms !== this.tsMs) {
      this.tsMs = ms
      this.tsText = new Date(ms).toISOString()
    }
    return this.tsText
  }

  private async flushLoop (): Promise<void> {
    try {
      while (this.queue.length > 0) await this.exclusive(async () => { await this.writeQueued() })
    } finally {
      this.flushing = false
    }
  }

  /**
   * Resolves once every row queued before the call is durable (or failed); rows appended later
   * are not waited for, so a steady stream of appends cannot hold it up.
   */
  private async drain (): Promise<void> {
    const last = this.queue[this.queue.length - 1]
    // Rows are written in order: when the last queued row is settled, so is every row before it.
    if (last !== undefined) await last.written.catch(() => {})
    // A batch already taken off the queue holds the lock until it is written.
    await this.exclusive(async () => {})
  }

  /**
   * Writes queued rows, batch after batch, each durable before its rows are answered; only then
   * does the durable head move. The next batch is submitted before the last one's rows are
   * answered (one write in flight at a time) and the loop ends when the queue is empty or another
   * section waits for the files. On a failed write the bytes are cut off again, the batch is
   * rejected and the rows queued after it are sealed again from the durable head; if even the cut
   * fails the log stops taking rows. Must run inside `exclusive()`.
   */
  private async writeQueued (maxSeq = Number.POSITIVE_INFINITY): Promise<void> {
    const take = (): Pending[] => {
      let n = Math.min(this.queue.length, AUDIT_MAX_BATCH_ROWS)
      while (n > 0 && this.queue[n - 1].row.seq > maxSeq) n--
      return this.queue.splice(0, n)
    }
    let batch = take()
    let write = this.writeBatch(batch)
    while (batch.length > 0) {
      const { bytes, error } = await write
      if (error !== undefined) { await this.failBatch(batch, error); return }
      const last = batch[batch.length - 1].row
      this.size += bytes
      this.durable = { seq: last.seq, hash: last.hash }
      this.stats.writes++
      this.stats.rows += batch.length
      if (this.batchSizes.length < 100_000) this.batchSizes.push(batch.length)
      for (const p of batch) this.window.push(p.row)
      if (this.window.length > 2 * this.opts.tailWindow) this.window = this.window.slice(-this.opts.tailWindow)
      const done = batch
      batch = this.held === 1 ? take() : []
      if (batch.length > 0) write = this.writeBatch(batch)
      for (const p of done) p.resolve(p.row)
      if (this.durable.seq - (this.lastCp?.seq ?? 0) >= this.opts.checkpointEvery) {
        await this.writeCheckpoint().catch(err => { this.opts.warn(`cannot write a checkpoint: ${err.message}`) })
      }
    }
  }

  /** Writes a batch at the end of the file, durably; never rejects. */
  private async writeBatch (batch: Pending[]): Promise<{ bytes: number, error?: Error }> {
    let text = ''
    for (const p of batch) text += p.line
    const buf = Buffer.from(text, 'utf8')
    this.stats.submitted += batch.length
    try {
      await writeAll(this.fh, buf, this.size)
      if (EVENTS_DSYNC === 0) await this.fh.datasync()
      return { bytes: buf.length }
    } catch (error) {
      return { bytes: 0, error: error as Error }
    }
  }

  private async failBatch (batch: Pending[], cause: Error): Promise<void> {
    try {
      await this.fh.truncate(this.size)
    } catch (err) {
      this.state = 'failed'
      this.failure = err as Error
    }
    this.opts.warn(`cannot write ${batch.length} row(s): ${cause.message}`)
    this.stats.submitted -= batch.length
    this.sealed = { ...this.durable }
    for (const p of this.queue) {
      const again = sealRow(this.sealed.seq + 1, p.row.ts, p.ev, p.detailJson, this.sealed.hash)
      p.row = again.row
      p.line = again.line
      this.sealed = { seq: again.row.seq, hash: again.row.hash }
    }
    // ENOSPC and the like in words naming the file (they named none).
    const explained = explainFsError(Object.assign(cause, { path: this.eventsPath }), 'write the audit log')
    const err = explained instanceof SovError ? explained : unavailable(`Cannot write the audit log "${this.eventsPath}": ${cause.message}`, { cause })
    for (const p of batch) p.reject(err)
  }

  /** Signs and appends a checkpoint of the durable head. Must run inside `exclusive()`. */
  private async writeCheckpoint (): Promise<Checkpoint> {
    await this.followCheckpointsFile()
    const cp = await signCheckpoint(this.opts.privateKey, this.durable.seq, this.durable.hash)
    const buf = Buffer.from(checkpointLine(cp), 'utf8')
    try {
      await writeAll(this.cpFh, buf, this.cpSize)
      await this.cpFh.datasync()
    } catch (cause) {
      await this.cpFh.truncate(this.cpSize).catch(() => {})
      throw unavailable(`Cannot write an audit checkpoint: ${(cause as Error).message}`, { cause })
    }
    this.cpSize += buf.length
    this.lastCp = cp
    this.lastCpAt = Date.now()
    this.stats.checkpoints++
    return cp
  }

  /**
   * Checkpoints go to the file at the path, as it is now: one removed, cut or replaced under the
   * running node is reopened (its loss recorded by an `AUDIT_INCONSISTENT` row, and reported by
   * verify until then). Writing on into a deleted file left every later checkpoint, a purge's
   * included, where no verify could see it (helper finding, stop 25).
   */
  private async followCheckpointsFile (): Promise<void> {
    const ours = await this.cpFh.stat()
    const there = await stat(this.checkpointsPath).catch(() => undefined)
    if (there !== undefined && there.ino === ours.ino && there.dev === ours.dev && ours.size === this.cpSize) return
    const reopened = await openRw(this.checkpointsPath)
    await this.cpFh.close().catch(() => {})
    this.cpFh = reopened.fh
    this.cpSize = reopened.size
    const ev: AuditEvent = { type: 'AUDIT_INCONSISTENT', actor: 'node', outcome: 'error', detail: { reason: 'checkpoints.jsonl was removed, cut or replaced under the running node; checkpoints go on in the file now there', lastCheckpointSeq: this.lastCp?.seq ?? null } }
    this.opts.warn(`AUDIT_INCONSISTENT: ${ev.detail.reason as string}`)
    this.enqueue(ev, prepareEvent(ev), this.now()).catch(() => {})
  }

  private async timedCheckpoint (): Promise<void> {
    if (this.state !== 'open' || Date.now() - this.lastCpAt < this.opts.checkpointIntervalMs) return
    await this.exclusive(async () => {
      if (this.state === 'open' && this.durable.seq > (this.lastCp?.seq ?? 0)) await this.writeCheckpoint()
    }).catch(err => { this.opts.warn(`cannot write a checkpoint: ${err.message}`) })
  }
}
