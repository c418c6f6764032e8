// The mailbox store on real SQLite files: migrations, dedupe, leases, acks, dead letters, the
// outbox, and durability across SIGKILL of the process that committed.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs, { statSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { HANDOVER_AFTER_SYNCS, MailboxStore, backoffMs, openDatabase } from '../a2a/index.js'
import { kitSuite, repoPath, waitFor } from './kit/index.js'

const test = kitSuite('a2a-store')
const ALICE = '12D3KooWAlice'
const MALLORY = '12D3KooWMallory'
const T0 = 1_700_000_000_000

function open (ctx: { tmp: () => string, defer: (f: () => unknown) => void }, dir?: string): { store: MailboxStore, path: string } {
  const path = join(dir ?? ctx.tmp(), 'mailbox.db')
  const store = MailboxStore.open(path)
  ctx.defer(() => { store.close() })
  return { store, path }
}

function assertThrows (fn: () => unknown): unknown {
  try { fn() } catch (err) { return err }
  throw new Error('Expected the call to throw')
}

const incoming = (mailbox = 'builder', sender = ALICE, text = 'hi') => ({
  id: uuidv7(), sender, mailbox, ts: T0, ttl: 60_000, message: JSON.stringify({ messageId: uuidv7(), role: 'ROLE_USER', parts: [{ text }] })
})

test('open() creates mailbox.db 0600 in WAL mode at the current schema version; reopening keeps data', ctx => {
  const dir = ctx.tmp()
  const { store, path } = open(ctx, dir)
  assert.is(statSync(path).mode & 0o777, 0o600)
  assert.is(store.schemaVersion, 3)
  const e = incoming()
  assert.equal(store.accept([e], T0), ['accepted'])
  store.close()
  const db = openDatabase(path, { readonly: true })
  assert.is(db.pragma('journal_mode', { simple: true }), 'wal')
  db.close()
  const again = MailboxStore.open(path)
  ctx.defer(() => { again.close() })
  assert.is(again.mailboxes(T0)[0].ready, 1)
})

test('open() rewrites a file made without incremental auto-vacuum once, keeping its messages (issue 14)', ctx => {
  const dir = ctx.tmp()
  const { store, path } = open(ctx, dir)
  assert.equal(store.accept([incoming()], T0), ['accepted'])
  store.close()
  const old = openDatabase(path)
  old.pragma('auto_vacuum = NONE')
  old.exec('VACUUM')
  assert.is(old.pragma('auto_vacuum', { simple: true }), 0)
  old.close()
  const again = MailboxStore.open(path)
  ctx.defer(() => { again.close() })
  assert.is(again.database.pragma('auto_vacuum', { simple: true }), 2)
  assert.is(again.database.pragma('journal_mode', { simple: true }), 'wal')
  assert.is(again.mailboxes(T0)[0].ready, 1)
})

test('a busy mailbox.db checkpoints on a worker thread: after HANDOVER_AFTER_SYNCS durable commits its own automatic checkpoints are off (issue 15)', async ctx => {
  const store = MailboxStore.open(join(ctx.tmp(), 'mailbox.db'))
  ctx.defer(() => { store.close() })
  assert.is(store.database.pragma('wal_autocheckpoint', { simple: true }), 1000)
  for (let i = 0; i < HANDOVER_AFTER_SYNCS; i++) {
    store.accept([incoming('builder', ALICE, `m${i}`)], T0)
    await store.durable()
  }
  await waitFor(() => store.database.pragma('wal_autocheckpoint', { simple: true }) === 0, 10_000, 'the worker to take the checkpoints')
})

test('open() takes a version 1 file to version 3 (lease names count deliveries before a redrive; acceptances not yet audited), keeping its messages', ctx => {
  const dir = ctx.tmp()
  const { store, path } = open(ctx, dir)
  const e = incoming()
  store.accept([e], T0)
  store.close()
  const db = openDatabase(path)
  db.exec('ALTER TABLE inbox DROP COLUMN earlier_deliveries; ALTER TABLE dead_letters DROP COLUMN earlier_deliveries; DROP TABLE accept_unaudited; PRAGMA user_version = 1')
  db.close()
  const again = MailboxStore.open(path)
  ctx.defer(() => { again.close() })
  assert.is(again.schemaVersion, 3)
  assert.equal(again.unaudited(), [])
  assert.equal(again.lease('builder', { leaseMs: 100, max: 1, maxDeliveries: 5 }, T0).leased.map(m => m.lease), [`${e.id}.1`])
})

