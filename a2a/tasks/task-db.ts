/**
 * `tasks.db` (SQLite, WAL, 0600): the durable half of A2A tasks across the mesh (issue 11). Every
 * method is one transaction; a commit that returned survives SIGKILL.
 *
 * Power-cut durability comes from an fdatasync of the WAL file. The commits on the path of every
 * call (a call on the caller, the agent's task id and a final snapshot on the callee) are made
 * without it (`synchronous = NORMAL`, which never blocks the event loop on the disk) and are then
 * made durable by `sync()` (`wal-sync.ts`: one fdatasync of the WAL in the thread pool, shared by
 * every commit made before it started), awaited before the commit is acted on — except the agent's
 * task id, which the next sync to begin covers (`setAgentIds`). Rare commits
 * (offered agents, ending a call) are synced at once on the event loop (`WalSync.syncNow`), which
 * is what `synchronous = FULL` does at a commit. The connection stays in NORMAL: switching it per
 * transaction cost two more statements on every commit of every call (issue 11 performance).
 *
 * Caller side: `tasks` (the A2A Task snapshots the local endpoint serves, scoped by
 * `peer/agent/owner`, the owner being the local agent token's name) and `calls` (every SendMessage sent to a peer, with the last event seq applied).
 * Callee side: `offered` (local agents offered to the mesh), `served` (calls received from peers)
 * and `served_events` (each call's task snapshots, numbered, kept for the caller to catch up).
 */
