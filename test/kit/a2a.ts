/**
 * In-process A2A nodes: a real libp2p mesh node (TCP on 127.0.0.1 port 0, PSK, Noise, Yamux)
 * with a real mailbox service on a real SQLite file. The closer is registered before return.
 */
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createMeshNode, type MeshNode } from '../../mesh/index.js'
import { createMailboxes, type A2AAuditEvent, type Mailboxes, type MailboxesInit } from '../../a2a/index.js'
import type { KitContext } from './index.js'

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
