/**
 * A2A mailboxes: the durable store (`mailbox.db`) and the `/sov/a2a/1.0.0` delivery protocol
 * over the dark mesh (DESIGN §8). Imports only `protocol/` and `mesh/`; the daemon injects the
 * libp2p node, the authorisation check and the audit sink.
 *
 * ```ts
 * const a2a = createMailboxes({ node, dbPath, authorize: (peer, mailbox) => ({ ok: true }), audit: e => log(e) })
 * await a2a.start()
 * const { id } = await a2a.send(peerId, 'builder', { messageId, role: 'ROLE_USER', parts: [{ text: 'hi' }] })
 * const msgs = await a2a.receive('builder', { leaseMs: 30_000, max: 10, waitMs: 10_000 })
 * a2a.ack('builder', msgs.map(m => m.lease))
 * ```
 */
import { Mailboxes, type MailboxesInit } from './mailboxes.js'

export {
  Mailboxes, DEFAULT_LEASE_MS, MAX_LEASE_MS, DEFAULT_RECEIVE_MAX, MAX_WAIT_MS, SWEEP_INTERVAL_MS, PRUNE_INTERVAL_MS,
  MAX_INBOUND_STREAMS, type MailboxesInit, type ReceiveOptions, type MailboxesStatus
} from './mailboxes.js'
export {
  RETRY_BASE_MS, RETRY_MAX_MS, DIAL_TIMEOUT_MS, REPLY_TIMEOUT_MS, STREAM_IDLE_MS, PIPELINE_MAX_ENVELOPES,
  PIPELINE_MAX_BYTES, PIPELINE_REFILL_MIN, backoffMs
} from './sender.js'
export {
  MailboxStore, parseLease, DEDUPE_GRACE_MS, OUTBOX_RETENTION_MS,
  type OutboxStatus, type OutboxItem, type InboxItem, type DeadLetter, type MailboxStats, type AcceptOutcome
} from './store.js'
export type { DeadLetterItem, PurgeWhich } from './dead-letters.js'
export { streamRefusal } from './receiver.js'
export { openDatabase } from './sqlite.js'
export type { AuthResult, Authorize, A2AAuditEvent, AuditSink } from './types.js'

/** Creates the mailbox service (not started). */
export function createMailboxes (init: MailboxesInit): Mailboxes {
  return new Mailboxes(init)
}

export { A2aTasks, BLOCKING_MAX_MS, REPLY_STATES, type ReplyState, type TasksInit, type OfferedAgentInfo } from './tasks/index.js'
export { cardUrlOf, freshnessMs, cacheLifeMs, ifNoneMatch, CARD_CACHE_DEFAULT_MS, CARD_CACHE_MIN_MS, CARD_CACHE_MAX_MS } from './tasks/index.js'
export { localFetch, type LocalFetch } from './tasks/index.js'
export { WalSync } from './wal-sync.js'
export { HANDOVER_AFTER_SYNCS } from './wal-checkpoints.js'
