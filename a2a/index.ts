/**
 * A2A mailboxes: the durable store (`mailbox.db`) and the `/sov/a2a/1.0.0` delivery protocol
 * over the dark mesh (DESIGN §8). Imports only `protocol/` and `mesh/`; the daemon injects the
 * libp2p node, the authorisation check and the audit sink.
 */
export {
  MailboxStore, DEDUPE_GRACE_MS, OUTBOX_RETENTION_MS,
  type OutboxStatus, type OutboxItem, type InboxItem, type DeadLetter, type MailboxStats, type AcceptOutcome
} from './store.js'
