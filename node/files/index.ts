/**
 * Files the node's stores share: crash-safe whole-file writes, append-only JSONL files with torn
 * tail recovery. (RFC 8785 canonical JSON is protocol/'s `jcs`: a2a/ hashes with it too.)
 */
export { ensureDir, writeFileAtomic } from './atomic-write.js'
export { fsyncDir, openRw, readLastLines, recoverTornTail, writeAll, type TornTail } from './jsonl-files.js'
export { readJsonFile } from './read-json.js'
export { explainFsError, assertSocketPath, MAX_SOCKET_PATH_BYTES } from './environment-errors.js'
