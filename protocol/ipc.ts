/**
 * IPC messages between the CLI and the daemon (DESIGN §6). Every frame the daemon receives is
 * validated against these schemas; the inferred types are what both sides program against.
 */
import * as v from 'valibot'
import { badRequest, type ErrorCode } from './errors.js'
import { MailboxNameSchema } from './a2a.js'

export const IPC_VERSION = 1

const nonEmpty = v.pipe(v.string(), v.minLength(1), v.maxLength(1024))
const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const positiveMs = v.pipe(v.number(), v.integer(), v.minValue(1))
const mailboxName = MailboxNameSchema
const ids = v.pipe(v.array(nonEmpty), v.minLength(1), v.maxLength(1000))
/** Lifetime of a grant or agent token: 1 s to MAX_EXPIRES_S (a date far beyond breaks nothing later). */
export const MAX_EXPIRES_S = 3650 * 86_400
const expiresS = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_EXPIRES_S))

export const HelloSchema = v.strictObject({
  type: v.literal('hello'),
  version: v.literal(IPC_VERSION),
  token: v.pipe(v.string(), v.maxLength(256))
})
export type Hello = v.InferOutput<typeof HelloSchema>

/** Parameters of every request type, by `type`. */
export const REQUEST_PARAMS = {
  status: v.object({}),
  'node.stop': v.object({}),
  'peers.list': v.object({}),
  'peers.connect': v.object({ addr: nonEmpty }),
  'peers.ping': v.object({ peer: nonEmpty }),
  'peers.revoke': v.object({ peer: nonEmpty }),
  'peers.unrevoke': v.object({ peer: nonEmpty }),
  'token.rotate': v.object({}),
  'config.reload': v.object({}),
  'agentToken.issue': v.object({
    name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'agent names are 1-64 of A-Z a-z 0-9 . _ -')),
    scopes: v.pipe(v.array(nonEmpty), v.minLength(1), v.maxLength(64)),
    expiresS: v.optional(v.nullable(expiresS))
  }),
  'agentToken.revoke': v.object({ name: nonEmpty }),
  'agentToken.list': v.object({}),
  'cap.grant': v.object({
    aud: nonEmpty,
    cmd: nonEmpty,
    mailbox: v.optional(v.union([mailboxName, v.literal('*')])),
    expiresS: v.optional(v.nullable(expiresS))
  }),
  // Not `id`: that member of a request frame is the request's own id.
  // A full id or a unique prefix of at least 8 hex digits, as git takes (issue 14).
  'cap.revoke': v.object({ grantId: v.pipe(v.string(), v.regex(/^[0-9a-f]{8,64}$/, 'a grant id is 8 to 64 lowercase hex digits (a unique prefix)')) }),
  'cap.list': v.object({}),
  'audit.tail': v.object({ n: v.optional(v.pipe(count, v.maxValue(10_000))), afterSeq: v.optional(count) }),
  'audit.verify': v.object({}),
  'audit.checkpoint': v.object({}),
  'audit.purge': v.object({ before: nonEmpty }),
  /** Forgives the break at `seq` with a signed, audited reason (issue 14). */
  'audit.acknowledge': v.object({ seq: v.pipe(count, v.minValue(1)), reason: v.pipe(v.string(), v.minLength(3), v.maxLength(1000)) }),
  'a2a.send': v.object({
    peer: nonEmpty,
    mailbox: mailboxName,
    message: v.unknown(),
    ttlMs: v.optional(positiveMs)
  }),
  'a2a.receive': v.object({
    mailbox: mailboxName,
    leaseMs: v.optional(positiveMs),
    max: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))),
    waitMs: v.optional(v.pipe(count, v.maxValue(300_000)))
  }),
  // Each names the lease `a2a.receive` returned ("<id>.<delivery>"), never a bare id (issue 10).
  'a2a.ack': v.object({ mailbox: mailboxName, leases: ids }),
  'a2a.nack': v.object({ mailbox: mailboxName, leases: ids }),
  'a2a.outbox': v.object({
    status: v.optional(v.picklist(['queued', 'delivered', 'failed', 'expired'])),
    /** Only messages to this PeerId. */
    peer: v.optional(nonEmpty),
    /** Only the newest `limit` rows (issue 14). */
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))),
    /** Only this outbox id (`send --wait` polls it). */
    outboxId: v.optional(nonEmpty)
  }),
  // Dead letters and mailbox upkeep (issue 14, DESIGN §13).
  'a2a.dead': v.object({ mailbox: mailboxName, limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000))) }),
  'a2a.redrive': v.object({ mailbox: mailboxName, ids: v.optional(ids), all: v.optional(v.boolean()) }),
  'a2a.purge': v.object({ mailbox: mailboxName, which: v.picklist(['dead', 'ready', 'all']) }),
  'a2a.retry': v.object({ outboxId: nonEmpty }),
  'a2a.mailboxes': v.object({
    /** Only this mailbox. */
    mailbox: v.optional(mailboxName),
    /** Only mailboxes whose name sorts after this one (the next page). */
    after: v.optional(v.pipe(v.string(), v.maxLength(64))),
    /** At most this many. @default 1000 */
    limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000)))
  }),
  // Issue 11: local A2A agents offered to the mesh, and the agents a peer offers us.
  'agent.add': v.object({
    name: mailboxName,
    /** The agent's base URL (forward model), or none with `pull: true`. */
    url: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(2048))),
    pull: v.optional(v.boolean()),
    description: v.optional(v.pipe(v.string(), v.maxLength(1024)))
  }),
  'agent.list': v.object({}),
  'agent.remove': v.object({ name: mailboxName }),
  'agents.remote': v.object({ peer: nonEmpty }),
  // A pull agent's answer to a call it leased from its mailbox (issue 11).
  'a2a.reply': v.object({
    mailbox: mailboxName,
    // The id `a2a.receive` gave (not `id`: that member of a frame is the request's own id).
    callId: nonEmpty,
    parts: v.pipe(v.array(v.unknown()), v.minLength(1), v.maxLength(1024)),
    state: v.optional(v.picklist(['working', 'completed', 'failed', 'input-required', 'rejected'])),
    artifact: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
    /** The reply's A2A `messageId`, made by the agent: sent again, the reply is answered as the first time, not added twice. */
    messageId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256)))
  }),
  'licence.status': v.object({}),
  'licence.verify': v.object({})
} as const