test('an envelope from the mesh stays listed as unaudited until its audit row is durable; a local delivery (no bytes) is not listed; unaccept drops it', ctx => {
  const { store } = open(ctx)
  const [a, b, local] = [incoming(), incoming(), incoming()]
  assert.equal(store.accept([{ ...a, bytes: 10 }, { ...b, bytes: 20 }, local], T0), ['accepted', 'accepted', 'accepted'])
  assert.equal(store.unaudited().map(u => [u.id, u.bytes]).sort(), [[a.id, 10], [b.id, 20]].sort())
  assert.equal(store.accept([{ ...a, bytes: 10 }], T0), ['duplicate'])
  store.audited([a.id])
  store.unaccept([b.id])
  assert.equal(store.unaudited(), [])
})

test('a full disk is UNAVAILABLE naming the file and the fix, for every kind of write (helper finding: a2a ack answered INTERNAL with a stack)', ctx => {
  const { store, path } = open(ctx)
  store.accept([incoming()], T0)
  const leased = store.lease('builder', { leaseMs: 60_000, max: 1, maxDeliveries: 5 }, T0).leased
  // SQLite's own cap stands in for the disk: the next page it needs is refused with SQLITE_FULL.
  store.database.pragma(`max_page_count = ${store.database.pragma('page_count', { simple: true }) as number}`)
  const big = 'x'.repeat(256 * 1024)
  const full = (f: () => unknown, what: string): void => {
    try {
      f()
      assert.unreachable(`${what} went through`)
    } catch (err: any) {
      assert.is(err.code, 'UNAVAILABLE', `${what}: ${String(err.message)}`)
      assert.is(err.message, `Cannot write "${path}": the disk is full (SQLITE_FULL); free some space and try again`)
    }
  }
  full(() => store.accept([incoming('builder', ALICE, big)], T0), 'accept')
  full(() => store.enqueue([{ id: 'o1', peer: ALICE, mailbox: 'builder', messageId: 'm1', frame: big, createdAt: T0, expiresAt: T0 + 60_000 }]), 'enqueue')
  assert.equal(store.ack('builder', [leased[0].lease]).acked, [leased[0].lease], 'a write that frees space still goes through')
})

test('open() refuses a database written by a newer schema version', ctx => {
  const path = join(ctx.tmp(), 'mailbox.db')
  const db = openDatabase(path)
  db.pragma('user_version = 99')
  db.close()
  assert.throws(() => MailboxStore.open(path), /schema version 99 is newer/)
})

test('accept() commits once: the same id from the same sender is a duplicate, from another sender a conflict', ctx => {
  const { store } = open(ctx)
  const e = incoming()
  assert.equal(store.accept([e, { ...e }], T0), ['accepted', 'duplicate'], 'a repeat inside one batch is caught too')
  assert.equal(store.accept([e], T0 + 10), ['duplicate'])
  assert.equal(store.accept([{ ...e, sender: MALLORY }], T0 + 10), ['conflict'])
  assert.equal(store.mailboxes(T0), [{ mailbox: 'builder', ready: 1, leased: 0, dead: 0 }])
})

test('an acked id stays a duplicate until its TTL and grace have passed', ctx => {
  const { store } = open(ctx)
  const e = incoming()
  store.accept([e], T0)
  const { leased } = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5 }, T0)
  assert.equal(store.ack('builder', [leased[0].lease]), { acked: [`${e.id}.1`], missing: [] })
  assert.equal(store.accept([e], T0 + 30_000), ['duplicate'])
  assert.equal(store.prune(T0 + 60_000), { dedupe: 0, outbox: 0 }, 'kept through the grace period')
  assert.equal(store.prune(T0 + 60_000 + 3600_001), { dedupe: 1, outbox: 0 })
})

