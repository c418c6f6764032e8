// Group commit for tasks.db and mailbox.db (issues 11 and 15, docs/protocols.md "Durability"):
// commits made with synchronous = NORMAL become durable through WalSync, one fdatasync of the WAL
// shared by every caller that comes while one runs. fdatasync calls are counted on Node's FileHandle.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { existsSync, unlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { HANDOVER_AFTER_SYNCS, WalSync, openDatabase } from '../a2a/index.js'
import { kitSuite, waitFor } from './kit/index.js'

const test = kitSuite('wal-sync')

async function counted (ctx: { defer: (f: () => unknown) => void, tmp: () => string }): Promise<{ dir: string, count: () => number }> {
  const dir = ctx.tmp()
  const probe = await open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  const original = proto.datasync
  let n = 0
  proto.datasync = async function (this: unknown) { n++; return await original.call(this) }
  ctx.defer(() => { proto.datasync = original })
  return { dir, count: () => n }
}

/** A WAL database committing without fsync, as the stores do, and its WalSync. */
function walDatabase (ctx: { defer: (f: () => unknown) => void }, path: string): { wal: WalSync, insert: { run: (v: number) => unknown } } {
  const db = openDatabase(path)
  ctx.defer(() => { db.close() })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (v INTEGER)')
  return { wal: new WalSync(path), insert: db.prepare('INSERT INTO t (v) VALUES (?)') }
}

test('WalSync: ten callers at once share two fdatasyncs (the one running and the next); callers one after another get one each; :memory: needs none', async ctx => {
  const { dir, count } = await counted(ctx)
  const { wal, insert } = walDatabase(ctx, join(dir, 'x.db'))
  ctx.defer(() => { wal.close() })
  await Promise.all(Array.from({ length: 10 }, async (_, i) => { insert.run(i); await wal.sync() }))
  assert.is(count(), 2)
  for (let i = 0; i < 3; i++) { insert.run(i); await wal.sync() }
  assert.is(count(), 5)
  await new WalSync(':memory:').sync()
  assert.is(count(), 5)
})

test('WalSync: close() syncs for the callers still waiting and resolves them; later calls are refused', async ctx => {
  const { dir } = await counted(ctx)
  const { wal, insert } = walDatabase(ctx, join(dir, 'y.db'))
  const settled: string[] = []
  const calls = Array.from({ length: 5 }, async (_, i) => {
    insert.run(i)
    await wal.sync().then(() => { settled.push('ok') }, err => { settled.push(String(err)) })
  })
  wal.close()
  await Promise.all(calls)
  assert.equal(settled, ['ok', 'ok', 'ok', 'ok', 'ok'])
  let refused = false
  await wal.sync().catch(() => { refused = true })
  assert.ok(refused, 'a sync after close is refused')
})

test('WalSync.syncWithin: a sync that begins before its time covers it (one fdatasync, not two); alone it syncs within its time; close() clears it (issue 11)', async ctx => {
  const { dir, count } = await counted(ctx)
  const { wal, insert } = walDatabase(ctx, join(dir, 'w.db'))
  ctx.defer(() => { wal.close() })
  const failed: Error[] = []
  // The forwarder's pattern: the agent's task id, then the final snapshot, which waits for its sync.
  insert.run(1)
  wal.syncWithin(300, err => { failed.push(err) })
  insert.run(2)
  await wal.sync()
  assert.is(count(), 1, 'the final snapshot\'s fdatasync covered the deferred one')
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.is(count(), 1, 'no second fdatasync when the deferred time passed')
  // Alone, the deferred sync runs by itself.
  insert.run(3)
  wal.syncWithin(50, err => { failed.push(err) })
  wal.syncWithin(50, err => { failed.push(err) }) // one deferred sync at a time
  await waitFor(() => count() === 2, 5000, 'the deferred sync')
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.is(count(), 2, 'two requests made one fdatasync')
  // close() syncs on its own thread and leaves no timer to fire on a closed WAL.
  insert.run(4)
  wal.syncWithin(100, err => { failed.push(err) })
  wal.close()
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.is(count(), 2)
  assert.equal(failed, [])
})

test('a busy database\'s checkpoints run on a worker thread, not inside a commit on the event loop (issue 15)', async ctx => {
  const path = join(ctx.tmp(), 'busy.db')
  const db = openDatabase(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (v TEXT)')
  const wal = new WalSync(path, db)
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)')
  assert.is(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'a quiet database keeps SQLite\'s own checkpoints (no worker)')
  for (let i = 0; i < HANDOVER_AFTER_SYNCS; i++) { insert.run('x'); await wal.sync() }
  await waitFor(() => wal.checkpoints?.offLoop, 10_000, 'the worker to take the checkpoints')
  assert.is(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'no checkpoint runs inside our commits any more')
  // Well past SQLite's 1000-page trigger: the worker copies the frames into the database file.
  const row = 'y'.repeat(3000)
  for (let i = 0; i < 1500; i++) insert.run(row)
  await wal.sync()
  await waitFor(() => (wal.checkpoints?.stats.framesCheckpointed ?? 0) >= 1000, 10_000, 'the worker to checkpoint 1000 frames')
  wal.close()
  db.close()
  assert.not.ok(existsSync(`${path}-wal`), 'the owner\'s close was the last one: SQLite checkpointed and removed the WAL')
  const again = openDatabase(path)
  ctx.defer(() => { again.close() })
  assert.is((again.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, HANDOVER_AFTER_SYNCS + 1500)
})

test('a worker that cannot open the database leaves its checkpoints with the owner', async ctx => {
  const path = join(ctx.tmp(), 'gone.db')
  const db = openDatabase(path)
  ctx.defer(() => { db.close() })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE t (v INTEGER)')
  const wal = new WalSync(path, db)
  ctx.defer(() => { wal.close() })
  unlinkSync(path) // our connection keeps working on the unlinked file; the worker finds nothing to open
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)')
  for (let i = 0; i < HANDOVER_AFTER_SYNCS; i++) { insert.run(i); await wal.sync() }
  await new Promise(resolve => setTimeout(resolve, 500))
  assert.not.ok(wal.checkpoints?.offLoop)
  assert.is(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'SQLite\'s own checkpoints still run')
})

test.run()
