/**
 * Operator verbs on `mailbox.db` (issue 14, NATS JetStream habits): list the dead letters of a
 * mailbox, put them back as ready (redrive), empty a mailbox's dead or ready messages (purge),
 * and re-queue a refused outbox message (retry). The writing ones run inside one durable
 * transaction of the store (`MailboxStore.durably`).
 */
import type Database from 'better-sqlite3'
import { badRequest, notFound } from '../protocol/index.js'

export interface DeadLetterItem {
  id: string
  mailbox: string
  from: string
  ts: number
  receivedAt: number
  deliveries: number
  diedAt: number
  reason: string
  message: unknown
}

/** Dead letters of `mailbox`, oldest first, at most `limit`. */
export function listDead (db: Database.Database, mailbox: string, limit = 1000): DeadLetterItem[] {
  const rows = db.prepare('SELECT * FROM dead_letters WHERE mailbox = ? ORDER BY died_at, id LIMIT ?').all(mailbox, limit) as any[]
  return rows.map(r => ({ id: r.id, mailbox: r.mailbox, from: r.sender, ts: r.ts, receivedAt: r.received_at, deliveries: r.deliveries, diedAt: r.died_at, reason: r.reason, message: JSON.parse(r.message) }))
}

/**
 * Moves dead letters of `mailbox` back to the inbox as ready, deliveries reset to 0 (as a
 * JetStream redrive starts a fresh delivery count). `ids` undefined = all of them. Ids that are
 * not dead letters of that mailbox are listed as `missing`.
 */
export function redrive (db: Database.Database, mailbox: string, ids?: string[]): { redriven: string[], missing: string[] } {
  const wanted = ids ?? (db.prepare('SELECT id FROM dead_letters WHERE mailbox = ? ORDER BY died_at, id').all(mailbox) as Array<{ id: string }>).map(r => r.id)
  const get = db.prepare('SELECT * FROM dead_letters WHERE mailbox = ? AND id = ?')
  // Deliveries restart at 0; the ones before are kept so that lease names never repeat.
  const insert = db.prepare('INSERT OR IGNORE INTO inbox (id, mailbox, sender, ts, received_at, message, earlier_deliveries) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const del = db.prepare('DELETE FROM dead_letters WHERE id = ?')
  const redriven: string[] = []
  const missing: string[] = []
  for (const id of wanted) {
    const r = get.get(mailbox, id) as any
    if (r === undefined) { missing.push(id); continue }
    insert.run(r.id, r.mailbox, r.sender, r.ts, r.received_at, r.message, r.earlier_deliveries + r.deliveries)
    del.run(r.id)
    redriven.push(r.id)
  }
  return { redriven, missing }
}

export type PurgeWhich = 'dead' | 'ready' | 'all'

/**
 * Deletes the dead letters (`dead`), the ready — not leased — messages (`ready`), or both
 * (`all`) of `mailbox`. Leased messages are never purged: a consumer holds them.
 */
export function purge (db: Database.Database, mailbox: string, which: PurgeWhich, now = Date.now()): { dead: number, ready: number } {
  return {
    dead: which === 'ready' ? 0 : db.prepare('DELETE FROM dead_letters WHERE mailbox = ?').run(mailbox).changes,
    ready: which === 'dead' ? 0 : db.prepare('DELETE FROM inbox WHERE mailbox = ? AND visible_at <= ?').run(mailbox, now).changes
  }
}

/**
 * Puts a `failed` outbox message back in the queue (its frame is kept for this). Refused when it
 * is not failed, or its TTL has run out (the receiver would refuse it as expired: send again).
 * Returns the peer to wake.
 */
export function retryOutbox (db: Database.Database, id: string, now = Date.now()): { id: string, peer: string } {
  const r = db.prepare('SELECT id, peer, status, frame, expires_at FROM outbox WHERE id = ?').get(id) as any
  if (r === undefined) throw notFound(`Cannot retry "${id}": no such outbox message; list them with \`sov a2a outbox\``)
  if (r.status !== 'failed') throw badRequest(`Cannot retry "${id}": it is ${String(r.status)}, not failed`)
  if (r.frame === null) throw badRequest(`Cannot retry "${id}": its content was not kept; send the message again`)
  if (r.expires_at <= now) throw badRequest(`Cannot retry "${id}": its TTL ran out at ${new Date(r.expires_at).toISOString()}; send the message again`)
  db.prepare("UPDATE outbox SET status = 'queued', code = NULL, reason = NULL, settled_at = NULL WHERE id = ? AND status = 'failed'").run(id)
  return { id, peer: r.peer }
}
