/**
 * The audit log (DESIGN §10): `audit/events.jsonl`, hash-chained rows, and
 * `audit/checkpoints.jsonl`, signed checkpoints.
 *
 * Group commit: `append()` queues a row and returns a promise that resolves once the row is on
 * disk; every row queued while a write is in flight goes out in the next single write + fdatasync.
 * Callers that must not act before their row is durable (refusals, grants, revocations, token
 * changes) await it and refuse the action when it rejects (fail closed). A failed write is cut
 * off the file again so the chain on disk never holds a row that was not answered.
 *
 * State is loaded once at `open()`: the head (last row), the last checkpoint and a window of
 * recent rows for `tail()`. A torn last line left by a crash is moved aside into a
 * `events.jsonl.torn-<ms>` file and recorded by an `AUDIT_TORN_TAIL` row.
 */
import { open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { auditBroken, badRequest, unavailable } from '../protocol/index.js'
import { GENESIS_HASH, PURGE_TYPE, checkLine, prepareEvent, sealRow, type AuditEvent, type AuditRow } from './audit-row.js'
import { checkCheckpointLine, checkpointLine, signCheckpoint, type Checkpoint } from './audit-checkpoint.js'
import { fsyncDir, openRw, readLastLines, recoverTornTail, writeAll, type TornTail } from './jsonl-files.js'
import { readChunks, verifyAudit, type AuditHead, type VerifyResult } from './audit-verify.js'
import { ensureDir, writeFileAtomic } from './home.js'

/** Rows between two automatic checkpoints. @default 1000 */
export const AUDIT_CHECKPOINT_EVERY_ROWS = 1000
/** A checkpoint is also written this long after the last one when rows were added. @default 60 s */
export const AUDIT_CHECKPOINT_INTERVAL_MS = 60_000
/** Recent rows kept in memory for `tail()`. @default 10,000 */
export const AUDIT_TAIL_WINDOW_ROWS = 10_000
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
  /** Secrets that must never reach a row; a row containing one has it replaced by `[redacted]`. */
  secrets?: () => string[]
  /** Where warnings go. @default stderr */
  warn?: (line: string) => void
}

interface Pending {
  ev: AuditEvent
  detailJson: string
  ts: string
  resolve: (row: AuditRow) => void
  reject: (err: Error) => void
}

export interface PurgeResult { purged: number, throughSeq: number | null, anchor: string | null, seq: number | null }

export class AuditLog {
  /** Writes and fdatasyncs of rows so far (group commit makes this far smaller than the row count). */
  readonly stats = { writes: 0, rows: 0, checkpoints: 0 }
  /** Batch sizes of the writes so far, for the benchmark (bounded). */
  readonly batchSizes: number[] = []
  private readonly eventsPath: string
  private readonly checkpointsPath: string
  private readonly opts: Required<Omit<AuditLogOptions, 'secrets'>> & Pick<AuditLogOptions, 'secrets'>
  private fh!: FileHandle
  private size = 0
  private cpFh!: FileHandle
  private cpSize = 0
  private durable: AuditHead = { seq: 0, hash: GENESIS_HASH }
  private lastCp?: Checkpoint
  private lastCpAt = Date.now()
  private window: AuditRow[] = []
  private queue: Pending[] = []
  private flushing = false
  private lock: Promise<unknown> = Promise.resolve()
  private state: 'open' | 'closing' | 'closed' | 'failed' = 'open'
  private failure?: Error
  private timer?: NodeJS.Timeout

