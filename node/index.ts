/**
 * The daemon: home directory, identity, tokens, capabilities, audit, IPC server and the
 * supervisor that wires mesh, a2a and finance together. `node/` is the one wiring point.
 */
export { Daemon, runDaemon, type DaemonOptions, type DaemonInfo } from './daemon.js'
export { initHome, type InitOptions, type InitResult } from './init.js'
export { homePaths, resolveHome, type HomePaths } from './home.js'
export { loadConfig, updateConfig, DEFAULT_LISTEN, type Config } from './config.js'
export { lockHolder } from './lock.js'
export {
  AuditLog, AUDIT_CHECKPOINT_EVERY_ROWS, AUDIT_CHECKPOINT_INTERVAL_MS, AUDIT_TAIL_WINDOW_ROWS,
  type AuditLogOptions, type PurgeResult
} from './audit-log.js'
export { GENESIS_HASH, PURGE_TYPE, checkLine, sealRow, prepareEvent, type AuditEvent, type AuditRow, type AuditOutcome } from './audit-row.js'
export { signCheckpoint, checkpointLine, type Checkpoint } from './audit-checkpoint.js'
export { verifyAudit, verifyAuditFiles, type VerifyResult, type AuditHead } from './audit-verify.js'
export { Capabilities, type CapQuery, type CapCheck, type GrantInfo, type IgnoredLine, type CapabilitiesOptions } from './capabilities.js'
export { CAP_COMMANDS, MAILBOX_COMMANDS, grantId, signGrant, signRevocation, parseGrant, type Grant, type Revocation, type CapCommand } from './grant.js'
export { guardMeshProtocol, type GuardOptions } from './mesh-guard.js'
