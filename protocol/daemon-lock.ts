/**
 * Where a home's daemon holds its lock (issue 10 §4): a listening Unix socket, which the kernel
 * releases when the process dies (SIGKILL, crash, power loss) — unlike a pid, which a zombie or
 * an unrelated process can still answer to. On Linux it lives in the abstract namespace (no
 * file, no path length limit); elsewhere it is `<home>/daemon.lock.sock`. Whoever connects is
 * sent one line, `{"pid":N,"home":"…"}`, and the connection is closed. The CLI (is a daemon
 * running? did it stop?) and the daemon (may I start?) both ask it.
 */
import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { join } from 'node:path'

/** The lock's socket address for the home at absolute path `root`. */
export function daemonLockAddress (root: string): string {
  if (process.platform === 'linux') return `\0sovereign-daemon-${createHash('sha256').update(root).digest('hex').slice(0, 32)}`
  return join(root, 'daemon.lock.sock')
}

/** The daemon holding the lock of `root`: its pid, or undefined when none answers (within `timeoutMs`). */
export async function daemonLockHolder (root: string, timeoutMs = 2000): Promise<{ pid: number, home: string } | undefined> {
  return await new Promise(resolve => {
    const s = connect(daemonLockAddress(root))
    let text = ''
    const done = (v: { pid: number, home: string } | undefined): void => { clearTimeout(timer); s.destroy(); resolve(v) }
    const timer = setTimeout(() => { done(undefined) }, timeoutMs)
    s.setEncoding('utf8')
    s.on('data', d => { text += d })
    s.on('error', () => { done(undefined) })
    s.on('close', () => {
      try {
        const v = JSON.parse(text)
        done(Number.isSafeInteger(v?.pid) && v?.home === root ? { pid: v.pid, home: v.home } : undefined)
      } catch { done(undefined) }
    })
  })
}
