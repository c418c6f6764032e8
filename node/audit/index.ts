/**
 * The audit log (DESIGN §10): append-only, hash-chained rows in `audit/events.jsonl` with signed
 * checkpoints in `audit/checkpoints.jsonl`; group commit, purge with an anchor, verification.
 * Row format and verification rule: docs/protocols.md "Audit log".
 */
export {
  AuditLog, AUDIT_CHECKPOINT_EVERY_ROWS, AUDIT_CHECKPOINT_INTERVAL_MS, AUDIT_TAIL_WINDOW_ROWS,
  type AuditLogOptions, type PurgeResult
} from './log.js'
export { CHANGE_FAILED_TYPE, GENESIS_HASH, PURGE_TYPE, START_TYPE, STOP_TYPE, checkLine, sealRow, prepareEvent, type AuditEvent, type AuditRow, type AuditOutcome } from './row.js'
export { RefusalAudit, REFUSAL_WINDOW_MS, REFUSAL_MAX_KEYS, type RefusalAuditOptions } from './refusal-audit.js'
export { signCheckpoint, checkpointLine, type Checkpoint } from './checkpoint.js'
export { ACK_TYPE, verifyAudit, verifyAuditFiles, type VerifyResult, type AuditHead } from './verify.js'
