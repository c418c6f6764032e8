/**
 * Files the node's stores share: crash-safe whole-file writes, append-only JSONL files with torn
 * tail recovery, and RFC 8785 (JCS) canonical JSON for everything that is hashed or signed.
 */
export { ensureDir, writeFileAtomic } from './atomic-write.js'
export { fsyncDir, openRw, readLastLines, recoverTornTail, writeAll, type TornTail } from './jsonl-files.js'
export { jcs } from './jcs.js'
export { readJsonFile } from './read-json.js'
export { explainFsError, assertSocketPath, MAX_SOCKET_PATH_BYTES } from './environment-errors.js'
