/**
 * A2A delivery contracts (DESIGN §8): the A2A protocol v1.0 `Message` in its JSON form, the
 * `/sov/a2a/1.0.0` wire envelope and reply, and the limits both sides apply. Every envelope,
 * reply and message is checked against these schemas at the edge (sender and receiver).
 *
 * The `Message` follows the A2A v1.0 protobuf (`lf.a2a.v1.Message`, `Part`) in its proto3 JSON
 * mapping: camelCase field names, `bytes` as base64 (standard or URL-safe, padding optional),
 * a `Part` carries exactly one of `text` / `raw` / `url` / `data`.
 */
import * as v from 'valibot'
import { badRequest } from './errors.js'
import { describeIssue } from './issues.js'
import { assertFitJson, printable } from './unicode.js'

/** libp2p protocol id of mailbox delivery. */
export const A2A_PROTOCOL = '/sov/a2a/1.0.0'
/** Envelope format version (`"v"`). */
export const A2A_ENVELOPE_VERSION = 1
/** Largest envelope (one frame body, UTF-8 JSON) a node accepts unless configured. @default 1 MiB */
export const MAX_ENVELOPE_BYTES = 1024 * 1024
/** Longest delivery time-to-live an envelope may ask for. @default 30 days, in ms */
export const MAX_TTL_MS = 30 * 24 * 3600 * 1000
/** Default delivery time-to-live of `send`. @default 24 hours, in ms */
export const DEFAULT_TTL_MS = 24 * 3600 * 1000
/** How many times a message is leased before it moves to the dead letters. @default 5 */
export const DEFAULT_MAX_DELIVERIES = 5

/** Reply codes after which a sender never retries the envelope (the answer will not change). */
export const A2A_PERMANENT_CODES = ['BAD_REQUEST', 'TOO_LARGE', 'FORBIDDEN', 'CONFLICT'] as const

const MAILBOX_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
// proto3 JSON accepts standard and URL-safe base64, with or without padding.
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/
const UUID_V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A mailbox name: 1-64 of `A-Z a-z 0-9 . _ -`, not starting with a punctuation mark. */
export const MailboxNameSchema = v.pipe(v.string(), v.regex(MAILBOX_RE, 'mailbox names are 1-64 of A-Z a-z 0-9 . _ -'))

const shortText = v.pipe(v.string(), v.maxLength(1024))
const idText = v.pipe(v.string(), v.minLength(1), v.maxLength(256))
// valibot's record() lets arrays through; a protobuf Struct is a JSON object only.
const jsonObject = v.pipe(v.custom<Record<string, unknown>>(x => typeof x === 'object' && x !== null && !Array.isArray(x), 'must be a JSON object'), v.record(v.string(), v.unknown()))
const base64 = v.pipe(
  v.string(),
  v.regex(BASE64_RE, 'raw must be base64'),
  v.check(s => s.endsWith('=') ? s.length % 4 === 0 : s.length % 4 !== 1, 'raw must be base64 of a whole number of bytes')
)

const CONTENT_KEYS = ['text', 'raw', 'url', 'data'] as const

/** One `Part`: exactly one of `text`, `raw` (base64), `url`, `data` (any JSON value). */
export const PartSchema = v.pipe(
  v.strictObject({
    text: v.optional(v.string()),
    raw: v.optional(base64),
    url: v.optional(v.pipe(v.string(), v.maxLength(8192), v.url('url must be an absolute URL'))),
    data: v.optional(v.unknown()),
    mediaType: v.optional(v.pipe(v.string(), v.maxLength(255))),
    filename: v.optional(shortText),
    metadata: v.optional(jsonObject)
  }),
  v.check(p => CONTENT_KEYS.filter(k => Object.hasOwn(p, k) && p[k] !== undefined).length === 1,
    'a part has exactly one of text, raw, url, data')
)
export type A2APart = v.InferOutput<typeof PartSchema>

/** An A2A v1.0 `Message` (JSON form). */
export const MessageSchema = v.strictObject({
  messageId: idText,
  role: v.picklist(['ROLE_USER', 'ROLE_AGENT'], 'role must be ROLE_USER or ROLE_AGENT'),
  parts: v.pipe(v.array(PartSchema), v.minLength(1, 'a message has at least one part'), v.maxLength(1024)),
  contextId: v.optional(idText),
  taskId: v.optional(idText),
  metadata: v.optional(jsonObject),
  extensions: v.optional(v.pipe(v.array(shortText), v.maxLength(64))),
  referenceTaskIds: v.optional(v.pipe(v.array(idText), v.maxLength(64)))
})
export type A2AMessage = v.InferOutput<typeof MessageSchema>

/**
 * Sender → receiver, one per frame. The sender's identity is the connection's authenticated
 * PeerId, never a field: an envelope with any field not listed here is refused.
 */
export const EnvelopeSchema = v.strictObject({
  v: v.literal(A2A_ENVELOPE_VERSION, 'v must be 1'),
  id: v.pipe(v.string(), v.regex(UUID_V7_RE, 'id must be a lowercase UUID v7')),
  mailbox: MailboxNameSchema,
  ts: v.pipe(v.number(), v.integer(), v.minValue(0)),
  ttl: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_TTL_MS)),
  message: MessageSchema
})
export type A2AEnvelope = v.InferOutput<typeof EnvelopeSchema>

export type A2AReplyStatus = 'accepted' | 'duplicate' | 'rejected'

/**
 * Receiver → sender, one per envelope, in the order the envelopes arrived, each sent only
 * after the envelope is committed. `id` is `null` only when the frame carried no readable id.
 */
/** A peer's refusal reason, shown to operators and clients: printable (a peer must not draw on a terminal). */
export const shownReason = (r: string): string => printable(r, 1024)

export const ReplySchema = v.strictObject({
  id: v.nullable(v.pipe(v.string(), v.maxLength(64))),
  status: v.picklist(['accepted', 'duplicate', 'rejected']),
  code: v.optional(v.pipe(v.string(), v.maxLength(64))),
  reason: v.optional(v.pipe(v.string(), v.maxLength(1024), v.transform(shownReason)))
})
export type A2AReply = v.InferOutput<typeof ReplySchema>

function parseWith<S extends v.GenericSchema> (schema: S, value: unknown, what: string): v.InferOutput<S> {
  assertFitJson(value, what)
  const r = v.safeParse(schema, value)
  if (r.success) return r.output
  const issue = r.issues[0]
  const path = v.getDotPath(issue)
  throw badRequest(`Cannot accept ${what}: ${path === null ? '' : `field "${path}": `}${describeIssue(issue)}`)
}

/** Checks an A2A message; throws `BAD_REQUEST` naming the first bad field. */
export function parseA2AMessage (value: unknown): A2AMessage {
  return parseWith(MessageSchema, value, 'message')
}

/** Checks a wire envelope; throws `BAD_REQUEST` naming the first bad field. */
export function parseEnvelope (value: unknown): A2AEnvelope {
  return parseWith(EnvelopeSchema, value, 'envelope')
}

/** Checks a reply frame; throws `BAD_REQUEST` naming the first bad field. */
export function parseReply (value: unknown): A2AReply {
  return parseWith(ReplySchema, value, 'reply')
}
