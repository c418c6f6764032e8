/**
 * One daemon per home (issue 10 §4): the lock is a listening Unix socket
 * (`daemonLockAddress`, protocol/daemon-lock.ts) that the kernel releases when the process
 * dies, so a zombie, a reused pid or a stale `daemon.pid` never counts as a running daemon.
 * `daemon.pid` is still written, for people and tools, but nothing trusts it.
 */
import { createServer, type Server } from 'node:net'
import { rmSync, writeFileSync } from 'node:fs'
import { conflict, daemonLockAddress, daemonLockHolder } from '../protocol/index.js'

/**
 * Takes the lock of `home` (absolute); `CONFLICT` naming the running daemon's pid when another
 * process holds it. Returns the release function.
 */
export async function acquireLock (pidPath: string, home: string): Promise<() => void> {
  const address = daemonLockAddress(home)
  const answer = JSON.stringify({ pid: process.pid, home }) + '\n'
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = createServer(socket => { socket.on('error', () => {}); socket.end(answer) })
    const err = await new Promise<NodeJS.ErrnoException | undefined>(resolve => {
      server.once('error', e => { resolve(e) })
      server.listen(address, () => { resolve(undefined) })
    })
    if (err === undefined) {
      server.unref()
      server.on('error', () => {})
      writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 })
      return () => { release(server, pidPath, address) }
    }
    if (err.code !== 'EADDRINUSE') throw err
    const holder = await daemonLockHolder(home)
    if (holder !== undefined) {
      throw conflict(`Cannot start: a daemon (pid ${holder.pid}) already runs on home "${home}"; stop it with \`sov node stop\``)
    }
    // A socket file left by a dead process (non-Linux): nobody answers on it.
    if (!address.startsWith('\0')) rmSync(address, { force: true })
  }
  throw conflict(`Cannot start: could not take the lock of home "${home}"`)
}

function release (server: Server, pidPath: string, address: string): void {
  server.close()
  rmSync(pidPath, { force: true })
  if (!address.startsWith('\0')) rmSync(address, { force: true })
}
