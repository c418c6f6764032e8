/**
 * One daemon per home: a pid file created exclusively. A file left by a dead process (SIGKILL,
 * power loss) is taken over; one held by a live process is a `CONFLICT`.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { conflict } from '../protocol/index.js'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function acquirePidLock (path: string, home: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true })
        } catch { /* already gone */ }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw conflict(`Cannot start: a daemon (pid ${pid}) already runs on home "${home}"; stop it with \`sov node stop\``)
      }
      rmSync(path, { force: true })
    }
  }
  throw conflict(`Cannot start: could not take the lock "${path}"`)
}

/** Pid of the daemon holding the lock, if it is alive. */
export function lockHolder (path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined
  } catch {
    return undefined
  }
}
