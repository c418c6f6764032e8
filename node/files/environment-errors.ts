/**
 * Start-up failures caused by the machine, not by Sovereign, said in our words (issue 10 §4):
 * a read-only or full home, a file we may not write, an IPC socket path too long for the OS.
 * Each names the file and the fix; anything else passes through unchanged.
 */
import { SovError, badRequest, unavailable } from '../../protocol/index.js'

/** Longest Unix socket path, in bytes, without the terminating NUL (Linux 108 − 1; macOS is 103). */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103

const FS_REASONS: Record<string, string> = {
  EROFS: 'the file system is read-only (EROFS); the home must be writable: remount it read-write or choose another --home',
  ENOSPC: 'the disk is full (ENOSPC); free some space and try again',
  EDQUOT: 'the disk quota is exhausted (EDQUOT); free some space and try again',
  EISDIR: 'a directory stands where the file should be (EISDIR); move it away',
  EACCES: 'permission denied (EACCES); the home and its files must belong to the user running sov',
  EPERM: 'operation not permitted (EPERM); the home and its files must belong to the user running sov'
}

/** A file-system error of the environment as `UNAVAILABLE` naming the path; others unchanged. */
export function explainFsError (err: unknown, action = 'start'): unknown {
  if (err instanceof SovError) return err
  const e = err as NodeJS.ErrnoException
  const reason = typeof e?.code === 'string' ? FS_REASONS[e.code] : undefined
  if (reason === undefined) return err
  const verb = e.code === 'EACCES' || e.code === 'EPERM' ? 'cannot access' : 'cannot write'
  return unavailable(`Cannot ${action}: ${verb} "${e.path ?? 'a file in the home'}": ${reason}`, { cause: err })
}

/** Refuses an IPC socket path the OS cannot bind (Node would silently truncate it). */
export function assertSocketPath (path: string): void {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw badRequest(`Cannot listen on the IPC socket "${path}": the path is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows; use a shorter --home (or $SOV_HOME)`)
  }
}
