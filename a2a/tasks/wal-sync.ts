/**
 * Group commit for a SQLite database in WAL mode whose commits run with `synchronous = NORMAL`:
 * `sync()` makes every commit made so far durable with one fdatasync of the `-wal` file, run in
 * libuv's thread pool instead of inside the commit on the event loop. Callers that come while one
 * runs share the next one. It is the operation `synchronous = FULL` performs at each commit
 * (SQLite syncs the WAL there, sqlite.org/pragma.html#pragma_synchronous), done once for many
 * commits; checkpoints still sync as SQLite does in NORMAL mode.
 */
import { closeSync, existsSync, fdatasyncSync, openSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'

export class WalSync {
  private readonly walPath: string | null
  private wal?: Promise<FileHandle>
  /** The fdatasync in flight, and the one queued behind it for commits made meanwhile. */
  private syncing?: Promise<void>
  private next?: Promise<void>

  /** For the database at `dbPath` (`:memory:`: every sync is a no-op). */
  constructor (dbPath: string) {
    this.walPath = dbPath === ':memory:' ? null : `${dbPath}-wal`
  }

  /** Syncs the WAL now, blocking (at open: what a killed process committed becomes durable). */
  syncNow (): void {
    if (this.walPath === null || !existsSync(this.walPath)) return
    const fd = openSync(this.walPath, 'r')
    try { fdatasyncSync(fd) } finally { closeSync(fd) }
  }

  /** Resolves once every commit made before the call is on disk; rejects with the I/O error. */
  async sync (): Promise<void> {
    if (this.walPath === null) return
    if (this.syncing === undefined) {
      const path = this.walPath
      const run = async (): Promise<void> => {
        this.wal ??= open(path, 'r').catch(err => { this.wal = undefined; throw err })
        await (await this.wal).datasync()
      }
      this.syncing = run().finally(() => { this.syncing = undefined })
      return await this.syncing
    }
    // The running sync may have started before this caller's commit: wait for the next one.
    this.next ??= this.syncing.then(() => {}, () => {}).then(async () => { this.next = undefined; await this.sync() })
    return await this.next
  }

  /** Closes the WAL handle (after the syncs in flight). */
  close (): void {
    const wal = this.wal
    this.wal = undefined
    void wal?.then(async h => { await h.close() }, () => {})
  }
}
