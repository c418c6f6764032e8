/**
 * Group commit for a SQLite database in WAL mode (issue 15 §2). Commits run with
 * `synchronous = NORMAL`, so SQLite appends them to the `-wal` file without an fsync on the event
 * loop; `durable()` resolves once an fdatasync of that file, begun after the call, has finished —
 * so every commit made before the call is on disk. One fdatasync covers every commit made while
 * the previous one ran, and it runs on libuv's thread pool, so the node keeps serving meanwhile.
 *
 * Why that is enough: with `synchronous = NORMAL` SQLite itself syncs the WAL before each
 * checkpoint and the database file after it, so a commit is either still in the WAL (synced
 * here) or already checkpointed into a synced database file. fsync is per file, not per
 * descriptor, so our own descriptor covers SQLite's writes. fdatasync also skips the inode
 * timestamp that SQLite's own `fsync` would journal at every commit.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'

export class WalSync {
  private readonly walPath: string
  private fd?: number
  /** The fdatasync on the thread pool now, if any. */
  private running = false
  /** Callers waiting for the fdatasync after the running one. */
  private next?: PromiseWithResolvers<void>
  private closed = false

  /** `dbPath`: the database file; its WAL is `<dbPath>-wal`. */
  constructor (dbPath: string) {
    this.walPath = `${dbPath}-wal`
  }

  /**
   * Resolves once every commit made before this call is on disk; rejects with the fdatasync's
   * error (EIO, ENOSPC…), in which case the caller must not report those commits as durable.
   */
  async durable (): Promise<void> {
    if (this.closed) throw new Error('Cannot sync the database: it is closed')
    this.next ??= Promise.withResolvers<void>()
    const waiting = this.next.promise
    if (!this.running) this.start()
    return await waiting
  }

  /** Makes every commit so far durable before returning, on this thread (for rare, synchronous callers). */
  syncNow (): void {
    if (this.closed) throw new Error('Cannot sync the database: it is closed')
    fdatasyncSync(this.open())
  }

  /** Syncs what is pending on this thread, then gives up the descriptor. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    const waiting = this.next
    this.next = undefined
    if (waiting !== undefined || this.running) {
      try {
        if (this.fd !== undefined) fdatasyncSync(this.fd)
        waiting?.resolve()
      } catch (err) {
        waiting?.reject(err)
      }
    }
    // A running fdatasync still uses the descriptor: it closes it when it is done.
    if (!this.running) this.release()
  }

  private start (): void {
    const batch = this.next!
    this.next = undefined
    let fd: number
    try {
      fd = this.open()
    } catch (err) {
      batch.reject(err)
      return
    }
    this.running = true
    fdatasync(fd, err => {
      this.running = false
      if (err === null) batch.resolve()
      else batch.reject(err)
      if (this.closed) this.release()
      else if (this.next !== undefined) this.start()
    })
  }

  /** Opens the WAL once; the first time, syncs its directory so the file itself survives. */
  private open (): number {
    if (this.fd !== undefined) return this.fd
    this.fd = openSync(this.walPath, 'r+')
    const dir = openSync(dirname(this.walPath), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    return this.fd
  }

  private release (): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}
