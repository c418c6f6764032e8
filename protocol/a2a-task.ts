/**
 * `/sov/a2a-task/1.0.0` and `/sov/a2a-task/1.1.0` (issue 11, docs/protocols.md): A2A tasks across
 * the mesh. 1.0.0: one request frame per stream from the caller's node, then the callee's answer
 * frames. 1.1.0: one long-lived stream per peer carrying many requests at once, each request and
 * its answers tagged with the caller's request id `rid`. Varint-length-prefixed UTF-8 JSON, like
 * `/sov/a2a/1.0.0`, which stays as it is (mailbox delivery).
 *
 * The A2A payloads (`message`, `task`, agent cards) are A2A v1.0 objects in their proto3 JSON form;
 * this schema checks only the frame around them — the A2A SDK parses them (`Task.fromJSON`).
 */
import * as v from 'valibot'
import { MailboxNameSchema, shownReason } from './a2a.js'
import { badRequest } from './errors.js'
import { describeIssue } from './issues.js'
import { assertFitJson } from './unicode.js'

/** libp2p protocol id of A2A tasks across the mesh, one request per stream (still spoken). */
export const A2A_TASK_PROTOCOL = '/sov/a2a-task/1.0.0'
/**
 * libp2p protocol id of A2A tasks across the mesh, many requests on one stream per peer (issue 11
 * performance): a new stream per call cost a multistream round trip and peer-store writes on both
 * nodes. A caller tries it first and falls back to `A2A_TASK_PROTOCOL` for a node without it.
 */
export const A2A_TASK_SESSION_PROTOCOL = '/sov/a2a-task/1.1.0'
/** Requests one 1.1.0 stream carries at once; a caller sending more has its stream reset. @default 256 */
export const MAX_SESSION_REQUESTS = 256
/** Largest frame either side reads. @default 1 MiB */
export const MAX_TASK_FRAME_BYTES = 1024 * 1024
/**
 * Largest A2A payload one frame carries — a call's `message`, or a task snapshot — in bytes of
 * its UTF-8 JSON: the frame limit less 8 KiB for what surrounds it (ids, `seq`, `rid`). Checked
 * where the payload is accepted (the local endpoint, `a2a reply`, the forwarder), so a payload
 * that could never cross the mesh is refused there instead of being retried for a day.
 */
export const MAX_TASK_PAYLOAD_BYTES = MAX_TASK_FRAME_BYTES - 8 * 1024

/**
 * Room a call's message leaves in its task snapshot for the agent's answer. The snapshot carries
 * the message in its history, so a message that filled it left every reply `TOO_LARGE`, even
 * `--state failed`, and the task waiting for good (helper finding, stop 33). @default 16 KiB
 */
export const REPLY_RESERVE_BYTES = 16 * 1024
/** Largest call message, in bytes of its UTF-8 JSON: checked by the caller's endpoint and by the callee. */
export const MAX_CALL_MESSAGE_BYTES = MAX_TASK_PAYLOAD_BYTES - REPLY_RESERVE_BYTES

/** The UTF-8 size of `json` (a payload's JSON text) when it is over `max` bytes, else undefined. */
export function payloadTooLarge (json: string, max = MAX_TASK_PAYLOAD_BYTES): number | undefined {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short texts need no count.
  if (json.length * 3 <= max) return undefined
  const bytes = Buffer.byteLength(json, 'utf8')
  return bytes > max ? bytes : undefined
}

const UUID_V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const idText = v.pipe(v.string(), v.minLength(1), v.maxLength(256))
const jsonObject = v.custom<Record<string, any>>(x => typeof x === 'object' && x !== null && !Array.isArray(x), 'must be a JSON object')

/**
 * Caller → callee, the first and only frame the caller writes on a stream.
 * - `agents`: which agents do you offer me? (those I hold an `/a2a/send` grant for)
 * - `call`: run (or resume following) call `callId` on agent `agent`; send me its task events
 *   after `afterSeq`. The same `callId` again is the same call (de-duplicated by the callee).
 * - `cancel`: ask the agent to cancel the task of call `callId`.
 */
export const TaskRequestSchema = v.variant('type', [
  v.strictObject({ v: v.literal(1), type: v.literal('agents') }),
  v.strictObject({
    v: v.literal(1),
    type: v.literal('call'),
    callId: v.pipe(v.string(), v.regex(UUID_V7_RE, 'callId must be a lowercase UUID v7')),
    agent: MailboxNameSchema,
    /** The caller's task id and context id: every event comes back under these. */
    taskId: idText,
    contextId: idText,
    /** The A2A `Message` (JSON form) the client sent. */
    message: jsonObject,
    afterSeq: v.pipe(v.number(), v.integer(), v.minValue(0))
  }),
  v.strictObject({ v: v.literal(1), type: v.literal('cancel'), callId: v.pipe(v.string(), v.regex(UUID_V7_RE)), agent: MailboxNameSchema })
])
export type TaskRequest = v.InferOutput<typeof TaskRequestSchema>

