/**
 * What the local A2A endpoint's parts share: its limits and routes, light enough for the server
 * (`gateway.ts`) to load at start while its app (`gateway-app.ts`) waits for the first request.
 */
import type { Request } from 'express'
import { peerIdFromString } from '@libp2p/peer-id'
import * as v from 'valibot'
import { MailboxNameSchema } from '../../protocol/index.js'

/** Longest a blocking SendMessage waits for a final state before answering with the task so far. @default 60 s */
export const BLOCKING_MAX_MS = 60_000

/** Largest JSON-RPC request body. @default 4 MiB */
export const MAX_RPC_BODY_BYTES = 4 * 1024 * 1024

/** The `{ peer, name }` of a request under `/peers/:peer/agents/:name`, if both are valid. */
export function parseTarget (req: Request): { peer: string, name: string } | undefined {
  const t = resolveTarget(req)
  return 'problem' in t ? undefined : t
}

/**
 * The remote agent a path under `/peers/:peer/agents/:name` names, or why it names none: an
 * `error[CODE]` line naming the part and the fix. With `self` (this node's PeerId) a path naming
 * this node is refused too: a local agent is called at its own URL, not through the mesh.
 */
export function resolveTarget (req: Request, self?: string): { peer: string, name: string } | { problem: string } {
  const { peer, name } = req.params as Record<string, string>
  const canonical = peerOf(peer)
  if (canonical === null) return { problem: `error[NOT_FOUND]: "${String(peer).slice(0, 80)}" in /peers/<PeerId>/agents/<name> is not a PeerId; take the URL that \`sov agents PEER\` prints` }
  if (!v.is(MailboxNameSchema, name)) return { problem: `error[NOT_FOUND]: "${String(name).slice(0, 80)}" in /peers/<PeerId>/agents/<name> is not an agent name (1-64 of A-Z a-z 0-9 . _ -); see \`sov agents ${canonical}\`` }
  if (canonical === self) return { problem: `error[BAD_REQUEST]: ${canonical} is this node itself; call a local agent at its own URL, and remote agents through /peers/<their node's PeerId>/agents/<name>` }
  return { peer: canonical, name }
}

/** How many `:peer` segments `resolveTarget` remembers. @default 1024 */
const PEER_CACHE_MAX = 1024
const peers = new Map<string, string | null>()

/**
 * The PeerId a `:peer` segment names, in its canonical form, or null. Remembered: decoding and
 * checking the multihash twice per request (the bearer check, then the route) was a visible
 * part of a call's CPU (issue 11 performance).
 */
function peerOf (text: string): string | null {
  let p = peers.get(text)
  if (p === undefined) {
    try { p = peerIdFromString(text).toString() } catch { p = null }
    if (peers.size >= PEER_CACHE_MAX) peers.clear()
    peers.set(text, p)
  }
  return p
}
