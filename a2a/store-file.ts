/**
 * Is `mailbox.db` whole before SQLite opens it? A damaged or emptied file must stop the daemon
 * with the file and the recovery step named, and never be replaced by an empty database
 * (issue 10 §1).
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { internal, type SovError } from '../protocol/index.js'

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')

/** Refuses a file that cannot be a whole mailbox database, before SQLite touches it. */
export function checkHeader (path: string): void {
  const size = statSync(path).size
  if (size === 0) throw damagedFile(path, 'it is empty (0 bytes)')
  const head = Buffer.alloc(100)
  const fd = openSync(path, 'r')
  try { readSync(fd, head, 0, 100, 0) } finally { closeSync(fd) }
  if (size < 100 || !head.subarray(0, 16).equals(SQLITE_MAGIC)) throw damagedFile(path, `it is not an SQLite database (${size} bytes, no SQLite header)`)
  // Header: page size at 16 (1 means 65536), page count at 28, valid when 24 == 92 (SQLite file format §1.3).
  const pageSize = head.readUInt16BE(16) === 1 ? 65536 : head.readUInt16BE(16)
  const pages = head.readUInt32BE(28)
  const walPath = `${path}-wal`
  const walBytes = existsSync(walPath) ? statSync(walPath).size : 0
  // With a WAL to replay, the main file may legitimately lag its header until the checkpoint.
  if (walBytes === 0 && head.readUInt32BE(24) === head.readUInt32BE(92) && size < pages * pageSize) {
    throw damagedFile(path, `it is truncated (${size} bytes; its header says ${pages * pageSize})`)
  }
}

function damagedFile (path: string, why: string, cause?: unknown): SovError {
  return internal(`Cannot open mailbox database "${path}": ${why}; the file was left untouched. ` +
    'Restore it from a backup (docs/operations.md "Backups"), or move it aside to start with empty mailboxes (its queued and unread messages are then lost)', { cause })
}

/** SQLite's own verdict on a damaged file, in the same words; other errors pass unchanged. */
export function damaged (path: string, err: unknown): unknown {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
    return damagedFile(path, `SQLite finds it damaged ("${(err as Error).message}")`, err)
  }
  return err
}

/** Free space in `mailbox.db` always worth giving back (`MailboxStore.reclaim`). @default 4 MiB */
export const RECLAIM_MIN_FREE_BYTES = 4 * 1024 * 1024
/** Less free space is given back when it is at least half the file (a drained mailbox). @default 256 KiB */
export const RECLAIM_DRAINED_MIN_BYTES = 256 * 1024

/**
 * Whether `freeBytes` free in a file of `fileBytes` are worth a vacuum step and a truncating
 * checkpoint. The 4 MiB rule alone left up to 4 MiB behind for ever after the last large
 * messages were acknowledged: how much, depended on where the sweeps fell between the
 * acknowledgements (so the same test passed or failed by timing, issue 14).
 */
export function worthReclaiming (freeBytes: number, fileBytes: number): boolean {
  if (freeBytes >= RECLAIM_MIN_FREE_BYTES) return true
  return freeBytes >= RECLAIM_DRAINED_MIN_BYTES && freeBytes * 2 >= fileBytes
}

/**
 * `auto_vacuum = INCREMENTAL`, so freed pages can be given back without rewriting the file. A
 * new file takes it before its first table; an older one is rewritten once (`VACUUM`) to take it.
 */
export function useIncrementalVacuum (db: Database.Database): void {
  if (db.pragma('auto_vacuum', { simple: true }) === 2) return
  db.pragma('auto_vacuum = INCREMENTAL')
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }
  if (tables.n > 0) db.exec('VACUUM')
}
