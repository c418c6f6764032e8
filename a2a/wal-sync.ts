/**
 * Group commit for a SQLite database in WAL mode whose commits run with `synchronous = NORMAL`
 * (issues 11 and 15): `sync()` resolves once an fdatasync of the `-wal` file, begun after the
 * call, has finished — so every commit made before the call is on disk. It runs on libuv's
 * thread pool, not inside the commit on the event loop, and callers that come while one runs
 * share the next one. It is the operation `synchronous = FULL` performs at each commit (SQLite
 * syncs the WAL there, sqlite.org/pragma.html#pragma_synchronous), done once for many commits.
 *
 * Why that is enough: in NORMAL mode SQLite itself syncs the WAL before each checkpoint and the
 * database file after it, so a commit is either still in the WAL (synced here) or checkpointed
 * into a synced database file. fsync is per file, not per descriptor, so our descriptor covers
 * SQLite's writes; fdatasync also skips the inode time stamp SQLite's own fsync would journal.
 *
 * Given the database's connection, it also moves the WAL's checkpoints off the event loop once
 * the database is busy (`wal-checkpoints.ts`).
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, openSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type Database from 'better-sqlite3'
import { WalCheckpoints } from './wal-checkpoints.js'

export class WalSync {
  private readonly walPath: string | null
  private handle?: FileHandle
  /** An fdatasync is on the thread pool now. */
  private running = false
  /** Callers waiting for the fdatasync after the running one. */
  private next?: PromiseWithResolvers<void>
  /** A deferred sync (`syncWithin`) that no fdatasync has covered yet, and where its error goes. */
  private soon?: NodeJS.Timeout
  private soonError: (err: Error) => void = () => {}
  private closed = false
  /** Where the WAL's checkpoints run (given the connection). */
  readonly checkpoints?: WalCheckpoints

  /**
   * For the database at `dbPath`; its WAL is `<dbPath>-wal` (`:memory:`: every sync is a no-op).
   * With `db`, its checkpoints move to a worker thread once it is busy.
   */
  constructor (dbPath: string, db?: Database.Database) {
    this.walPath = dbPath === ':memory:' ? null : `${dbPath}-wal`
    if (db !== undefined && this.walPath !== null) this.checkpoints = new WalCheckpoints(db, dbPath)
  }

  /** False for `:memory:`: nothing to wait for. */
  get active (): boolean { return this.walPath !== null }

  /**
   * Resolves once every commit made before this call is on disk; rejects with the fdatasync's
   * error (EIO, ENOSPC…), and then the caller must not report those commits as durable.
   */
  async sync (): Promise<void> {
    if (this.walPath === null) return
    if (this.closed) throw new Error('Cannot sync the database: it is closed')
    this.next ??= Promise.withResolvers<void>()
    const waiting = this.next.promise
    if (!this.running) void this.run()
    return await waiting
  }

  /**
   * Makes every commit made before this call durable within about `ms`, without an fdatasync of
   * its own when another begins before then (issue 11 performance: the agent's task id of a
   * forwarded call rides the sync of the call's final snapshot, most often a millisecond later,
   * instead of taking a second fdatasync on the call's path). One deferred sync at a time; a
   * failed one goes to `onError`.
   */
  syncWithin (ms: number, onError: (err: Error) => void): void {
    if (this.walPath === null || this.closed || this.soon !== undefined) return
    this.soonError = onError
    this.soon = setTimeout(() => { this.soon = undefined; this.sync().catch(onError) }, ms)
    this.soon.unref()
  }

  /**
   * Syncs the WAL now, blocking the caller. At open: whatever a killed predecessor committed
   * without its sync becomes durable before this process acts on it. Also for rare synchronous
   * callers that must not return before their commit is on disk.
   */
  syncNow (): void {
    if (this.walPath === null || !existsSync(this.walPath)) return
    if (this.handle !== undefined) { fdatasyncSync(this.handle.fd); return }
    const fd = openSync(this.walPath, 'r')
    try { fdatasyncSync(fd) } finally { closeSync(fd) }
  }

  /**
   * Syncs what callers still wait for, on this thread, takes the checkpoints back from the worker
   * and gives up the descriptor; the caller closes the connection next. Idempotent.
   */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.checkpoints?.close()
    const waiting = this.next
    this.next = undefined
    const deferred = this.soon !== undefined
    clearTimeout(this.soon)
    this.soon = undefined
    if (waiting !== undefined || deferred) {
      try {
        this.syncNow()
        waiting?.resolve()
      } catch (err) {
        if (waiting !== undefined) waiting.reject(err)
        else this.soonError(err as Error)
      }
    }
    // A running fdatasync still uses the descriptor: `run` gives it up when it is done.
    if (!this.running) this.release()
  }

  private async run (): Promise<void> {
    this.running = true
    try {
      while (this.next !== undefined && !this.closed) {
        const batch = this.next
        this.next = undefined
        // This fdatasync covers every commit made so far, a deferred one's too.
        clearTimeout(this.soon)
        this.soon = undefined
        try {
          await (await this.open()).datasync()
          batch.resolve()
          this.checkpoints?.noteSync()
        } catch (err) {
          batch.reject(err)
        }
      }
    } finally {
      this.running = false
      if (this.closed) this.release()
    }
  }

  /** Opens the WAL once; the first time, syncs its directory so the file itself survives. */
  private async open (): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle
    const handle = await open(this.walPath!, 'r')
    try {
      const dir = openSync(dirname(this.walPath!), 'r')
      try { fsyncSync(dir) } finally { closeSync(dir) }
    } catch (err) {
      await handle.close()
      throw err
    }
    // Closed meanwhile: this sync still runs, and `run` gives the descriptor up after it.
    this.handle = handle
    return handle
  }

  private release (): void {
    const handle = this.handle
    this.handle = undefined
    void handle?.close().catch(() => {})
  }
}
