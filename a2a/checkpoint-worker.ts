/**
 * The worker thread of `wal-checkpoints.ts`: holds its own connection to each database handed to
 * it and runs a PASSIVE checkpoint on each every `intervalMs` (issue 15). SQLite lets another
 * connection checkpoint while the owner writes; PASSIVE never waits for the owner's locks.
 *
 * Messages in: `{ op: 'open', path, intervalMs }`, `{ op: 'close', path, done }` (`done`: an
 * Int32Array on a SharedArrayBuffer, set to 1 and notified once the connection is closed, so the
 * owner can wait for it synchronously before closing its own). Messages out: `{ op: 'opened',
 * path }`, `{ op: 'checkpointed', path, frames }`, `{ op: 'failed', path, error }`.
 */
import { parentPort } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import { openDatabase } from './sqlite.js'

interface Held { db: Database.Database, timer: NodeJS.Timeout, busy: number }
/** Checkpoints refused as busy in a row before the owner is told to take its checkpoints back (a file another connection holds exclusively). */
const BUSY_STREAK_MAX = 50
const held = new Map<string, Held>()
const port = parentPort!

function checkpoint (path: string, h: Held): void {
  try {
    const [r] = h.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number, log: number, checkpointed: number }>
    h.busy = 0
    if (r.checkpointed > 0) port.postMessage({ op: 'checkpointed', path, frames: r.checkpointed })
  } catch (err) {
    // Busy (a truncating checkpoint of the owner runs): the next turn tries again, unless it
    // never ends. Any other error (the disk fails): the owner takes its checkpoints back.
    const busy = (err as { code?: string }).code === 'SQLITE_BUSY'
    if (busy && ++h.busy < BUSY_STREAK_MAX) return
    clearInterval(h.timer)
    port.postMessage({ op: 'failed', path, error: (err as Error).message })
  }
}

port.on('message', (m: { op: 'open', path: string, intervalMs: number } | { op: 'close', path: string, done: Int32Array }) => {
  if (m.op === 'open') {
    try {
      const db = openDatabase(m.path, { fileMustExist: true })
      db.pragma('busy_timeout = 0')
      const h: Held = { db, timer: setInterval(() => { checkpoint(m.path, h) }, m.intervalMs), busy: 0 }
      held.set(m.path, h)
      port.postMessage({ op: 'opened', path: m.path })
    } catch (err) {
      port.postMessage({ op: 'failed', path: m.path, error: (err as Error).message })
    }
    return
  }
  const h = held.get(m.path)
  held.delete(m.path)
  if (h !== undefined) {
    clearInterval(h.timer)
    try { h.db.close() } catch { /* the owner closes its own connection next */ }
  }
  Atomics.store(m.done, 0, 1)
  Atomics.notify(m.done, 0)
})
