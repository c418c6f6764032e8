/**
 * `mailbox.db` schema, versioned through SQLite's `user_version`: migration N takes the file from
 * version N to N+1, each in its own transaction, so a crash mid-upgrade leaves the old version.
 * Never edit a released migration; append a new one.
 */
import type Database from 'better-sqlite3'
import { internal } from '../protocol/index.js'

export const MIGRATIONS: readonly string[] = [
  // 0 → 1: the four tables of DESIGN §3.
  `
  -- Messages this node sends. frame = the envelope exactly as it goes on the wire (UTF-8 JSON);
  -- it is dropped once the row is settled (delivered, failed or expired).
  CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    peer        TEXT    NOT NULL,
    mailbox     TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    frame       TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'delivered', 'failed', 'expired')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    code        TEXT,
    reason      TEXT,
    settled_at  INTEGER
  );
  -- The A2A messageId is the idempotency key of send (a retried IPC request adds no copy).
  CREATE UNIQUE INDEX outbox_message ON outbox (peer, mailbox, message_id);
  CREATE INDEX outbox_queued ON outbox (peer, seq) WHERE status = 'queued';
  CREATE INDEX outbox_status ON outbox (status, seq);

  -- Messages received for our mailboxes. visible_at = 0: ready; otherwise the lease runs until
  -- visible_at (ms since the epoch) and the row is ready again after it.
  CREATE TABLE inbox (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    mailbox      TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    message      TEXT    NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 0,
    visible_at   INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX inbox_mailbox ON inbox (mailbox);
  CREATE INDEX inbox_leases ON inbox (visible_at) WHERE visible_at > 0;

  -- Every envelope id accepted, kept past its TTL so a retry is answered "duplicate".
  CREATE TABLE dedupe (
    id          TEXT    PRIMARY KEY,
    sender      TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX dedupe_expiry ON dedupe (expires_at);

  CREATE TABLE dead_letters (
    id           TEXT    PRIMARY KEY,
    mailbox      TEXT    NOT NULL,
    sender       TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    message      TEXT    NOT NULL,
    deliveries   INTEGER NOT NULL,
    died_at      INTEGER NOT NULL,
    reason       TEXT    NOT NULL
  );
  CREATE INDEX dead_letters_mailbox ON dead_letters (mailbox);
  `,
  // 1 → 2: deliveries a message had before its last redrive. A lease is named
  // <id>.<earlier_deliveries + deliveries>, so a redrive (which restarts deliveries at 0) never
  // hands out a lease name a stale consumer still holds.
  `
  ALTER TABLE inbox ADD COLUMN earlier_deliveries INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE dead_letters ADD COLUMN earlier_deliveries INTEGER NOT NULL DEFAULT 0;
  `,
  // 2 → 3: accepted envelopes whose A2A_ACCEPTED audit row is not known to be on disk: written in
  // the accept's transaction, deleted once the row is durable. What a crash leaves here is
  // recorded at the next start (helper finding, stop 29: a SIGKILL lost 128 acceptance rows).
  `
  CREATE TABLE accept_unaudited (
    id       TEXT    PRIMARY KEY,
    sender   TEXT    NOT NULL,
    mailbox  TEXT    NOT NULL,
    bytes    INTEGER NOT NULL
  ) WITHOUT ROWID;
  `
]

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** Brings `db` to `SCHEMA_VERSION`, one transaction per step; refuses a newer file. */
export function migrate (db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > SCHEMA_VERSION) {
    throw internal(`Cannot open mailbox database: its schema version ${current} is newer than this node's ${SCHEMA_VERSION}`)
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v])
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