import type Database from 'better-sqlite3'
import { openDatabase, transactionOf } from '../sqlite.js'
import { chmodSync, closeSync, openSync } from 'node:fs'
import { WalSync } from '../wal-sync.js'

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tasks (
    scope       TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    context_id  TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    task        TEXT    NOT NULL,
    PRIMARY KEY (scope, id)
  ) WITHOUT ROWID;
  CREATE INDEX tasks_updated ON tasks (scope, updated_at DESC, id);

  CREATE TABLE calls (
    call_id     TEXT    PRIMARY KEY,
    peer        TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    task_id     TEXT    NOT NULL,
    context_id  TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
  );
  CREATE INDEX calls_open ON calls (done) WHERE done = 0;

  CREATE TABLE offered (
    name      TEXT    PRIMARY KEY,
    mode      TEXT    NOT NULL CHECK (mode IN ('forward', 'pull')),
    url       TEXT    NOT NULL,
    card      TEXT    NOT NULL,
    added_at  INTEGER NOT NULL
  );

  CREATE TABLE served (
    call_id         TEXT    PRIMARY KEY,
    peer            TEXT    NOT NULL,
    agent           TEXT    NOT NULL,
    task_id         TEXT    NOT NULL,
    context_id      TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    agent_task_id   TEXT,
    agent_context_id TEXT,
    done            INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
  );
  CREATE INDEX served_task ON served (peer, task_id);
  CREATE INDEX served_open ON served (done) WHERE done = 0;

  CREATE TABLE served_events (
    call_id  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    task     TEXT    NOT NULL,
    final    INTEGER NOT NULL,
    PRIMARY KEY (call_id, seq)
  ) WITHOUT ROWID;
  `,
  // Card caching (A2A v1.0 §8.6): the agent's ETag, and until when (ms since the epoch) the
  // stored card is fresh; 0 = revalidate at its next use.
  `
  ALTER TABLE offered ADD COLUMN etag TEXT;
  ALTER TABLE offered ADD COLUMN fresh_until INTEGER NOT NULL DEFAULT 0;
  `,
  // A caller's context mapped to the agent's, so a new task in a context the agent already has
  // reaches the agent in that context; a context belongs to the local agent whose tasks are in
  // it (helper findings, stop 26).
  `
  CREATE INDEX served_context ON served (peer, agent, context_id) WHERE agent_context_id IS NOT NULL;
  CREATE INDEX tasks_context ON tasks (context_id);
  `,
  // A message sent again (a client's retry after a lost answer) is found by its messageId and
  // answered with the task it started, not sent as a second call (stop 31).
  `
  CREATE INDEX calls_message ON calls (peer, agent, owner, json_extract(message, '$.messageId'));
  `,
  // A pull agent's reply sent again with its messageId (a retry after a lost IPC answer) is
  // answered as the first time, not added twice (stop 32): the reply's messageId and a digest of
  // what it asked (parts, state, artifact); NULL for snapshots a forwarded agent produced.
  `
  ALTER TABLE served_events ADD COLUMN reply_id TEXT;
  ALTER TABLE served_events ADD COLUMN reply_digest TEXT;
  CREATE INDEX served_events_reply ON served_events (call_id, reply_id) WHERE reply_id IS NOT NULL;
  `,
  // The agents a peer last offered us (OfferedAgent[] as JSON) and when they came: served
  // stale-if-error while the peer cannot be asked, after this node restarts too (helper finding,
  // stop 33: the copy was in memory only, and a restarted A answered 502 until B was back).
  `
  CREATE TABLE remote_cards (
    peer   TEXT    PRIMARY KEY,
    at     INTEGER NOT NULL,
    agents TEXT    NOT NULL
  );
  `
]

export interface CallRow { callId: string, peer: string, agent: string, owner: string, taskId: string, contextId: string, message: string, lastSeq: number, done: boolean }
export interface ServedRow { callId: string, peer: string, agent: string, taskId: string, contextId: string, message: string, agentTaskId: string | null, agentContextId: string | null, done: boolean }
/** An offered agent; `etag` and `freshUntil` (ms since the epoch) are its card's HTTP caching state. */
export interface OfferedRow { name: string, mode: 'forward' | 'pull', url: string, card: string, addedAt: number, etag: string | null, freshUntil: number }
export interface StoredTask { id: string, task: string, updatedAt: number }
export interface ServedEvent { seq: number, task: string, final: boolean }
/** A pull agent's reply: its messageId and the digest of what it asked (`TaskDb.servedReply`). */
export interface ReplyKey { id: string, digest: string }
/** The snapshot a pull agent's reply made; `held`: final, but its sync failed (see `appendServedEvent`). */
export interface ServedReply { seq: number, task: string, final: boolean, digest: string, held: boolean }

/** Longest time the agent's task id of a forwarded call waits for a sync to cover it. @default 50 ms */
export const AGENT_IDS_SYNC_WITHIN_MS = 50

/** Called with each committed snapshot (A2A Task JSON text) of a watched task. */
export type TaskWatcher = (task: string) => void

export class TaskDb {
  private readonly db: Database.Database
  /** `scope\0id` → who follows that task's snapshots (SubscribeToTask). */
  private readonly watchers = new Map<string, Set<TaskWatcher>>()

  private readonly wal: WalSync
  /** Calls whose final snapshot is committed but not yet synced: not sent until it is. */
  private readonly unsyncedFinal = new Set<string>()

  private constructor (db: Database.Database, wal: WalSync) {
    this.db = db
    this.wal = wal
    this.tx = transactionOf(db)
  }

  /** Opens (creating it 0600) and migrates the database at `path`. */
  static open (path: string): TaskDb {
    if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600))
    const db = openDatabase(path)
    try {
      if (path !== ':memory:') chmodSync(path, 0o600)
      // Only this daemon opens tasks.db. Exclusive mode, set before the first access, keeps the
      // file locks and the WAL index in this process (no -shm): SQLite then makes no fcntl lock
      // calls per statement (~34 a call on the caller, issue 11 performance).
      db.pragma('locking_mode = EXCLUSIVE')
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 5000')
      const at = db.pragma('user_version', { simple: true }) as number
      for (let n = at; n < MIGRATIONS.length; n++) {
        db.transaction(() => { db.exec(MIGRATIONS[n]); db.pragma(`user_version = ${n + 1}`) })()
      }
      // Whatever a killed predecessor committed without its sync is made durable before this
      // process acts on it (follows a call, sends a final snapshot). No checkpoint worker: in
      // exclusive mode no other connection can read the file, so checkpoints stay with us.
      const wal = new WalSync(path)
      wal.syncNow()
      db.pragma('synchronous = NORMAL')
      return new TaskDb(db, wal)
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** Makes pending commits durable and closes the file (the sync first: closing removes the WAL). */
  close (): void {
    this.wal.close()
    if (this.db.open) this.db.close()
  }

  /** Makes every commit made so far durable (`WalSync.sync`: one shared fdatasync of the WAL). */
  async sync (): Promise<void> { await this.wal.sync() }

  private readonly tx: <T>(fn: () => T) => T

  /** One transaction without fsync at its commit (`synchronous = NORMAL`); survives SIGKILL. */
  private relaxed<T> (fn: () => T): T { return this.tx(fn) as T }

  /** One statement made durable before it returns (as `synchronous = FULL` would). */
  private durable<T> (fn: () => T): T {
    const r = fn()
    this.wal.syncNow()
    return r
  }

  // ---- caller side: task snapshots ----

  /**
   * A snapshot as the SDK's request handler saves it. Relaxed (`synchronous = NORMAL`: survives
   * SIGKILL, not a power cut): the durable truth is the call and the callee's event log, from
   * which a lost snapshot is fetched again. The same text as stored is not written again: the
   * SDK saves each snapshot a call's event has just stored (issue 11 performance).
   */
  saveTask (scope: string, id: string, contextId: string, state: string, task: string, now = Date.now()): void {
    if (this.loadTask(scope, id) === task) return
    this.relaxed(() => { this.putTask(scope, id, contextId, state, task, now) })
  }

  /**
   * Calls `fn` with every snapshot of task `id` in `scope` that a call applies (`applyEvent`) or
   * `announceTask` names from now on, synchronously after its commit. The SDK's own saves
   * (`saveTask`) are not announced: they repeat what a call already applied, sometimes late.
   * Returns the function that stops watching.
   */
  watchTask (scope: string, id: string, fn: TaskWatcher): () => void {
    const key = `${scope}\0${id}`
    let set = this.watchers.get(key)
    if (set === undefined) { set = new Set(); this.watchers.set(key, set) }
    set.add(fn)
    return () => { set.delete(fn); if (set.size === 0 && this.watchers.get(key) === set) this.watchers.delete(key) }
  }

  /** Saves a snapshot that did not come from a call's events (a cancellation) and announces it. */
  announceTask (scope: string, id: string, contextId: string, state: string, task: string): void {
    this.saveTask(scope, id, contextId, state, task)
    this.notify(scope, id, task)
  }

  private notify (scope: string, id: string, task: string): void {
    for (const fn of [...this.watchers.get(`${scope}\0${id}`) ?? []]) {
      try { fn(task) } catch (err) { console.error('a2a: task watcher failed:', (err as Error).message) }
    }
  }

  private putTask (scope: string, id: string, contextId: string, state: string, task: string, now = Date.now()): void {
    this.db.prepare('INSERT INTO tasks (scope, id, context_id, state, updated_at, task) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, id) DO UPDATE SET context_id = excluded.context_id, state = excluded.state, updated_at = excluded.updated_at, task = excluded.task')
      .run(scope, id, contextId, state, now, task)
  }

  loadTask (scope: string, id: string): string | undefined {
    return (this.db.prepare('SELECT task FROM tasks WHERE scope = ? AND id = ?').get(scope, id) as { task: string } | undefined)?.task
  }

  /** Tasks of `scope`, newest update first, after the cursor `(updatedAt, id)`; filters optional. */
  listTasks (scope: string, opts: TaskFilter & { limit: number, after?: { updatedAt: number, id: string } }): StoredTask[] {
    const { where, args } = taskWhere(scope, opts)
    if (opts.after !== undefined) { where.push('(updated_at < ? OR (updated_at = ? AND id > ?))'); args.push(opts.after.updatedAt, opts.after.updatedAt, opts.after.id) }
    return (this.db.prepare(`SELECT id, task, updated_at FROM tasks WHERE ${where.join(' AND ')} ORDER BY updated_at DESC, id LIMIT ?`).all(...args, opts.limit) as any[])
      .map(r => ({ id: r.id, task: r.task, updatedAt: r.updated_at }))
  }

  /** Whether context `contextId` holds a task of another local agent than `owner` (scopes end in `/OWNER`). */
  contextOfOthers (owner: string, contextId: string): boolean {
    return this.db.prepare("SELECT 1 FROM tasks WHERE context_id = @contextId AND substr(scope, -(length(@owner) + 1)) <> '/' || @owner LIMIT 1").get({ contextId, owner }) !== undefined
  }

  countTasks (scope: string, opts: TaskFilter): number {
    const { where, args } = taskWhere(scope, opts)
    return (this.db.prepare(`SELECT count(*) AS n FROM tasks WHERE ${where.join(' AND ')}`).get(...args) as { n: number }).n
  }

  // ---- caller side: calls ----

  /** Commits a call; resolves once it is durable (`sync()`), before it may be sent. */
  async addCall (c: Omit<CallRow, 'lastSeq' | 'done'>, now = Date.now()): Promise<void> {
    this.relaxed(() => {
      this.db.prepare('INSERT OR IGNORE INTO calls (call_id, peer, agent, owner, task_id, context_id, message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(c.callId, c.peer, c.agent, c.owner, c.taskId, c.contextId, c.message, now)
    })
    await this.sync()
  }

  openCalls (): CallRow[] {
    return (this.db.prepare('SELECT * FROM calls WHERE done = 0 ORDER BY created_at').all() as any[]).map(callRow)
  }

  getCall (callId: string): CallRow | undefined {
    const r = this.db.prepare('SELECT * FROM calls WHERE call_id = ?').get(callId)
    return r === undefined ? undefined : callRow(r)
  }

  /** The newest call of a task (the one a CancelTask goes to). */
  lastCallOfTask (peer: string, agent: string, taskId: string): CallRow | undefined {
    const r = this.db.prepare('SELECT * FROM calls WHERE peer = ? AND agent = ? AND task_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(peer, agent, taskId)
    return r === undefined ? undefined : callRow(r)
  }

  /**
   * The first call `owner` sent to `agent` on `peer` with the A2A message `messageId`; undefined
   * when there is none. The expression is the `calls_message` index's.
   */
  callOfMessage (peer: string, agent: string, owner: string, messageId: string): CallRow | undefined {
    const r = this.db.prepare("SELECT * FROM calls WHERE peer = ? AND agent = ? AND owner = ? AND json_extract(message, '$.messageId') = ? ORDER BY created_at, rowid LIMIT 1").get(peer, agent, owner, messageId)
    return r === undefined ? undefined : callRow(r)
  }

  /**
   * Applies event `seq` of a call: the snapshot and the call's progress in one commit. Returns
   * false (and changes nothing) unless `seq` is the next one — a replayed or early event — of a
   * call still open (a cancelled call takes no more).
   */
  applyEvent (callId: string, seq: number, final: boolean, scope: string, taskId: string, contextId: string, state: string, task: string): boolean {
    // Relaxed: the callee keeps every event, so one lost here (power cut) is fetched again.
    const applied = this.relaxed(() => {
      const r = this.db.prepare('SELECT last_seq, done FROM calls WHERE call_id = ?').get(callId) as { last_seq: number, done: number } | undefined
      if (r === undefined || r.done === 1 || r.last_seq + 1 !== seq) return false
      this.putTask(scope, taskId, contextId, state, task)
      this.db.prepare('UPDATE calls SET last_seq = ?, done = ? WHERE call_id = ?').run(seq, final ? 1 : 0, callId)
      return true
    })
    if (applied) this.notify(scope, taskId, task)
    return applied
  }

  /** Ends a call that will get no more events (refused by the callee, or given up). */
  endCall (callId: string): void {
    this.durable(() => this.db.prepare('UPDATE calls SET done = 1 WHERE call_id = ?').run(callId))
  }

  // ---- callee side: offered agents ----

  putOffered (name: string, mode: 'forward' | 'pull', url: string, card: string, cache: { etag: string | null, freshUntil: number } = { etag: null, freshUntil: 0 }, now = Date.now()): void {
    this.durable(() => this.db.prepare('INSERT INTO offered (name, mode, url, card, added_at, etag, fresh_until) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET mode = excluded.mode, url = excluded.url, card = excluded.card, etag = excluded.etag, fresh_until = excluded.fresh_until')
      .run(name, mode, url, card, now, cache.etag, cache.freshUntil))
  }

  /**
   * A revalidated card: a new `card` and `etag` (HTTP 200), or only a new `freshUntil` (304, or
   * a failed fetch). Relaxed: lost to a power cut, the card is only fetched again.
   */
  refreshOffered (name: string, r: { card?: string, etag?: string | null, freshUntil: number }): void {
    this.relaxed(() => {
      if (r.card !== undefined) this.db.prepare('UPDATE offered SET card = ?, etag = ?, fresh_until = ? WHERE name = ?').run(r.card, r.etag ?? null, r.freshUntil, name)
      else this.db.prepare('UPDATE offered SET fresh_until = ? WHERE name = ?').run(r.freshUntil, name)
    })
  }

  removeOffered (name: string): boolean {
    return this.durable(() => this.db.prepare('DELETE FROM offered WHERE name = ?').run(name).changes > 0)
  }

  offered (): OfferedRow[] {
    return (this.db.prepare('SELECT * FROM offered ORDER BY name').all() as any[]).map(offeredRow)
  }

  getOffered (name: string): OfferedRow | undefined {
    const r = this.db.prepare('SELECT * FROM offered WHERE name = ?').get(name) as any
    return r === undefined ? undefined : offeredRow(r)
  }

  // ---- caller side: what peers offer us ----

  /** Keeps the agents `peer` offered us (`agents`: OfferedAgent[] as JSON) at `at`, ms since the epoch. */
  putRemoteCards (peer: string, at: number, agents: string): void {
    this.db.prepare('INSERT INTO remote_cards (peer, at, agents) VALUES (?, ?, ?) ON CONFLICT (peer) DO UPDATE SET at = excluded.at, agents = excluded.agents').run(peer, at, agents)
  }

  /** The agents `peer` last offered us, as `putRemoteCards` kept them. */
  getRemoteCards (peer: string): { at: number, agents: string } | undefined {
    return this.db.prepare('SELECT at, agents FROM remote_cards WHERE peer = ?').get(peer) as { at: number, agents: string } | undefined
  }

  // ---- callee side: served calls ----

  /** Records a call from `peer`; returns `new`, `same` (already held from that peer) or `conflict`. */
  addServed (s: Omit<ServedRow, 'agentTaskId' | 'agentContextId' | 'done'>, now = Date.now()): 'new' | 'same' | 'conflict' {
    // Relaxed: a call lost to a power cut is sent again by the caller, which follows it until final.
    return this.relaxed(() => {
      const r = this.db.prepare('SELECT peer, agent FROM served WHERE call_id = ?').get(s.callId) as { peer: string, agent: string } | undefined
      if (r !== undefined) return r.peer === s.peer && r.agent === s.agent ? 'same' : 'conflict'
      this.db.prepare('INSERT INTO served (call_id, peer, agent, task_id, context_id, message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(s.callId, s.peer, s.agent, s.taskId, s.contextId, s.message, now)
      return 'new'
    })
  }

  getServed (callId: string): ServedRow | undefined {
    const r = this.db.prepare('SELECT * FROM served WHERE call_id = ?').get(callId)
    return r === undefined ? undefined : servedRow(r)
  }

  openServed (): ServedRow[] {
    return (this.db.prepare('SELECT * FROM served WHERE done = 0 ORDER BY created_at').all() as any[]).map(servedRow)
  }

  /** The agent's own task and context ids for the caller's task (set by an earlier turn; not by call `exceptCallId`). */
  agentIdsOf (peer: string, taskId: string, exceptCallId = ''): { agentTaskId: string, agentContextId: string } | undefined {
    const r = this.db.prepare('SELECT agent_task_id, agent_context_id FROM served WHERE peer = ? AND task_id = ? AND agent_task_id IS NOT NULL AND call_id != ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(peer, taskId, exceptCallId) as any
    return r === undefined ? undefined : { agentTaskId: r.agent_task_id, agentContextId: r.agent_context_id }
  }

  /** The agent's context id for the caller's context `contextId` of `peer`, when a call in it reached `agent`. */
  agentContextOf (peer: string, agent: string, contextId: string): string | undefined {
    const r = this.db.prepare('SELECT agent_context_id FROM served WHERE peer = ? AND agent = ? AND context_id = ? AND agent_context_id IS NOT NULL ORDER BY created_at DESC, rowid DESC LIMIT 1').get(peer, agent, contextId) as any
    return r?.agent_context_id ?? undefined
  }

  /**
   * Records the agent's task id for a call, so that a restarted callee follows the agent's task
   * instead of sending the message again. The commit survives SIGKILL at once; it is made durable
   * (power cut) within `AGENT_IDS_SYNC_WITHIN_MS`, by the sync of the call's final snapshot when
   * that comes first (`WalSync.syncWithin`: one fdatasync a forwarded call instead of two, issue
   * 11 performance). Until then a power cut can make the restarted callee send the message to
   * the agent again: delivery to the agent is at least once. A failed sync is only logged: the
   * final snapshot's own sync fails as well and holds it back.
   */
  setAgentIds (callId: string, agentTaskId: string, agentContextId: string): void {
    this.relaxed(() => { this.db.prepare('UPDATE served SET agent_task_id = ?, agent_context_id = ? WHERE call_id = ?').run(agentTaskId, agentContextId, callId) })
    this.wal.syncWithin(AGENT_IDS_SYNC_WITHIN_MS, err => { console.error(`a2a: cannot sync the agent's task id of call ${callId}: ${err.message}`) })
  }

  /**
   * Appends the next snapshot of a served call (and closes it when `final`); resolves with its seq.
   * A final snapshot resolves once durable (`sync()`), and `servedEvents` holds it back until
   * then; if the sync fails it stays held back (the restart's sync makes it durable) and this
   * rejects. A progress one only survives SIGKILL (after a power cut the agent's task is followed
   * again and the next snapshot takes its place).
   */
  async appendServedEvent (callId: string, task: string, final: boolean, reply?: ReplyKey): Promise<number> {
    if (final) this.unsyncedFinal.add(callId)
    const seq = this.relaxed((): number => {
      const r = this.db.prepare('SELECT coalesce(max(seq), 0) AS n FROM served_events WHERE call_id = ?').get(callId) as { n: number }
      const seq = r.n + 1
      this.db.prepare('INSERT INTO served_events (call_id, seq, task, final, reply_id, reply_digest) VALUES (?, ?, ?, ?, ?, ?)').run(callId, seq, task, final ? 1 : 0, reply?.id ?? null, reply?.digest ?? null)
      if (final) this.db.prepare('UPDATE served SET done = 1 WHERE call_id = ?').run(callId)
      return seq
    })
    if (final) {
      await this.sync()
      this.unsyncedFinal.delete(callId)
    }
    return seq
  }

  /**
   * The snapshot the reply with A2A `messageId` made to served call `callId`, if any. `held`: a
   * final one whose sync failed — not durable, and not made so by syncing again (after a failed
   * fsync Linux may drop the dirty pages and report the next one clean); the restart syncs it.
   */
  servedReply (callId: string, messageId: string): ServedReply | undefined {
    const r = this.db.prepare('SELECT seq, task, final, reply_digest FROM served_events WHERE call_id = ? AND reply_id = ? ORDER BY seq LIMIT 1').get(callId, messageId) as any
    if (r === undefined) return undefined
    const final = r.final === 1
    return { seq: r.seq, task: r.task, final, digest: r.reply_digest, held: final && this.unsyncedFinal.has(callId) }
  }

  /** The newest snapshot of the caller's task `taskId` over all its calls (a pull reply builds on it). */
  lastServedSnapshot (peer: string, taskId: string): string | undefined {
    const r = this.db.prepare('SELECT e.task FROM served_events e JOIN served s ON s.call_id = e.call_id WHERE s.peer = ? AND s.task_id = ? ORDER BY s.created_at DESC, s.rowid DESC, e.seq DESC LIMIT 1').get(peer, taskId) as { task: string } | undefined
    return r?.task
  }

  /** Snapshots of a served call after `afterSeq`, without a final one not yet durable. */
  servedEvents (callId: string, afterSeq: number): ServedEvent[] {
    const held = this.unsyncedFinal.has(callId)
    return (this.db.prepare('SELECT seq, task, final FROM served_events WHERE call_id = ? AND seq > ? ORDER BY seq').all(callId, afterSeq) as any[])
      .map(r => ({ seq: r.seq, task: r.task, final: r.final === 1 }))
      .filter(e => !(e.final && held))
  }
}

