/**
 * The home directory (DESIGN §3): where every file of a node lives, with the modes secrets need.
 */
import { statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { SovError } from '../protocol/index.js'

export interface HomePaths {
  root: string
  config: string
  swarmKey: string
  identityDir: string
  nodeKey: string
  operatorToken: string
  agents: string
  socket: string
  lock: string
  log: string
  mailboxDb: string
  /** A2A tasks across the mesh (issue 11). */
  tasksDb: string
  capabilitiesDir: string
  auditDir: string
  peersDir: string
  peerStore: string
  revokedPeers: string
  licence: string
}

/** `--home`, else `$SOV_HOME`, else `~/.sovereign`. */
export function resolveHome (home?: string): string {
  return resolve(home ?? process.env.SOV_HOME ?? join(homedir(), '.sovereign'))
}

export function homePaths (home?: string): HomePaths {
  const root = resolveHome(home)
  return {
    root,
    config: join(root, 'config.json'),
    swarmKey: join(root, 'swarm.key'),
    identityDir: join(root, 'identity'),
    nodeKey: join(root, 'identity', 'node.key'),
    operatorToken: join(root, 'operator.token'),
    agents: join(root, 'agents.json'),
    socket: join(root, 'sov.sock'),
    lock: join(root, 'daemon.pid'),
    log: join(root, 'daemon.log'),
    mailboxDb: join(root, 'mailbox.db'),
    tasksDb: join(root, 'tasks.db'),
    capabilitiesDir: join(root, 'capabilities'),
    auditDir: join(root, 'audit'),
    peersDir: join(root, 'peers'),
    peerStore: join(root, 'peers', 'store'),
    revokedPeers: join(root, 'peers', 'revoked.json'),
    licence: join(root, 'licence.json')
  }
}

/**
 * Refuses a secret file that group or others can read (DESIGN §3), naming the `chmod` to run.
 */
export function assertPrivate (path: string, what: string): void {
  let mode: number
  try {
    mode = statSync(path).mode
  } catch (cause) {
    throw new SovError('NOT_FOUND', `Cannot read ${what} "${path}": it does not exist (run \`sov init\`)`, { cause })
  }
  if ((mode & 0o077) !== 0) {
    throw new SovError('FORBIDDEN', `Cannot use ${what} "${path}": it is readable by group or others (mode ${(mode & 0o777).toString(8)}); fix it with \`chmod 600 ${path}\``)
  }
}