test('lease() hands out the oldest ready messages of one mailbox and hides them until the lease ends', ctx => {
  const { store } = open(ctx)
  const es = [incoming('builder', ALICE, 'a'), incoming('other'), incoming('builder', ALICE, 'b'), incoming('builder', ALICE, 'c')]
  store.accept(es, T0)
  const first = store.lease('builder', { leaseMs: 1000, max: 2, maxDeliveries: 5 }, T0)
  assert.equal(first.leased.map(m => m.id), [es[0].id, es[2].id])
  assert.equal(first.leased.map(m => (m.message as any).parts[0].text), ['a', 'b'])
  assert.is(first.leased[0].deliveries, 1)
  assert.is(first.leased[0].leaseUntil, T0 + 1000)
  assert.is(first.leased[0].from, ALICE)
  const second = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5 }, T0 + 999)
  assert.equal(second.leased.map(m => m.id), [es[3].id], 'leased messages are not handed out again before expiry')
  assert.equal(store.mailboxes(T0 + 999), [{ mailbox: 'builder', ready: 0, leased: 3, dead: 0 }, { mailbox: 'other', ready: 1, leased: 0, dead: 0 }])
  assert.is(store.nextLeaseExpiry(T0 + 999, 'builder'), T0 + 1000)
  const third = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5 }, T0 + 1000)
  assert.equal(third.leased.map(m => [m.id, m.deliveries]), [[es[0].id, 2], [es[2].id, 2]], 'expired leases re-queue')
})

test('ack() deletes only leased messages of that mailbox, named by lease; nack() re-queues at once; a stale lease is CONFLICT', ctx => {
  const { store } = open(ctx)
  const [a, b] = [incoming(), incoming()]
  store.accept([a, b], T0)
  assert.is((assertThrows(() => store.ack('builder', [`${a.id}.1`])) as any).code, 'CONFLICT', 'a ready message cannot be acked')
  assert.is((assertThrows(() => store.ack('builder', [a.id])) as any).code, 'BAD_REQUEST', 'a bare id names no lease')
  const { leased } = store.lease('builder', { leaseMs: 10_000, max: 10, maxDeliveries: 5 }, T0)
  const [la, lb] = leased.map(m => m.lease)
  assert.equal(store.ack('other', [la]), { acked: [], missing: [la] }, 'another mailbox cannot ack it')
  assert.equal(store.nack('builder', [lb, 'nope.1'], 5, T0 + 1), { nacked: [lb], missing: ['nope.1'], dead: [] })
  assert.is((assertThrows(() => store.ack('builder', [la, lb])) as any).code, 'CONFLICT', 'a nacked message is no longer ours to ack')
  assert.equal(store.mailboxes(T0 + 1), [{ mailbox: 'builder', ready: 1, leased: 1, dead: 0 }], 'the refused ack changed nothing')
  assert.equal(store.ack('builder', [la]), { acked: [la], missing: [] })
  const again = store.lease('builder', { leaseMs: 10_000, max: 10, maxDeliveries: 5 }, T0 + 2)
  assert.equal(again.leased.map(m => [m.id, m.deliveries, m.lease]), [[b.id, 2, `${b.id}.2`]])
})

test('lease() stops at maxBytes but always leases one message; unlease() gives a lease back uncounted', ctx => {
  const { store } = open(ctx)
  const big = 'x'.repeat(600_000)
  const es = [incoming('builder', ALICE, big), incoming('builder', ALICE, big), incoming('builder', ALICE, 'small')]
  store.accept(es, T0)
  const first = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5, maxBytes: 100_000 }, T0)
  assert.equal(first.leased.map(m => m.id), [es[0].id], 'one message over the budget still goes alone')
  const second = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5, maxBytes: 1_000_000 }, T0)
  assert.equal(second.leased.map(m => m.id), [es[1].id, es[2].id])
  assert.is(store.unlease(first.leased), 1)
  assert.is(store.unlease(first.leased), 0, 'only a lease still as handed out')
  const third = store.lease('builder', { leaseMs: 1000, max: 10, maxDeliveries: 5 }, T0)
  assert.equal(third.leased.map(m => [m.id, m.deliveries]), [[es[0].id, 1]], 'the given-back lease did not count')
})

