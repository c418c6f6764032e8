/**
 * Capability grants and revocation tombstones (DESIGN §9, docs/protocols.md "Capability grants").
 *
 * A grant is `{"v":1,"iss","aud","cmd","with","nbf","exp","nonce","sig"}`: `sig` is the issuing
 * node's Ed25519 signature (base64url) over the RFC 8785 form of every other member, and the
 * grant's id is the hex SHA-256 of those same canonical bytes. A tombstone
 * `{"v":1,"id","iss","ts","sig"}` revokes one grant id and is signed the same way, so a line
 * appended by anyone without the node key changes nothing.
 */
import { hash as digest, randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import * as v from 'valibot'
import { badRequest, describeIssue, jcs } from '../../protocol/index.js'

/** The commands a grant can carry; anything else is refused when granting. */
export const CAP_COMMANDS = ['/a2a/send', '/a2a/read', '/a2a/post', '/licence/verify', '/audit/read', '/cap/admin'] as const
export type CapCommand = typeof CAP_COMMANDS[number]

/** Commands scoped to a mailbox; the others always carry `with: "mailbox:*"`. */
export const MAILBOX_COMMANDS: ReadonlySet<string> = new Set(['/a2a/send', '/a2a/read', '/a2a/post'])

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const WITH = /^mailbox:(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$/
const B64URL = /^[A-Za-z0-9_-]{1,200}$/
const HEX64 = /^[0-9a-f]{64}$/
/** Random bytes in a grant's nonce, so two otherwise equal grants get different ids. */
const NONCE_BYTES = 16

const unixSeconds = v.pipe(v.number(), v.integer(), v.minValue(0))

const GrantSchema = v.strictObject({
  v: v.literal(1),
  iss: v.pipe(v.string(), v.maxLength(128)),
  aud: v.pipe(v.string(), v.maxLength(128)),
  cmd: v.picklist(CAP_COMMANDS),
  with: v.pipe(v.string(), v.regex(WITH)),
  nbf: unixSeconds,
  exp: v.nullable(unixSeconds),
  nonce: v.pipe(v.string(), v.regex(/^[0-9a-f]{16,128}$/)),
  sig: v.pipe(v.string(), v.regex(B64URL))
})

const RevocationSchema = v.strictObject({
  v: v.literal(1),
  id: v.pipe(v.string(), v.regex(HEX64)),
  iss: v.pipe(v.string(), v.maxLength(128)),
  ts: unixSeconds,
  sig: v.pipe(v.string(), v.regex(B64URL))
})

export type Grant = v.InferOutput<typeof GrantSchema>
export type GrantPayload = Omit<Grant, 'sig'>
export type Revocation = v.InferOutput<typeof RevocationSchema>

export function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}

/** Parses an audience: a PeerId or `agent:NAME`. Throws BAD_REQUEST naming the problem. */
function parseAudience (aud: string): string {
  if (aud.startsWith('agent:')) {
    if (!NAME.test(aud.slice(6))) throw badRequest(`Cannot grant to "${aud}": agent names are 1-64 of A-Z a-z 0-9 . _ -`)
    return aud
  }
  try {
    return peerIdFromString(aud).toString()
  } catch (cause) {
    throw badRequest(`Cannot grant to "${aud}": it is neither a PeerId nor agent:NAME`, { cause })
  }
}

/**
 * Refuses a grant that could never be used (issue 10 §2): `/a2a/send` is checked only for remote
 * peers delivering over the mesh, every other command only for agent tokens on the IPC socket,
 * and this node never asks itself for authority.
 */
function assertMeaningful (iss: string, aud: string, cmd: string): void {
  if (aud === iss) throw badRequest(`Cannot grant ${cmd} to "${aud}": that is this node itself, which needs no grant`)
  const agent = aud.startsWith('agent:')
  if (cmd === '/a2a/send' && agent) {
    throw badRequest(`Cannot grant /a2a/send to "${aud}": it lets a remote PeerId deliver into our mailbox; an agent sends with /a2a/post`)
  }
  if (cmd !== '/a2a/send' && !agent) {
    throw badRequest(`Cannot grant ${cmd} to PeerId "${aud}": ${cmd} governs requests on this node's local socket, which only agents (agent:NAME) make; a remote peer needs /a2a/send`)
  }
}

/** `with` for a command and an optional mailbox; refuses unknown commands and misplaced mailboxes. */
function resourceFor (cmd: string, mailbox?: string): string {
  if (!(CAP_COMMANDS as readonly string[]).includes(cmd)) {
    throw badRequest(`Cannot grant "${cmd}": unknown command (known: ${CAP_COMMANDS.join(', ')})`)
  }
  if (mailbox === undefined || mailbox === '*') return 'mailbox:*'
  if (!MAILBOX_COMMANDS.has(cmd)) throw badRequest(`Cannot grant ${cmd} on mailbox "${mailbox}": ${cmd} is not scoped to mailboxes`)
  if (!NAME.test(mailbox)) throw badRequest(`Cannot grant on mailbox "${mailbox}": mailbox names are 1-64 of A-Z a-z 0-9 . _ -`)
  return `mailbox:${mailbox}`
}

function canonicalBytes (payload: Record<string, unknown>): Buffer {
  return Buffer.from(jcs(payload), 'utf8')
}

/** The id of a grant: hex SHA-256 of the canonical form of every member but `sig`. */
export function grantId (grant: GrantPayload | Grant): string {
  const { sig: _sig, ...payload } = grant as Grant
  return digest('sha256', canonicalBytes(payload), 'hex')
}

export interface GrantRequest {
  iss: string
  aud: string
  cmd: string
  mailbox?: string
  /** Lifetime in seconds from `nbf`; `null` or absent for none. */
  expiresS?: number | null
  /** Start of validity, unix seconds. @default now */
  nbf?: number
}

/** Checks a request and signs the grant it describes. */
export async function signGrant (key: PrivateKey, req: GrantRequest): Promise<{ id: string, grant: Grant }> {
  const nbf = req.nbf ?? nowSeconds()
  const aud = parseAudience(req.aud)
  const resource = resourceFor(req.cmd, req.mailbox)
  assertMeaningful(req.iss, aud, req.cmd)
  const payload: GrantPayload = {
    v: 1,
    iss: req.iss,
    aud,
    cmd: req.cmd as CapCommand,
    with: resource,
    nbf,
    exp: req.expiresS === undefined || req.expiresS === null ? null : nbf + req.expiresS,
    nonce: randomBytes(NONCE_BYTES).toString('hex')
  }
  const bytes = canonicalBytes(payload)
  const sig = Buffer.from(await key.sign(bytes)).toString('base64url')
  return { id: digest('sha256', bytes, 'hex'), grant: { ...payload, sig } }
}

export async function signRevocation (key: PrivateKey, iss: string, id: string): Promise<Revocation> {
  const payload = { v: 1 as const, id, iss, ts: nowSeconds() }
  const sig = Buffer.from(await key.sign(canonicalBytes(payload))).toString('base64url')
  return { ...payload, sig }
}

/** Parses a `grants.jsonl` line; `reason` when it is not a grant at all. */
export function parseGrant (line: string): { grant: Grant, id: string } | { reason: string } {
  let obj: unknown
  try { obj = JSON.parse(line) } catch { return { reason: 'not valid JSON' } }
  const r = v.safeParse(GrantSchema, obj)
  if (!r.success) return { reason: `not a grant: ${v.getDotPath(r.issues[0]) ?? 'line'}: ${describeIssue(r.issues[0])}` }
  return { grant: r.output, id: grantId(r.output) }
}

export function parseRevocation (line: string): { rev: Revocation } | { reason: string } {
  let obj: unknown
  try { obj = JSON.parse(line) } catch { return { reason: 'not valid JSON' } }
  const r = v.safeParse(RevocationSchema, obj)
  if (!r.success) return { reason: `not a revocation: ${v.getDotPath(r.issues[0]) ?? 'line'}: ${describeIssue(r.issues[0])}` }
  return { rev: r.output }
}

/**
 * Why a signed record is not honoured by the node `self` (null = it is): another issuer, or a
 * signature that does not verify over the canonical bytes.
 */
export async function signatureVerdict (record: Grant | Revocation, self: string, key: PublicKey): Promise<string | null> {
  if (record.iss !== self) return `issued by ${record.iss}, not by this node`
  const { sig, ...payload } = record
  const ok = await key.verify(canonicalBytes(payload), Buffer.from(sig, 'base64url'))
  return ok ? null : 'its signature does not verify (signed by another key, or altered)'
}