  private constructor (opts: AuditLogOptions) {
    this.opts = {
      checkpointEvery: AUDIT_CHECKPOINT_EVERY_ROWS,
      checkpointIntervalMs: AUDIT_CHECKPOINT_INTERVAL_MS,
      tailWindow: AUDIT_TAIL_WINDOW_ROWS,
      warn: (line: string) => { process.stderr.write(`audit: ${line}\n`) },
      ...opts
    }
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

  /** Queues a row; resolves with it once it is durable, rejects (UNAVAILABLE) when it could not be written. */
  async append (ev: AuditEvent): Promise<AuditRow> {
    if (this.state !== 'open') {
      throw unavailable(`Cannot write the audit log: it is ${this.state}${this.failure !== undefined ? ` (${this.failure.message})` : ''}`, { cause: this.failure })
    }
    let detailJson: string
    try {
      ev = this.redact(ev)
      detailJson = prepareEvent(ev)
    } catch (cause) {
      throw badRequest(`Cannot write audit row ${String(ev.type)}: ${(cause as Error).message}`, { cause })
    }
    const { promise, resolve, reject } = Promise.withResolvers<AuditRow>()
    this.queue.push({ ev, detailJson, ts: new Date().toISOString(), resolve, reject })
    this.kick()
    return await promise
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
      let rest = ''
      const decoder = new TextDecoder()
      for await (const chunk of readChunks(fh, size)) {
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
      return { fh, size, head: { ...this.durable }, checkpoints: await readFile(this.checkpointsPath, 'utf8') }
    })
    try {
      const result = await verifyAudit({
        events: readChunks(snap.fh, snap.size),
        checkpoints: snap.checkpoints,
        publicKey: this.opts.privateKey.publicKey,
        expectHead: snap.head
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
      const cut = await this.findCut(before.getTime())
      if (cut.count === 0) return { purged: 0, throughSeq: null, anchor: null, seq: null }
      const { row } = await this.writePending([{
        ev: { type: PURGE_TYPE, actor, outcome: 'ok', detail: { before: before.toISOString(), throughSeq: cut.throughSeq, anchor: cut.anchor, rows: cut.count } },
        ts: new Date().toISOString()
      }])
      await this.writeCheckpoint()
      await this.rewriteEvents(cut.offset)
      await this.rewriteCheckpoints(cut.throughSeq)
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
    const ev = await openRw(this.eventsPath)
    this.fh = ev.fh
    const rec = await recoverTornTail(this.eventsPath, ev.fh, ev.size)
    this.size = rec.size
    const cp = await openRw(this.checkpointsPath)
    this.cpFh = cp.fh
    const cpRec = await recoverTornTail(this.checkpointsPath, cp.fh, cp.size)
    this.cpSize = cpRec.size

    const notes: AuditEvent[] = []
    const lines = await readLastLines(this.fh, this.size, this.opts.tailWindow)
    for (const line of lines) {
      const r = checkLine(line)
      if ('row' in r) this.window.push(r.row)
    }
    const last = this.window[this.window.length - 1]
    if (lines.length > 0) {
      if (last === undefined) throw auditBroken(`Cannot open the audit log "${this.eventsPath}": none of its last ${lines.length} lines is a valid row; move it aside to start a new log`)
      if ('reason' in checkLine(lines[lines.length - 1])) {
        notes.push({ type: 'AUDIT_HEAD_DAMAGED', actor: 'node', outcome: 'error', detail: { lastGoodSeq: last.seq, reason: 'the last line of the log is not a valid row; the chain continues from the last valid row and verify reports the damage' } })
      }
      this.durable = { seq: last.seq, hash: last.hash }
    }
    this.lastCp = await this.loadLastCheckpoint()
    this.lastCpAt = Date.now()

    if (rec.torn !== undefined) notes.push(tornNote(rec.torn, 'events', this.durable.seq))
    if (cpRec.torn !== undefined) notes.push(tornNote(cpRec.torn, 'checkpoints', this.lastCp?.seq ?? 0))
    const mismatch = this.checkAgainstCheckpoint()
    if (mismatch !== undefined) {
      this.opts.warn(mismatch)
      notes.push({ type: 'AUDIT_INCONSISTENT', actor: 'node', outcome: 'error', detail: { reason: mismatch, checkpointSeq: this.lastCp?.seq ?? null, logSeq: this.durable.seq } })
    }
    for (const n of notes) if (n.type !== 'AUDIT_INCONSISTENT') this.opts.warn(`${n.type}: ${JSON.stringify(n.detail)}`)
    if (notes.length > 0) await this.exclusive(async () => { await this.writePending(notes.map(ev => ({ ev, ts: new Date().toISOString() }))) })
  }

  private async loadLastCheckpoint (): Promise<Checkpoint | undefined> {
    const lines = await readLastLines(this.cpFh, this.cpSize, 16)
    for (let i = lines.length - 1; i >= 0; i--) {
      const r = await checkCheckpointLine(lines[i], this.opts.privateKey.publicKey)
      if ('cp' in r) return r.cp
      this.opts.warn(`checkpoints.jsonl: ignoring a line near the end: ${r.reason}`)
    }
    return undefined
  }

  /** A log that ends before its last checkpoint, or disagrees with it, was cut off or rolled back. */
  private checkAgainstCheckpoint (): string | undefined {
    const cp = this.lastCp
    if (cp === undefined) return undefined
    if (cp.seq > this.durable.seq) return `the log ends at seq ${this.durable.seq} but the last signed checkpoint names seq ${cp.seq}: rows were cut off or the log was rolled back`
    const row = this.window.find(r => r.seq === cp.seq)
    if (row !== undefined && row.hash !== cp.hash) return `row ${cp.seq} differs from the signed checkpoint at that seq: the log was rewritten`
    return undefined
  }

  private redact (ev: AuditEvent): AuditEvent {
    const secrets = (this.opts.secrets?.() ?? []).filter(s => s.length >= 16)
    if (secrets.length === 0) return ev
    const text = JSON.stringify(ev)
    if (!secrets.some(s => text.includes(s))) return ev
    const scrub = (v: unknown): unknown => {
      if (typeof v === 'string') return secrets.reduce((t, s) => t.split(s).join('[redacted]'), v)
      if (Array.isArray(v)) return v.map(scrub)
      if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrub(k) as string, scrub(x)]))
      return v
    }
    return { ...ev, actor: scrub(ev.actor) as string, detail: scrub(ev.detail) as Record<string, unknown> }
  }