test('a message leased maxDeliveries times moves to the dead letters on its next lease, nack or sweep', ctx => {
  const { store } = open(ctx)
  const [a, b, c] = [incoming(), incoming(), incoming()]
  store.accept([a, b, c], T0)
  let now = T0
  for (let i = 1; i <= 3; i++) {
    const r = store.lease('builder', { leaseMs: 100, max: 10, maxDeliveries: 3 }, now)
    assert.is(r.leased.length, 3)
    assert.ok(r.leased.every(m => m.deliveries === i))
    now += 100
  }
  // a: exhausted and its lease ran out → buried by the next lease; b: by a sweep; c: by nack.
  const r = store.lease('builder', { leaseMs: 100, max: 1, maxDeliveries: 3 }, now)
  assert.equal(r.leased, [])
  assert.equal(r.dead.map(d => d.id).sort(), [a.id, b.id, c.id].sort(), 'lease buries every exhausted message it meets')
  assert.equal(store.mailboxes(now), [{ mailbox: 'builder', ready: 0, leased: 0, dead: 3 }])

  const [d, e2] = [incoming(), incoming()]
  store.accept([d, e2], now)
  for (let i = 0; i < 2; i++) { store.lease('builder', { leaseMs: 100, max: 10, maxDeliveries: 2 }, now); now += 100 }
  const swept = store.buryExhausted(2, now)
  assert.equal(swept.map(x => x.id).sort(), [d.id, e2.id].sort())
  assert.match(swept[0].reason, /lease ran out after 2 deliveries/)

  const f = incoming()
  store.accept([f], now)
  store.lease('builder', { leaseMs: 100, max: 10, maxDeliveries: 1 }, now)
  const n = store.nack('builder', [`${f.id}.1`], 1, now + 1)
  assert.equal(n.dead.map(x => x.id), [f.id])
  assert.equal(store.mailboxes(now), [{ mailbox: 'builder', ready: 0, leased: 0, dead: 6 }])
  assert.equal(store.accept([f], now), ['duplicate'], 'a dead letter is still a known id')
})

test('enqueue() is idempotent on peer, mailbox and messageId; queuedFor() pages by seq, skips expired rows and holds rows back until durable() (issue 15)', async ctx => {
  const { store } = open(ctx)
  const row = (messageId: string, expiresAt = T0 + 60_000, peer = ALICE) => ({ id: uuidv7(), peer, mailbox: 'builder', messageId, frame: `{"m":"${messageId}"}`, createdAt: T0, expiresAt })
  const a = row('m1')
  assert.equal(store.enqueue([a, row('m2'), row('m3', T0 + 10), row('m1', T0 + 60_000, MALLORY)]), [null, null, null, null])
  assert.equal(store.queuedFor(ALICE, 0, 10, T0), [], 'not handed out before its commit is durable')
  const synced = store.durable()
  const later = row('m4')
  store.enqueue([later])
  await synced
  assert.equal(store.queuedFor(ALICE, 0, 10, T0).map(r => r.frame), ['{"m":"m1"}', '{"m":"m2"}', '{"m":"m3"}'], 'a commit made after durable() was called is still held back')
  await store.durable()
  assert.is(store.queuedFor(ALICE, 0, 10, T0).length, 4)
  store.dropQueued([later.id])
  assert.equal(store.enqueue([row('m1')]), [a.id], 'the same messageId to the same peer and mailbox returns the first id')
  const page1 = store.queuedFor(ALICE, 0, 1, T0)
  assert.equal(page1.map(r => r.frame), ['{"m":"m1"}'])
  const rest = store.queuedFor(ALICE, page1[0].seq, 10, T0 + 20)
  assert.equal(rest.map(r => r.frame), ['{"m":"m2"}'], 'm3 has expired')
  assert.equal(store.queuedPeers(T0).sort(), [ALICE, MALLORY].sort())
})

test('settle(), expireOutbox() and outbox(): delivered, failed with reason, expired; in-flight rows are not expired', ctx => {
  const { store } = open(ctx)
  const mk = (messageId: string, expiresAt: number) => ({ id: uuidv7(), peer: ALICE, mailbox: 'builder', messageId, frame: '{}', createdAt: T0, expiresAt })
  const [a, b, c, d] = [mk('a', T0 + 1000), mk('b', T0 + 1000), mk('c', T0 + 10), mk('d', T0 + 10)]
  store.enqueue([a, b, c, d])
  store.recordAttempts([a.id, b.id]) // written, never answered
  store.settle([{ id: a.id, status: 'retry' }], T0 + 4) // a transient refusal: still queued
  assert.is(store.outbox('queued').length, 4)
  store.settle([{ id: a.id, status: 'delivered' }, { id: b.id, status: 'failed', code: 'FORBIDDEN', reason: 'no grant' }], T0 + 5)
  assert.is(store.nextOutboxExpiry(), T0 + 10)
  const expired = store.expireOutbox(T0 + 10, new Set([d.id]))
  assert.equal(expired.map(x => x.id), [c.id])
  store.settle([{ id: c.id, status: 'delivered' }], T0 + 11)
  const all = store.outbox()
  assert.equal(all.map(r => [r.id, r.status, r.attempts]), [[a.id, 'delivered', 3], [b.id, 'failed', 2], [c.id, 'expired', 0], [d.id, 'queued', 0]], 'a settled row never changes again')
  assert.is(all[1].reason, 'no grant')
  assert.is(all[1].code, 'FORBIDDEN')
  assert.equal(store.outbox('queued').map(r => r.id), [d.id])
  assert.is(store.prune(T0 + 8 * 24 * 3600_000).outbox, 3)
})

