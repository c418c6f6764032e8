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
import { jcs } from './jcs.js'

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

/** The row that anchors a purge: its detail names the last dropped row (DESIGN §10 retention). */
export const PURGE_TYPE = 'AUDIT_PURGED'

const OUTCOMES = new Set(['ok', 'denied', 'error'])
const HEX64 = /^[0-9a-f]{64}$/
const TYPE = /^[A-Z][A-Z0-9_]{0,63}$/
const ROW_KEYS = 'actor,detail,hash,outcome,prev,seq,ts,type'

export function sha256Hex (text: string): string {
  return digest('sha256', text, 'hex')
}

/**
 * The pieces of a row's canonical form around the `hash` member: JCS sorts the members, so the
 * hashed body is `head + tail` and the stored line is `head + ',"hash":"…"' + tail`.
 */
function parts (seq: number, ts: string, ev: AuditEvent, detailJson: string, prev: string): [string, string] {
  const head = `{"actor":${JSON.stringify(ev.actor)},"detail":${detailJson}`
  const tail = `,"outcome":${JSON.stringify(ev.outcome)},"prev":"${prev}","seq":${seq},"ts":${JSON.stringify(ts)},"type":${JSON.stringify(ev.type)}}`
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
  // The row keeps the detail as stored (a copy the caller cannot change afterwards).
  const row: AuditRow = { seq, ts, type: ev.type, actor: ev.actor, outcome: ev.outcome, detail: JSON.parse(detailJson), prev, hash }
  return { row, line: `${head},"hash":"${hash}"${tail}\n` }
}

/**
 * Parses one stored line (without its `\n`) and checks it on its own: shape, canonical form and
 * hash. Returns the row, or the reason it is not a valid row. Chain links (`seq`, `prev`) are the
 * caller's to check.
 */
export function checkLine (line: string): { row: AuditRow } | { reason: string } {
  let obj: any
  try {
    obj = JSON.parse(line)
  } catch {
    return { reason: 'the line is not valid JSON' }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { reason: 'the line is not a JSON object' }
  if (Object.keys(obj).sort().join(',') !== ROW_KEYS) return { reason: `the row has members ${Object.keys(obj).sort().join(',')}, expected ${ROW_KEYS}` }
  const { seq, ts, type, actor, outcome, detail, prev, hash } = obj
  if (!Number.isSafeInteger(seq) || seq < 1) return { reason: 'seq is not a positive integer' }
  if (typeof ts !== 'string' || Number.isNaN(Date.parse(ts))) return { reason: 'ts is not an RFC 3339 time' }
  if (typeof type !== 'string' || typeof actor !== 'string' || !OUTCOMES.has(outcome)) return { reason: 'type, actor or outcome is malformed' }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { reason: 'detail is not an object' }
  if (typeof prev !== 'string' || !HEX64.test(prev) || typeof hash !== 'string' || !HEX64.test(hash)) return { reason: 'prev or hash is not 64 lowercase hex digits' }
  const detailJson = jcs(detail)
  const [head, tail] = parts(seq, ts, obj, detailJson, prev)
  if (line !== `${head},"hash":"${hash}"${tail}`) return { reason: 'the line is not in canonical (RFC 8785) form' }
  if (sha256Hex(`${prev}\n${head}${tail}`) !== hash) return { reason: 'its hash does not match its content' }
  return { row: obj as AuditRow }
}

/** The `seq` a damaged line claims, when that much of it can still be read; for messages only. */
export function claimedSeq (line: string): number | undefined {
  const m = /"seq":(\d{1,15})[,}]/.exec(line)
  return m === null ? undefined : Number(m[1])
}
