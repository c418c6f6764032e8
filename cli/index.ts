/**
 * The `sov` command line. Its entry point is `cli/main.ts`; this module exposes the pieces other
 * tools reuse (output conventions and duration parsing).
 */
export { emit, reportError, parseDuration, type GlobalOptions } from './output.js'
export { IpcClient, withDaemon } from './ipc-client.js'
