/**
 * WAL checkpoints off the event loop (issue 15). SQLite runs its automatic checkpoint inside the
 * commit that crosses 1000 WAL pages: on the event loop, copying pages into the database file and
 * syncing it, 5–6 ms here: a stall of the whole daemon every few hundred messages. (The p99 of
 * a delivery did not move measurably with it gone: fdatasync times dominate it.) Once a database has been synced `HANDOVER_AFTER_SYNCS` times (it is busy), a shared
 * worker thread opens its own connection, checkpoints it every `CHECKPOINT_INTERVAL_MS` (PASSIVE:
 * it never waits for our locks), and the owner's automatic checkpoints are turned off. An idle
 * node never starts the worker (it costs ~8 MiB). If the worker fails, the owner's automatic
 * checkpoints come back on, so the WAL never grows without bound.
 *
 * Durability is unchanged: a checkpoint syncs the WAL before it copies and the database file
 * after, whichever connection runs it (`wal-sync.ts`).
 */
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'

/** Syncs after which a database counts as busy and its checkpoints move to the worker. @default 64 */
export const HANDOVER_AFTER_SYNCS = 64
/** How often the worker checkpoints each database it holds. @default 100 ms */
export const CHECKPOINT_INTERVAL_MS = 100
/** SQLite's own default, restored when the worker fails. */
const AUTOCHECKPOINT_PAGES = 1000
/** Longest `close()` waits for the worker to close its connection. @default 2 s */
const CLOSE_WAIT_MS = 2000

type Event = { op: 'opened' | 'checkpointed' | 'failed', path: string, frames?: number, error?: string }

let worker: Worker | undefined
const owners = new Map<string, WalCheckpoints>()

function shared (): Worker {
  if (worker !== undefined) return worker
  const w = new Worker(new URL('./checkpoint-worker.js', import.meta.url))
  w.on('message', (e: Event) => { owners.get(e.path)?.onEvent(e) })
  const fail = (why: string): void => {
    if (worker === w) worker = undefined
    for (const o of owners.values()) o.onEvent({ op: 'failed', path: '', error: why })
  }
  w.on('error', err => { fail(err.message) })
  w.on('exit', code => { if (worker === w) fail(`the checkpoint worker exited (${code})`) })
  // After the listeners: adding a 'message' listener refs the worker again.
  w.unref()
  worker = w
  return w
}

export class WalCheckpoints {
  /** WAL frames the worker has copied into the database file so far. */
  readonly stats = { framesCheckpointed: 0 }
  private syncs = 0
  private state: 'owner' | 'handing' | 'worker' | 'closed' = 'owner'
  /** The worker was asked to open this database (it may hold a connection until told to close it). */
  private handed = false
  /** The worker failed once: checkpoints stay with the owner. */
  private stayHome = false

  constructor (private readonly db: Database.Database, private readonly path: string) {}

  /** True once the worker checkpoints this database. */
  get offLoop (): boolean { return this.state === 'worker' }

  /** Counts one sync of the WAL; the `HANDOVER_AFTER_SYNCS`th hands checkpoints to the worker. */
  noteSync (): void {
    if (this.state !== 'owner' || this.stayHome || ++this.syncs < HANDOVER_AFTER_SYNCS) return
    this.state = 'handing'
    this.handed = true
    owners.set(this.path, this)
    try {
      shared().postMessage({ op: 'open', path: this.path, intervalMs: CHECKPOINT_INTERVAL_MS })
    } catch {
      this.takeBack()
    }
  }

  /** @internal Events of the worker about this database. */
  onEvent (e: Event): void {
    if (this.state === 'closed') return
    if (e.op === 'opened' && this.state === 'handing') {
      this.state = 'worker'
      this.db.pragma('wal_autocheckpoint = 0')
    } else if (e.op === 'checkpointed') {
      this.stats.framesCheckpointed += e.frames ?? 0
    } else if (e.op === 'failed') {
      this.takeBack()
    }
  }

  /**
   * Takes the database back from the worker, waiting (bounded) until its connection is closed,
   * so that the owner's close is the last one (SQLite then checkpoints and removes the WAL as
   * before). Idempotent.
   */
  close (): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    owners.delete(this.path)
    if (!this.handed || worker === undefined) return
    const done = new Int32Array(new SharedArrayBuffer(4))
    worker.postMessage({ op: 'close', path: this.path, done })
    Atomics.wait(done, 0, 0, CLOSE_WAIT_MS)
    if (owners.size === 0) {
      // Nothing left to checkpoint: the thread and its ~8 MiB go (a busy database brings it back).
      const w = worker
      worker = undefined
      void w.terminate()
    }
  }

  private takeBack (): void {
    if (this.state === 'closed' || this.state === 'owner') return
    this.state = 'owner'
    this.stayHome = true
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
  }
}
