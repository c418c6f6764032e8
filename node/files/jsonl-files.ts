/**
 * File mechanics of the append-only JSONL files (audit log, grants, revocations): durable
 * positional writes, torn-tail recovery and reading the last lines of a file without reading all
 * of it.
 */
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Bytes read at a time when looking backwards for line ends. @default 1 MiB */
const BACKWARD_CHUNK_BYTES = 1024 * 1024

/** Opens (creating 0600 if needed) a file for positional reads and writes; `flags` adds open flags such as `O_DSYNC`. */
export async function openRw (path: string, flags = 0): Promise<{ fh: FileHandle, size: number, created: boolean }> {
  let created = false
  let fh: FileHandle
  try {
    fh = await open(path, constants.O_RDWR | flags)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    fh = await open(path, constants.O_RDWR | constants.O_CREAT | flags, 0o600)
    created = true
    await fsyncDir(dirname(path))
  }
  const { size } = await fh.stat()
  return { fh, size, created }
}

/** Writes all of `buf` at `pos` (a short write is continued, not lost). */
export async function writeAll (fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos + off)
    if (bytesWritten === 0) throw new Error('Cannot write: the file system accepted 0 bytes')
    off += bytesWritten
  }
}

/** Makes a rename or a new file in `dir` durable (not every platform can fsync a directory). */
export async function fsyncDir (dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch { /* best effort */ } finally {
    await fh?.close()
  }
}

/** Offset just past the last `\n` in the first `size` bytes of the file (0 when none). */
async function lastLineEnd (fh: FileHandle, size: number): Promise<number> {
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - BACKWARD_CHUNK_BYTES)
    const buf = Buffer.allocUnsafe(end - start)
    await fh.read(buf, 0, buf.length, start)
    const i = buf.lastIndexOf(0x0a)
    if (i >= 0) return start + i + 1
    end = start
  }
  return 0
}

export interface TornTail { bytes: number, savedAs: string }

/**
 * A file that does not end in `\n` has a torn last line (a crash in the middle of a write). The
 * torn bytes are copied into `<name>.torn-<ms>` beside it (0600, synced) and cut off the file, so
 * they are neither lost nor silently taken for a row. Returns the new size and what was moved.
 */
export async function recoverTornTail (path: string, fh: FileHandle, size: number): Promise<{ size: number, torn?: TornTail }> {
  if (size === 0) return { size }
  const lastByte = Buffer.alloc(1)
  await fh.read(lastByte, 0, 1, size - 1)
  if (lastByte[0] === 0x0a) return { size }
  const keep = await lastLineEnd(fh, size)
  const torn = Buffer.allocUnsafe(size - keep)
  await fh.read(torn, 0, torn.length, keep)
  const savedAs = join(dirname(path), `${basename(path)}.torn-${Date.now()}`)
  const out = await open(savedAs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    await writeAll(out, torn, 0)
    await out.sync()
  } finally {
    await out.close()
  }
  await fsyncDir(dirname(path))
  await fh.truncate(keep)
  await fh.sync()
  return { size: keep, torn: { bytes: torn.length, savedAs: basename(savedAs) } }
}

/**
 * The last `max` complete lines of the first `size` bytes (oldest first), reading backwards in
 * chunks; `size` must end at a line end.
 */
export async function readLastLines (fh: FileHandle, size: number, max: number): Promise<string[]> {
  const chunks: Buffer[] = []
  let lines = 0
  let start = size
  while (start > 0 && lines <= max) {
    const from = Math.max(0, start - BACKWARD_CHUNK_BYTES)
    const buf = Buffer.allocUnsafe(start - from)
    await fh.read(buf, 0, buf.length, from)
    for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) lines++
    chunks.unshift(buf)
    start = from
  }
  const text = Buffer.concat(chunks).toString('utf8')
  const all = text.split('\n')
  all.pop() // after the final `\n`
  if (start > 0) all.shift() // the first piece may be the end of a longer line
  return all.slice(-max)
}
