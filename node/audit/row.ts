/**
 * The audit row format (DESIGN §10, docs/protocols.md "Audit log"): one JSON object a line,
 * stored in its RFC 8785 (JCS) canonical form, hash-chained by
 * `hash = sha256(prev + "\n" + JCS(row without hash))` from a genesis `prev` of 64 zeros.
 *
 * Because a line is the JCS form of the whole row, the bytes that are hashed are the line itself
 * with the `"hash":"…",` member taken out; verification rebuilds that form from the parsed row
 * and compares it byte for byte, so any change to a line — even one JSON would not notice — is
 * reported.
 */
import { hash as digest } from 'node:crypto'
import { jcs } from '../../protocol/index.js'

export const GENESIS_HASH = '0'.repeat(64)

/** Largest canonical `detail` a row may carry; bigger details are refused at append. @default 16 KiB */
export const MAX_DETAIL_BYTES = 16 * 1024

export type AuditOutcome = 'ok' | 'denied' | 'error'

/** What a caller records; the log adds `seq`, `ts`, `prev` and `hash`. */
export interface AuditEvent {
  type: string
  actor: string
  outcome: AuditOutcome
  detail: Record<string, unknown>
}

export interface AuditRow extends AuditEvent {
  seq: number
  /** RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.000Z`. */
  ts: string
  prev: string
  hash: string
}

/** The rows of a node's start and clean stop; a clean stop signs a checkpoint (verify rule 7). */
export const START_TYPE = 'NODE_STARTED'
export const STOP_TYPE = 'NODE_STOPPED'

/** The row that anchors a purge: its detail names the last dropped row (DESIGN §10 retention). */
export const PURGE_TYPE = 'AUDIT_PURGED'
/**
 * The row that follows the durable row of a change which could then not be carried out (its
 * store refused it): `detail.change` names that row's type, `detail.error` why. Without it the
 * `ok` row before would read as done.
 */
export const CHANGE_FAILED_TYPE = 'CHANGE_FAILED'

const OUTCOMES = new Set(['ok', 'denied', 'error'])
const TYPE = /^[A-Z][A-Z0-9_]{0,63}$/
const ROW_KEYS = 'actor,detail,hash,outcome,prev,seq,ts,type'
/** `,"hash":"` + 64 hex digits + `"`. */
const HASH_MEMBER_LENGTH = 74

function sha256Hex (text: string): string {
  return digest('sha256', text, 'hex')
}

/**
 * The pieces of a row's canonical form around the `hash` member: JCS sorts the members, so the
 * hashed body is `head + tail` and the stored line is `head + ',"hash":"…"' + tail`.
 */
function parts (seq: number, ts: string, ev: AuditEvent, detailJson: string, prev: string): [string, string] {
  const head = `{"actor":${JSON.stringify(ev.actor)},"detail":${detailJson}`
  // outcome, type (checked by prepareEvent) and ts (RFC 3339) never need JSON escapes.
  const tail = `,"outcome":"${ev.outcome}","prev":"${prev}","seq":${seq},"ts":"${ts}","type":"${ev.type}"}`
  return [head, tail]
}

/**
 * Checks an event before it is queued and returns its canonical detail. Throws a plain `Error`
 * naming the problem (the caller translates it).
 */
export function prepareEvent (ev: AuditEvent): string {
  if (typeof ev.type !== 'string' || !TYPE.test(ev.type)) throw new Error(`type "${String(ev.type)}" is not UPPER_SNAKE_CASE`)
  if (typeof ev.actor !== 'string' || ev.actor.length === 0 || ev.actor.length > 256) throw new Error('actor must be a string of 1-256 characters')
  if (!OUTCOMES.has(ev.outcome)) throw new Error(`outcome "${String(ev.outcome)}" is not ok, denied or error`)
  if (typeof ev.detail !== 'object' || ev.detail === null || Array.isArray(ev.detail)) throw new Error('detail must be an object')
  const json = jcs(ev.detail)
  if (json.length > MAX_DETAIL_BYTES) throw new Error(`detail is ${json.length} bytes, more than ${MAX_DETAIL_BYTES}`)
  return json
}

