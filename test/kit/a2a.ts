/**
 * In-process A2A nodes: a real libp2p mesh node (TCP on 127.0.0.1 port 0, PSK, Noise, Yamux)
 * with a real mailbox service on a real SQLite file. The closer is registered before return.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createMeshNode, type MeshNode } from '../../mesh/index.js'
import { createMailboxes, type A2AAuditEvent, type Mailboxes, type MailboxesInit } from '../../a2a/index.js'
import { IpcClient } from '../../cli/index.js'
import type { KitContext } from './index.js'
import { daemonRequest, initHomeFor, runDaemonIn, type DaemonHandle } from './daemon.js'
import { freePort } from './ports.js'

export { freePort }

export interface A2ANode {
  node: MeshNode
  a2a: Mailboxes
  peerId: string
  addr: string
  dir: string
  privateKey: PrivateKey
  /** Audit events in order. */
  audit: A2AAuditEvent[]
  /** `peer` or `peer:mailbox` entries this node accepts envelopes from. */
  grants: Set<string>
  /** Stops the mailboxes and the node (idempotent). */
  stop: () => Promise<void>
}

export interface A2ANodeOptions {
  swarmKey: Uint8Array
  /** Keep state across restarts: pass the same dir and key. */
  dir?: string
  privateKey?: PrivateKey
  bootstrap?: string[]
  listen?: string[]
  mailboxes?: Partial<MailboxesInit>
}

export async function startA2ANode (ctx: KitContext, opts: A2ANodeOptions): Promise<A2ANode> {
  const dir = opts.dir ?? ctx.tmp('sov-a2a-')
  const privateKey = opts.privateKey ?? await generateKeyPair('Ed25519')
  const node = await createMeshNode({ privateKey, swarmKey: opts.swarmKey, listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'], bootstrap: opts.bootstrap })
  const audit: A2AAuditEvent[] = []
  const grants = new Set<string>()
  const a2a = createMailboxes({
    node,
    dbPath: join(dir, 'mailbox.db'),
    authorize: (peer, mailbox) => grants.has(peer) || grants.has(`${peer}:${mailbox}`) ? { ok: true } : { ok: false, reason: `no /a2a/send grant for ${peer} on "${mailbox}"` },
    audit: e => { audit.push(e) },
    retryBaseMs: 50,
    retryMaxMs: 500,
    sweepIntervalMs: 100,
    ...opts.mailboxes
  })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await a2a.stop()
    await node.stop()
  }
  ctx.defer(stop)
  await a2a.start()
  const addr = node.getMultiaddrs()[0].toString()
  return { node, a2a, peerId: node.peerId.toString(), addr, dir, privateKey, audit, grants, stop }
}

let counter = 0
/** A fresh A2A message with a unique messageId. */
export function textMessage (text: string, extra: Record<string, unknown> = {}): { messageId: string, role: 'ROLE_USER', parts: Array<Record<string, unknown>> } {
  return { messageId: `m-${process.pid}-${Date.now()}-${++counter}`, role: 'ROLE_USER', parts: [{ text }], ...extra }
}

// ---- real daemon processes ----

/** Tuning that keeps daemon tests fast: quick retries and sweeps. */
export const FAST_A2A = { retryBaseMs: 100, retryMaxMs: 1000, sweepIntervalMs: 200 }

export interface A2ADaemonOptions {
  home?: string
  swarmKeyFile?: string
  bootstrap?: string[]
  port?: number
  /** Merged over `config.json` (e.g. `{ limits: { maxDeliveries: 2 } }`). */
  config?: Record<string, any>
}

/** Inits a home on a fixed loopback port with fast A2A settings and starts its daemon. */
export async function startA2ADaemon (ctx: KitContext, opts: A2ADaemonOptions = {}): Promise<DaemonHandle & { port: number }> {
  const home = opts.home ?? ctx.tmp('sov-home-')
  const port = opts.port ?? await freePort()
  await initHomeFor(home, { listen: `/ip4/127.0.0.1/tcp/${port}`, bootstrap: opts.bootstrap, swarmKeyFile: opts.swarmKeyFile })
  const path = join(home, 'config.json')
  const config = JSON.parse(readFileSync(path, 'utf8'))
  config.a2a = { ...FAST_A2A, ...config.a2a, ...opts.config?.a2a }
  for (const [k, v] of Object.entries(opts.config ?? {})) if (k !== 'a2a') config[k] = v
  writeFileSync(path, JSON.stringify(config, null, 2))
  return { ...await runDaemonIn(ctx, home), port }
}

/** What `sov cap grant PEER /a2a/send --mailbox M [--expires E]` does (7 days unless given); the grant id. */
export async function grantSend (home: string, peer: string, mailbox: string, expiresS = 7 * 86_400): Promise<string> {
  const r = await daemonRequest(home, 'cap.grant', { aud: peer, cmd: '/a2a/send', mailbox, expiresS })
  return r.id
}

/** An IPC client to the daemon of `home`, closed after the test. */
export async function ipc (ctx: KitContext, home: string, token?: string): Promise<IpcClient> {
  const c = await IpcClient.open(home, token)
  ctx.defer(() => { c.close() })
  return c
}