test('the connection stays in synchronous = NORMAL; rare writes (expiry, pruning, dead-letter verbs) that change rows fdatasync the WAL before they return, relaxed ones do not (issue 15)', ctx => {
  const { store } = open(ctx)
  assert.is(store.database.pragma('synchronous', { simple: true }), 1, 'NORMAL (1)')
  const real = fs.fdatasyncSync
  let syncs = 0
  fs.fdatasyncSync = (fd: number) => { syncs++; real(fd) }
  syncBuiltinESMExports()
  ctx.defer(() => { fs.fdatasyncSync = real; syncBuiltinESMExports() })
  const e = incoming()
  store.accept([e], T0)
  const [m] = store.lease('builder', { leaseMs: 1000, max: 1, maxDeliveries: 5 }, T0).leased
  store.ack('builder', [m.lease])
  store.enqueue([{ id: uuidv7(), peer: ALICE, mailbox: 'builder', messageId: 'm1', frame: '{}', createdAt: T0, expiresAt: T0 + 10 }])
  assert.is(syncs, 0, 'accept, lease, ack and enqueue commit without a sync on the event loop')
  store.expireOutbox(T0)
  store.prune(T0)
  store.durably(db => db.prepare('DELETE FROM dead_letters WHERE mailbox = ?').run('none'))
  assert.is(syncs, 0, 'rare writes that changed nothing: nothing to sync')
  assert.is(store.expireOutbox(T0 + 10).length, 1)
  assert.is(syncs, 1, 'expireOutbox synced')
  store.prune(T0 + 8 * 24 * 3600_000)
  assert.is(syncs, 2, 'prune synced')
  store.accept([incoming()], T0)
  assert.is(syncs, 2)
  store.durably(db => db.prepare("DELETE FROM inbox WHERE mailbox = 'builder'").run())
  assert.is(syncs, 3, 'an operator verb synced')
})

test('a commit that returned survives SIGKILL of the process that made it; leases too', async ctx => {
  const dir = ctx.tmp()
  const path = join(dir, 'mailbox.db')
  const script = `
    import('${repoPath('dist', 'a2a', 'index.js')}').then(({ MailboxStore }) => {
      const s = MailboxStore.open(${JSON.stringify(path)})
      const ids = []
      for (let b = 0; b < 20; b++) {
        const batch = []
        for (let i = 0; i < 50; i++) { const id = 'id-' + b + '-' + i; ids.push(id); batch.push({ id, sender: 'p', mailbox: 'm', ts: 1, ttl: 60000, message: '{"n":' + i + '}' }) }
        s.accept(batch)
      }
      s.lease('m', { leaseMs: 3600000, max: 7, maxDeliveries: 5 })
      process.stdout.write('committed ' + ids.length + '\\n', () => process.kill(process.pid, 'SIGKILL'))
    })`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  const [code, signal] = await once(child, 'exit')
  assert.is(signal, 'SIGKILL', `exit ${code}`)
  assert.match(out, /committed 1000/)
  const { store } = open(ctx, dir)
  assert.equal(store.mailboxes(), [{ mailbox: 'm', ready: 993, leased: 7, dead: 0 }])
})

test('backoffMs() doubles from the base, is capped, and keeps 50-100 % of the delay as jitter', () => {
  assert.equal([1, 2, 3, 4].map(n => backoffMs(n, 100, 1000, () => 1)), [100, 200, 400, 800])
  assert.is(backoffMs(20, 100, 1000, () => 1), 1000, 'capped')
  assert.is(backoffMs(3, 100, 1000, () => 0), 200, 'at least half')
  for (let i = 0; i < 100; i++) {
    const d = backoffMs(5, 100, 60_000)
    assert.ok(d >= 800 && d <= 1600, String(d))
  }
})

test.run()