export type RequestType = keyof typeof REQUEST_PARAMS
export type RequestParams<T extends RequestType> = v.InferOutput<typeof REQUEST_PARAMS[T]>

/** Capability command an agent token needs for a request; `null` = operator token only. */
export const REQUEST_SCOPE: Record<RequestType, string | null> = {
  status: '*',
  'node.stop': null,
  'peers.list': null,
  'peers.connect': null,
  'peers.ping': null,
  'peers.revoke': null,
  'peers.unrevoke': null,
  'token.rotate': null,
  'config.reload': null,
  'agentToken.issue': '/cap/admin',
  'agentToken.revoke': '/cap/admin',
  'agentToken.list': '/cap/admin',
  'cap.grant': '/cap/admin',
  'cap.revoke': '/cap/admin',
  'cap.list': '/cap/admin',
  'audit.tail': '/audit/read',
  'audit.verify': '/audit/read',
  'audit.checkpoint': '/cap/admin',
  'audit.purge': '/cap/admin',
  'audit.acknowledge': null,
  'a2a.send': '/a2a/post',
  'a2a.receive': '/a2a/read',
  'a2a.ack': '/a2a/read',
  'a2a.nack': '/a2a/read',
  'a2a.outbox': '/a2a/post',
  'a2a.dead': '/a2a/read',
  'a2a.redrive': null,
  'a2a.purge': null,
  'a2a.retry': '/a2a/post',
  'a2a.mailboxes': '/a2a/read',
  'agent.add': '/cap/admin',
  'agent.list': '/cap/admin',
  'agent.remove': '/cap/admin',
  'agents.remote': '/a2a/post',
  'a2a.reply': '/a2a/read',
  'licence.status': '/licence/verify',
  'licence.verify': '/licence/verify'
}

export const RequestEnvelopeSchema = v.object({
  id: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  type: v.picklist(Object.keys(REQUEST_PARAMS) as [RequestType, ...RequestType[]])
})

export interface IpcError { code: ErrorCode, message: string }
export type IpcResponse =
  | { id: number, ok: true, result: unknown }
  | { id: number, ok: false, error: IpcError }
export interface HelloReply { ok: true, node: { peerId: string, version: string } }

// ---- result shapes (DESIGN §4 `--json`; more fields are fine) ----

export interface StatusResult {
  peerId: string
  addrs: string[]
  connections: number
  peers: number
  dht: { routingTable: number }
  /** The first STATUS_MAILBOXES_MAX mailboxes by name; `sov a2a mailboxes` pages through all. */
  mailboxes?: Array<{ mailbox: string, ready: number, leased: number, dead: number }>
  /** How many mailboxes there are in all. */
  mailboxCount?: number
  outbox?: { queued: number, delivered: number, failed: number, expired: number }
  licence: { status: string, checkedAt?: string | null, txid?: string | null }
  /** The home directory and the swarm key's Kubo fingerprint (DESIGN §13). */
  home?: string
  fingerprint?: string
  audit: { seq: number, hash: string } | null
  uptimeS: number
  version: string
  pid: number
  /** How others reach this node (issue 12): `auto` config resolves to what is known so far. */
  reachability?: 'public' | 'private' | 'unknown'
  /** Relay slots: `client` ones this node holds on relays, `server` ones members hold on it. */
  relay?: { serving: boolean, reservations: Array<{ role: 'client' | 'server', peerId: string, addr: string, expires: string }> }
  /** Base URL of the local A2A endpoint, or null when it is off (issue 11). */
  a2aHttp: string | null
}

/** How a connected peer is reached (issue 12; DESIGN §13). */
export interface PeerConnection {
  type: 'direct' | 'relayed'
  /** The relay's PeerId, for a relayed connection. */
  via?: string
  addr: string
  /** ms; null before the first measurement */
  rttMs: number | null
  bytesIn: number
  bytesOut: number
  /** ISO time */
  since: string
}

export interface PeerInfo { peerId: string, addrs: string[], connected: boolean, revoked?: boolean, connection?: PeerConnection }
export interface PingResult { peerId: string, rttMs: number }
export interface AgentTokenIssued { name: string, token: string, scopes: string[], expires: number | null, grants: string[] }
export interface AgentTokenInfo { name: string, scopes: string[], expires: number | null, tokenPrefix: string }

/**
 * The cut of an audit purge (`audit.purge`'s `before`, `sov audit purge --before`): an RFC 3339
 * date or time not in the future (rows not yet written cannot be old enough). `what` names the
 * input in the error, e.g. `--before "2999-01-01"`. Throws `BAD_REQUEST`.
 */
export function purgeCutoff (before: string, what: string, now = Date.now()): Date {
  const at = Date.parse(before)
  if (!/^\d{4}-\d{2}-\d{2}/.test(before) || Number.isNaN(at)) {
    throw badRequest(`Cannot purge the audit log: ${what} is not an RFC 3339 date; use e.g. 2026-01-01 or 2026-01-01T12:00:00Z`)
  }
  if (at > now) throw badRequest(`Cannot purge the audit log: ${what} is in the future; purging up to it would drop rows not yet written`)
  return new Date(at)
}