function callRow (r: any): CallRow {
  return { callId: r.call_id, peer: r.peer, agent: r.agent, owner: r.owner, taskId: r.task_id, contextId: r.context_id, message: r.message, lastSeq: r.last_seq, done: r.done === 1 }
}

function offeredRow (r: any): OfferedRow {
  return { name: r.name, mode: r.mode, url: r.url, card: r.card, addedAt: r.added_at, etag: r.etag ?? null, freshUntil: r.fresh_until ?? 0 }
}

function servedRow (r: any): ServedRow {
  return { callId: r.call_id, peer: r.peer, agent: r.agent, taskId: r.task_id, contextId: r.context_id, message: r.message, agentTaskId: r.agent_task_id, agentContextId: r.agent_context_id, done: r.done === 1 }
}

/** ListTasks filters: a context, a state, a last update after this time (ms since the epoch). */
export interface TaskFilter { contextId?: string, state?: string, updatedAfter?: number }

function taskWhere (scope: string, opts: TaskFilter): { where: string[], args: unknown[] } {
  const where = ['scope = ?']
  const args: unknown[] = [scope]
  if (opts.contextId !== undefined) { where.push('context_id = ?'); args.push(opts.contextId) }
  if (opts.state !== undefined) { where.push('state = ?'); args.push(opts.state) }
  if (opts.updatedAfter !== undefined) { where.push('updated_at > ?'); args.push(opts.updatedAfter) }
  return { where, args }
}