/**
 * Offered agent as `agents` returns it: its name, its own Agent Card (JSON form), and for how many
 * more whole seconds the callee holds that card fresh (from the agent's HTTP caching headers,
 * A2A v1.0 §8.6); absent when the callee has no hint (a pull agent's card), and the caller then
 * chooses.
 */
export interface OfferedAgent { name: string, card: Record<string, any>, maxAgeS?: number }

/** Largest `maxAgeS` accepted (the caller bounds it further). @default 30 days */
export const MAX_CARD_AGE_S = 30 * 24 * 3600

/**
 * Callee → caller.
 * - `agents`: the answer to `agents`, each card with its `maxAgeS` when the callee has one.
 * - `event`: task snapshot number `seq` (1, 2, …) of the call, in order, durable on the callee;
 *   `final` when the task reached a terminal or interrupted state (the stream then ends).
 * - `wait`: nothing new yet (a heartbeat while the agent works or is down).
 * - `cancelled`: the agent's answer to `cancel`, with the task it returned when it accepted.
 * - `error`: the request is refused (`FORBIDDEN`, `NOT_FOUND`, `BAD_REQUEST`, …); the stream ends.
 * - `resend` (1.1.0 only): the callee ended the request without a final event (it follows a call
 *   for at most `FOLLOW_STREAM_MAX_MS`); the caller sends it again.
 */
export const TaskAnswerSchema = v.variant('type', [
  v.strictObject({
    type: v.literal('agents'),
    agents: v.array(v.strictObject({ name: MailboxNameSchema, card: jsonObject, maxAgeS: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_CARD_AGE_S))) }))
  }),
  v.strictObject({ type: v.literal('event'), seq: v.pipe(v.number(), v.integer(), v.minValue(1)), task: jsonObject, final: v.boolean() }),
  v.strictObject({ type: v.literal('wait') }),
  v.strictObject({ type: v.literal('cancelled'), accepted: v.boolean(), task: v.optional(jsonObject) }),
  // 1.1.0 only: this request is over without its final event; send it again (with your afterSeq).
  v.strictObject({ type: v.literal('resend') }),
  v.strictObject({ type: v.literal('error'), code: v.pipe(v.string(), v.maxLength(64)), reason: v.pipe(v.string(), v.maxLength(1024), v.transform(shownReason)) })
])
export type TaskAnswer = v.InferOutput<typeof TaskAnswerSchema>

function parseWith<S extends v.GenericSchema> (schema: S, value: unknown, what: string): v.InferOutput<S> {
  assertFitJson(value, what)
  const r = v.safeParse(schema, value)
  if (r.success) return r.output
  const issue = r.issues[0]
  const path = v.getDotPath(issue)
  throw badRequest(`Cannot accept ${what}: ${path === null ? '' : `field "${path}": `}${describeIssue(issue)}`)
}

/** Checks a caller's frame; throws `BAD_REQUEST` naming the first bad field. */
export function parseTaskRequest (value: unknown): TaskRequest {
  return parseWith(TaskRequestSchema, value, 'task request')
}

/** Checks a callee's frame; throws `BAD_REQUEST` naming the first bad field. */
export function parseTaskAnswer (value: unknown): TaskAnswer {
  return parseWith(TaskAnswerSchema, value, 'task answer')
}

/**
 * Splits a 1.1.0 frame (parsed JSON) into its request id and the 1.0.0 frame around it, which
 * `parseTaskRequest` / `parseTaskAnswer` then check. `rid` is a non-negative safe integer the
 * caller chooses, unique among its open requests on the stream; undefined when the frame has none
 * or an invalid one (a `wait` heartbeat has none).
 */
export function splitRid (value: unknown): { rid: number | undefined, rest: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { rid: undefined, rest: value }
  const { rid, ...rest } = value as Record<string, unknown>
  return { rid: typeof rid === 'number' && Number.isSafeInteger(rid) && rid >= 0 ? rid : undefined, rest }
}

/** Port of the local A2A endpoint when `a2a.http.listen` is not set (A2A has no registered port). */
export const DEFAULT_A2A_HTTP_PORT = 4011

/**
 * Reads `a2a.http.listen` (issue 11): `0` (disabled), a port, or `HOST:PORT` with a loopback HOST
 * (127.0.0.0/8, `::1` as `[::1]:PORT`, `localhost`). Anything else is `BAD_REQUEST`. Here, not in
 * `a2a/`, so that reading the config never loads the A2A SDK.
 */
export function parseHttpListen (value: string | number | undefined): { host: string, port: number } | null {
  if (value === undefined) return { host: '127.0.0.1', port: DEFAULT_A2A_HTTP_PORT }
  const text = String(value).trim()
  if (text === '0') return null
  const m = /^(?:(\[::1\]|localhost|127(?:\.\d{1,3}){3}):)?(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) throw badRequest(`Cannot use a2a.http.listen "${text}": give 0, a port, or 127.0.0.1:PORT (loopback only)`)
  const host = m[1] === undefined || m[1] === 'localhost' ? '127.0.0.1' : m[1] === '[::1]' ? '::1' : m[1]
  return { host, port }
}
