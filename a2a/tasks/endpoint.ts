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
  const { peer, name } = req.params as Record<string, string>
  if (!v.is(MailboxNameSchema, name)) return undefined
  try {
    return { peer: peerIdFromString(peer).toString(), name }
  } catch {
    return undefined
  }
}