  /** Runs `fn` with the files to itself (writes, checkpoints, purges and snapshots take turns). */
  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => {})
    return await run
  }

  /** Starts a flush after the current tick, so rows appended together go out together. */
  private kick (): void {
    if (this.flushing) return
    this.flushing = true
    queueMicrotask(() => { void this.flushLoop() })
  }

  private async flushLoop (): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, AUDIT_MAX_BATCH_ROWS)
        await this.exclusive(async () => {
          try {
            const { rows } = await this.writePending(batch)
            rows.forEach((row, i) => { batch[i].resolve(row) })
          } catch (err) {
            for (const p of batch) p.reject(err as Error)
            return
          }
          if (this.durable.seq - (this.lastCp?.seq ?? 0) >= this.opts.checkpointEvery) {
            await this.writeCheckpoint().catch(err => { this.opts.warn(`cannot write a checkpoint: ${err.message}`) })
          }
        })
      }
    } finally {
      this.flushing = false
    }
  }

  /** Resolves once every row queued before the call is durable (or failed). */
  private async drain (): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      await this.exclusive(async () => {})
      if (this.flushing) await new Promise(resolve => setImmediate(resolve))
    }
  }

  /**
   * Seals and writes rows after the head, then fdatasyncs; only then does the head move. On a
   * failed write the bytes are cut off again; if even that fails the log stops taking rows.
   * Must run inside `exclusive()`.
   */
  private async writePending (items: Array<Pick<Pending, 'ev' | 'ts'> & { detailJson?: string }>): Promise<{ rows: AuditRow[], row: AuditRow }> {
    let seq = this.durable.seq
    let prev = this.durable.hash
    const rows: AuditRow[] = []
    let text = ''
    for (const item of items) {
      const sealed = sealRow(++seq, item.ts, item.ev, item.detailJson ?? prepareEvent(item.ev), prev)
      rows.push(sealed.row)
      text += sealed.line
      prev = sealed.row.hash
    }
    const buf = Buffer.from(text, 'utf8')
    try {
      await writeAll(this.fh, buf, this.size)
      await this.fh.datasync()
    } catch (cause) {
      try {
        await this.fh.truncate(this.size)
      } catch (err) {
        this.state = 'failed'
        this.failure = err as Error
      }
      this.opts.warn(`cannot write ${rows.length} row(s): ${(cause as Error).message}`)
      throw unavailable(`Cannot write the audit log: ${(cause as Error).message}`, { cause })
    }
    this.size += buf.length
    this.durable = { seq, hash: prev }
    this.stats.writes++
    this.stats.rows += rows.length
    if (this.batchSizes.length < 100_000) this.batchSizes.push(rows.length)
    this.window.push(...rows)
    if (this.window.length > 2 * this.opts.tailWindow) this.window = this.window.slice(-this.opts.tailWindow)
    return { rows, row: rows[rows.length - 1] }
  }

  /** Signs and appends a checkpoint of the durable head. Must run inside `exclusive()`. */
  private async writeCheckpoint (): Promise<Checkpoint> {
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

  private async timedCheckpoint (): Promise<void> {
    if (this.state !== 'open' || Date.now() - this.lastCpAt < this.opts.checkpointIntervalMs) return
    await this.exclusive(async () => {
      if (this.state === 'open' && this.durable.seq > (this.lastCp?.seq ?? 0)) await this.writeCheckpoint()
    }).catch(err => { this.opts.warn(`cannot write a checkpoint: ${err.message}`) })
  }

  /** The longest prefix of rows older than `beforeMs` (it stops at the first newer or damaged row). */
  private async findCut (beforeMs: number): Promise<{ count: number, offset: number, throughSeq: number, anchor: string }> {
    let count = 0
    let offset = 0
    let throughSeq = 0
    let anchor = GENESIS_HASH
    let pos = 0
    let rest = Buffer.alloc(0)
    for await (const chunk of readChunks(this.fh, this.size)) {
      const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk as Buffer
      let start = 0
      for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
        const r = checkLine(buf.toString('utf8', start, nl))
        if (!('row' in r) || Date.parse(r.row.ts) >= beforeMs) return { count, offset, throughSeq, anchor }
        count++
        offset = pos + nl + 1
        throughSeq = r.row.seq
        anchor = r.row.hash
        start = nl + 1
      }
      pos += start
      rest = Buffer.from(buf.subarray(start))
    }
    return { count, offset, throughSeq, anchor }
  }

  /** Replaces `events.jsonl` by its bytes from `offset` on (temp file, fsync, rename, fsync dir). */
  private async rewriteEvents (offset: number): Promise<void> {
    const tmp = `${this.eventsPath}.purge-${process.pid}`
    const out = await open(tmp, 'w', 0o600)
    try {
      let pos = 0
      for await (const chunk of readChunks(this.fh, this.size)) {
        const end = pos + chunk.length
        if (end > offset) await out.write(chunk.subarray(Math.max(0, offset - pos)))
        pos = end
      }
      await out.sync()
    } finally {
      await out.close()
    }
    await rename(tmp, this.eventsPath)
    await fsyncDir(this.opts.dir)
    await this.fh.close()
    const reopened = await openRw(this.eventsPath)
    this.fh = reopened.fh
    this.size = reopened.size
  }

  /** Keeps the checkpoints after the cut; the new one at the purge row stays. */
  private async rewriteCheckpoints (throughSeq: number): Promise<void> {
    const text = await readFile(this.checkpointsPath, 'utf8')
    const kept = text.split('\n').filter(line => {
      if (line === '') return false
      try { return (JSON.parse(line) as Checkpoint).seq > throughSeq } catch { return true }
    })
    writeFileAtomic(this.checkpointsPath, kept.map(l => l + '\n').join(''), 0o600)
    await this.cpFh.close()
    const reopened = await openRw(this.checkpointsPath)
    this.cpFh = reopened.fh
    this.cpSize = reopened.size
  }
}

function tornNote (torn: TornTail, file: string, afterSeq: number): AuditEvent {
  return { type: 'AUDIT_TORN_TAIL', actor: 'node', outcome: 'error', detail: { file: `${file}.jsonl`, bytes: torn.bytes, savedAs: torn.savedAs, afterSeq } }
}