/** Builds the row that follows `prev` at `seq`, with its hash and its stored line (with `\n`). */
export function sealRow (seq: number, ts: string, ev: AuditEvent, detailJson: string, prev: string): { row: AuditRow, line: string } {
  const [head, tail] = parts(seq, ts, ev, detailJson, prev)
  const hash = sha256Hex(`${prev}\n${head}${tail}`)
  // The row keeps the caller's detail object (no copy: this is the hot path); callers pass fresh objects.
  const row: AuditRow = { seq, ts, type: ev.type, actor: ev.actor, outcome: ev.outcome, detail: ev.detail, prev, hash }
  return { row, line: `${head},"hash":"${hash}"${tail}\n` }
}

/**
 * Parses one stored line (without its `\n`) and checks it on its own: shape, canonical form and
 * hash. Returns the row, or the reason it is not a valid row. Chain links (`seq`, `prev`) are the
 * caller's to check.
 *
 * This is the verification hot path, so the canonical form is checked without re-serialising
 * the detail through `canonicalize`: the line must be exactly `{"actor":…,"detail":` + the detail
 * text + `,"hash":"…"` + the canonical tail, and the detail text must equal `JSON.stringify` of
 * its parse with every object's keys in sorted order — which is its JCS form (same string and
 * number serialisation). Only a detail that fails that shortcut goes through `canonicalize`.
 */
export function checkLine (line: string): { row: AuditRow } | { reason: string } {
  let obj: any
  try {
    obj = JSON.parse(line)
  } catch {
    return { reason: 'the line is not valid JSON' }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { reason: 'the line is not a JSON object' }
  const { seq, ts, type, actor, outcome, detail, prev, hash } = obj
  if (!Number.isSafeInteger(seq) || seq < 1) return { reason: 'seq is not a positive integer' }
  if (typeof ts !== 'string' || typeof type !== 'string' || typeof actor !== 'string' || !OUTCOMES.has(outcome)) return { reason: 'ts, type, actor or outcome is malformed' }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { reason: 'detail is not an object' }
  if (typeof prev !== 'string' || typeof hash !== 'string' || prev.length !== 64 || hash.length !== 64) return { reason: 'prev or hash is not 64 hex digits' }
  // Canonical layout: `{"actor":A,"detail":` D `,"hash":"H"` T, with T the members after hash.
  const actorJson = JSON.stringify(actor)
  const detailStart = 9 + actorJson.length + 10
  // prev, ts and type never need JSON escapes when well formed (hex, RFC 3339, UPPER_SNAKE); one
  // that does cannot match the line below and is refused.
  const tail = `,"outcome":"${outcome as string}","prev":"${prev}","seq":${seq as number},"ts":"${ts}","type":"${type}"}`
  const hashStart = line.length - tail.length - HASH_MEMBER_LENGTH
  if (hashStart <= detailStart || !line.startsWith('{"actor":') || !line.startsWith(actorJson, 9) || !line.startsWith(',"detail":', 9 + actorJson.length) ||
      !line.endsWith(tail) || !line.startsWith(',"hash":"', hashStart) || !line.startsWith(hash, hashStart + 9) || line.charCodeAt(hashStart + 73) !== 0x22) {
    return { reason: canonicalReason(obj) }
  }
  const detailText = line.slice(detailStart, hashStart)
  if (!(JSON.stringify(detail) === detailText && keysSorted(detail)) && jcs(detail) !== detailText) return { reason: canonicalReason(obj) }
  // The digest is lowercase hex, so a `hash` that is anything else fails this comparison too.
  if (sha256Hex(`${prev}\n${line.slice(0, hashStart)}${tail}`) !== hash) return { reason: 'its hash does not match its content' }
  return { row: obj as AuditRow }
}

function canonicalReason (obj: Record<string, unknown>): string {
  const keys = Object.keys(obj).sort().join(',')
  return keys !== ROW_KEYS ? `the row has members ${keys}, expected ${ROW_KEYS}` : 'the line is not in canonical (RFC 8785) form'
}

/** True when every object in `v` lists its keys in JCS order (UTF-16 code units, as `<` compares). */
function keysSorted (v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true
  if (Array.isArray(v)) return v.every(keysSorted)
  let prev: string | undefined
  for (const k in v) {
    if (prev !== undefined && !(prev < k)) return false
    prev = k
    if (!keysSorted((v as Record<string, unknown>)[k])) return false
  }
  return true
}

/** The `seq` a damaged line claims, when that much of it can still be read; for messages only. */
export function claimedSeq (line: string): number | undefined {
  const m = /"seq":(\d{1,15})[,}]/.exec(line)
  return m === null ? undefined : Number(m[1])
}
