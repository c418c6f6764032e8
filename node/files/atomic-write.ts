/**
 * Directory and whole-file writes that survive a crash: a file is either the old or the new
 * content, never a torn one.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { explainFsError } from './environment-errors.js'

export function ensureDir (dir: string, mode = 0o700): void {
  try {
    mkdirSync(dir, { recursive: true, mode })
  } catch (err) {
    // Node's recursive mkdir reports ENOENT where the parent is read-only: ask again, one level,
    // so the caller sees the real cause (EROFS, EACCES).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(dirname(dir))) throw err
    mkdirSync(dir, { mode })
  }
}

/**
 * Writes a file atomically (temp file, fsync, rename, fsync of the directory) with `mode`, so a
 * crash leaves either the old or the new content, never a torn file. A write the file system
 * refuses (full, read-only, not ours) throws `UNAVAILABLE` naming `path` and leaves no temp file.
 */
export function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): void {
  ensureDir(dirname(path))
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  try {
    const fd = openSync(tmp, 'w', mode)
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    chmodSync(tmp, mode)
    renameSync(tmp, path)
  } catch (err) {
    try { unlinkSync(tmp) } catch { /* never created, or already renamed */ }
    // writeSync's errors name no file: name the one the caller wanted written.
    throw explainFsError(Object.assign(err as object, { path }), `save "${basename(path)}"`)
  }
  try {
    const dfd = openSync(dirname(path), 'r')
    try { fsyncSync(dfd) } finally { closeSync(dfd) }
  } catch { /* directories cannot be fsynced on every platform */ }
}
