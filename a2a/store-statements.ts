/** The prepared statements of the mailbox store (`store.ts`), one place for its SQL. */
import type Database from 'better-sqlite3'

/** An inbox row as the statements read it; `bytes` is the stored message's UTF-8 length. */
export interface InboxRow { seq: number, id: string, mailbox: string, sender: string, ts: number, received_at: number, message: string, deliveries: number, earlier_deliveries: number, visible_at: number, bytes: number }

const INBOX_COLS = 'seq, id, mailbox, sender, ts, received_at, message, deliveries, earlier_deliveries, visible_at, length(CAST(message AS BLOB)) AS bytes'

export function prepare (db: Database.Database) {
  return {
    totalChanges: db.prepare('SELECT total_changes()').pluck(),
    outboxByMessage: db.prepare('SELECT id FROM outbox WHERE peer = ? AND mailbox = ? AND message_id = ?'),
    outboxInsert: db.prepare(`INSERT INTO outbox (id, peer, mailbox, message_id, frame, created_at, expires_at, status)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')
      ON CONFLICT (peer, mailbox, message_id) DO NOTHING`),
    queuedPeers: db.prepare("SELECT DISTINCT peer FROM outbox WHERE status = 'queued' AND expires_at > ?"),
    queuedFor: db.prepare("SELECT seq, id, frame, expires_at FROM outbox WHERE status = 'queued' AND peer = ? AND seq > ? AND seq < ? AND expires_at > ? ORDER BY seq LIMIT ?"),
    outboxDrop: db.prepare("DELETE FROM outbox WHERE id = ? AND status = 'queued'"),
    outboxAttempt: db.prepare('UPDATE outbox SET attempts = attempts + 1 WHERE id = ?'),
    outboxPeerAttempt: db.prepare("UPDATE outbox SET attempts = attempts + 1 WHERE status = 'queued' AND peer = ? AND expires_at > ?"),
    // A failed row keeps its frame for `sov a2a retry` (issue 14); pruned with the row.
    outboxSettle: db.prepare("UPDATE outbox SET status = @status, code = @code, reason = @reason, settled_at = @now, frame = CASE WHEN @status = 'failed' THEN frame END, attempts = attempts + 1 WHERE id = @id AND status = 'queued'"),
    outboxExpire: db.prepare("UPDATE outbox SET status = 'expired', code = 'TIMEOUT', reason = ?, settled_at = ?, frame = NULL WHERE id = ? AND status = 'queued'"),
    outboxDue: db.prepare("SELECT id, peer, mailbox, attempts FROM outbox WHERE status = 'queued' AND expires_at <= ?"),
    outboxNextExpiry: db.prepare("SELECT min(expires_at) AS t FROM outbox WHERE status = 'queued'"),
    outboxAll: db.prepare('SELECT * FROM outbox ORDER BY seq'),
    outboxCounts: db.prepare('SELECT status, count(*) AS n FROM outbox GROUP BY status'),
    outboxByStatus: db.prepare('SELECT * FROM outbox WHERE status = ? ORDER BY seq'),
    outboxPrune: db.prepare("DELETE FROM outbox WHERE status != 'queued' AND settled_at < ?"),
    dedupeDrop: db.prepare('DELETE FROM dedupe WHERE id = ?'),
    unauditedInsert: db.prepare('INSERT OR IGNORE INTO accept_unaudited (id, sender, mailbox, bytes) VALUES (?, ?, ?, ?)'),
    unauditedDrop: db.prepare('DELETE FROM accept_unaudited WHERE id = ?'),
    unauditedAll: db.prepare('SELECT id, sender, mailbox, bytes FROM accept_unaudited'),
    dedupeGet: db.prepare('SELECT sender FROM dedupe WHERE id = ?'),
    dedupeInsert: db.prepare('INSERT INTO dedupe (id, sender, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    dedupePrune: db.prepare('DELETE FROM dedupe WHERE expires_at < ? AND NOT EXISTS (SELECT 1 FROM inbox WHERE inbox.id = dedupe.id)'),
    inboxInsert: db.prepare('INSERT OR IGNORE INTO inbox (id, mailbox, sender, ts, received_at, message) VALUES (?, ?, ?, ?, ?, ?)'),
    inboxReady: db.prepare(`SELECT ${INBOX_COLS} FROM inbox WHERE mailbox = ? AND visible_at <= ? ORDER BY seq LIMIT ?`),
    inboxLease: db.prepare('UPDATE inbox SET deliveries = deliveries + 1, visible_at = ? WHERE seq = ?'),
    inboxById: db.prepare(`SELECT ${INBOX_COLS} FROM inbox WHERE mailbox = ? AND id = ?`),
    inboxUnlease: db.prepare('UPDATE inbox SET deliveries = deliveries - 1, visible_at = 0 WHERE mailbox = ? AND id = ? AND deliveries = ? AND visible_at = ?'),
    inboxRelease: db.prepare('UPDATE inbox SET visible_at = 0 WHERE seq = ?'),
    inboxExhausted: db.prepare(`SELECT ${INBOX_COLS} FROM inbox WHERE visible_at > 0 AND visible_at <= ? AND deliveries >= ?`),
    inboxDropId: db.prepare('DELETE FROM inbox WHERE id = ?'),
    inboxDelete: db.prepare('DELETE FROM inbox WHERE seq = ?'),
    inboxRenew: db.prepare('UPDATE inbox SET visible_at = @until WHERE mailbox = @mailbox AND id = @id AND visible_at > @now AND visible_at < @until'),
    deadDeleteId: db.prepare('DELETE FROM dead_letters WHERE mailbox = ? AND id = ?'),
    nextLease: db.prepare('SELECT min(visible_at) AS t FROM inbox WHERE mailbox = ? AND visible_at > ?'),
    nextLeaseAny: db.prepare('SELECT min(visible_at) AS t FROM inbox WHERE visible_at > ?'),
    inboxStats: db.prepare(`SELECT mailbox, sum(visible_at <= @now) AS ready, sum(visible_at > @now) AS leased FROM inbox GROUP BY mailbox`),
    deadStats: db.prepare('SELECT mailbox, count(*) AS dead FROM dead_letters GROUP BY mailbox'),
    deadInsert: db.prepare(`INSERT OR IGNORE INTO dead_letters (id, mailbox, sender, ts, received_at, message, deliveries, earlier_deliveries, died_at, reason)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  }
}
