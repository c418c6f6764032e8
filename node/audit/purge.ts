/**
 * File steps of an audit purge (the ordering and the anchor rule are in `AuditLog.purge()`):
 * find the prefix to drop, replace the log by its suffix, drop checkpoints of dropped rows.
 */
import { open, readFile, readdir, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { GENESIS_HASH, checkLine } from './row.js'
import type { Checkpoint } from './checkpoint.js'
import { readChunks } from './verify.js'
import { fsyncDir, openRw, writeFileAtomic } from '../files/index.js'

export interface Cut {
  /** Rows to drop. */
  count: number
  /** Bytes to drop: the offset of the first kept row. */
  offset: number
  /** Seq and hash of the last dropped row. */
  throughSeq: number
  anchor: string
}

/** The longest prefix of rows older than `beforeMs`; it stops at the first newer or damaged row. */
export async function findCut (fh: FileHandle, size: number, beforeMs: number): Promise<Cut> {
  const cut: Cut = { count: 0, offset: 0, throughSeq: 0, anchor: GENESIS_HASH }
  let pos = 0
  let rest = Buffer.alloc(0)
  for await (const chunk of readChunks(fh, size)) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk as Buffer
    let start = 0
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      const r = checkLine(buf.toString('utf8', start, nl))
      if (!('row' in r) || Date.parse(r.row.ts) >= beforeMs) return cut
      cut.count++
      cut.offset = pos + nl + 1
      cut.throughSeq = r.row.seq
      cut.anchor = r.row.hash
      start = nl + 1
    }
    pos += start
    rest = Buffer.from(buf.subarray(start))
  }
  return cut
}

/** `events.jsonl.purge-<pid>`: the copy a purge writes before it replaces the log. */
export const PURGE_TMP_INFIX = '.purge-'

/**
 * Removes the copies purges left when the node died before their rename (the log itself is
 * whole: the rename is what replaces it). Returns their names.
 */
export async function removeAbandonedPurges (path: string): Promise<string[]> {
  const prefix = basename(path) + PURGE_TMP_INFIX
  const names = (await readdir(dirname(path))).filter(n => n.startsWith(prefix))
  for (const n of names) await unlink(join(dirname(path), n)).catch(() => {})
  return names
}

/**
 * Replaces the file at `path` by its bytes from `offset` on (temp file, fsync, rename, fsync of
 * the directory) and returns it reopened with `flags`; `fh` is closed.
 */
export async function keepSuffix (path: string, fh: FileHandle, size: number, offset: number, flags: number): Promise<{ fh: FileHandle, size: number }> {
  const tmp = `${path}${PURGE_TMP_INFIX}${process.pid}`
  const out = await open(tmp, 'w', 0o600)
  try {
    try {
      let pos = 0
      for await (const chunk of readChunks(fh, size)) {
        const end = pos + chunk.length
        if (end > offset) await out.write(chunk.subarray(Math.max(0, offset - pos)))
        pos = end
      }
      await out.sync()
    } finally {
      await out.close()
    }
    await rename(tmp, path)
  } catch (err) {
    // A copy that never replaced the log is of no use (a full disk left 46 MB of it).
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncDir(dirname(path))
  await fh.close()
  const reopened = await openRw(path, flags)
  return { fh: reopened.fh, size: reopened.size }
}

/** Rewrites `checkpoints.jsonl` (atomically) without the checkpoints at or below `throughSeq`. */
export async function dropCheckpointsThrough (path: string, fh: FileHandle, throughSeq: number): Promise<{ fh: FileHandle, size: number }> {
  const text = await readFile(path, 'utf8')
  const kept = text.split('\n').filter(line => {
    if (line === '') return false
    try { return (JSON.parse(line) as Checkpoint).seq > throughSeq } catch { return true }
  })
  writeFileAtomic(path, kept.map(l => l + '\n').join(''), 0o600)
  await fh.close()
  const reopened = await openRw(path)
  return { fh: reopened.fh, size: reopened.size }
}
