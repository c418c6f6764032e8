/**
 * Directory and whole-file writes that survive a crash: a file is either the old or the new
 * content, never a torn one.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

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
 * refuses throws its error with `path` set to the file asked for, and leaves no temp file.
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
    // writeSync's errors name no file, open's the temp one: name the file the caller wanted
    // written (callers and the IPC edge say it in words with explainFsError).
    throw Object.assign(err as object, { path })
  }
  try {
    const dfd = openSync(dirname(path), 'r')
    try { fsyncSync(dfd) } finally { closeSync(dfd) }
  } catch { /* directories cannot be fsynced on every platform */ }
}
