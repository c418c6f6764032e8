/**
 * Opening the audit files once at start: torn tails moved aside, the head and a window of
 * recent rows read from the end of the log, the last signed checkpoint, and the rows that record
 * what was found (`AUDIT_TORN_TAIL`, `AUDIT_HEAD_DAMAGED`, `AUDIT_INCONSISTENT`).
 */
import { constants } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { PublicKey } from '@libp2p/interface'
import { auditBroken } from '../../protocol/index.js'
import { GENESIS_HASH, checkLine, type AuditEvent, type AuditRow } from './row.js'
import { checkCheckpointLine, type Checkpoint } from './checkpoint.js'
import type { AuditHead } from './verify.js'
import { openRw, readLastLines, recoverTornTail, type TornTail } from '../files/index.js'

/** Checkpoint lines read back from the end to find the last valid one. */
const CHECKPOINT_LOOKBACK_LINES = 16

export interface AuditState {
  fh: FileHandle
  size: number
  cpFh: FileHandle
  cpSize: number
  head: AuditHead
  window: AuditRow[]
  lastCp?: Checkpoint
  /** Rows to append first: what opening found. */
  notes: AuditEvent[]
}

/** Open flag making each write of `events.jsonl` durable on return (0 where the platform lacks it: the log then fdatasyncs after each write). */
export const EVENTS_DSYNC = constants.O_DSYNC ?? 0

export async function loadAuditState (eventsPath: string, checkpointsPath: string, key: PublicKey, tailWindow: number, warn: (line: string) => void): Promise<AuditState> {
  const ev = await openRw(eventsPath, EVENTS_DSYNC)
  let cp: { fh: FileHandle, size: number } | undefined
  try {
    const rec = await recoverTornTail(eventsPath, ev.fh, ev.size)
    cp = await openRw(checkpointsPath)
    const cpRec = await recoverTornTail(checkpointsPath, cp.fh, cp.size)
    const notes: AuditEvent[] = []
    const window: AuditRow[] = []
    const lines = await readLastLines(ev.fh, rec.size, tailWindow)
    for (const line of lines) {
      const r = checkLine(line)
      if ('row' in r) window.push(r.row)
    }
    let head: AuditHead = { seq: 0, hash: GENESIS_HASH }
    const last = window[window.length - 1]
    if (lines.length > 0) {
      if (last === undefined) throw auditBroken(`Cannot open the audit log "${eventsPath}": none of its last ${lines.length} lines is a valid row; move it aside to start a new log`)
      if ('reason' in checkLine(lines[lines.length - 1])) {
        notes.push({ type: 'AUDIT_HEAD_DAMAGED', actor: 'node', outcome: 'error', detail: { lastGoodSeq: last.seq, reason: 'the last line of the log is not a valid row; the chain continues from the last valid row and verify reports the damage' } })
      }
      head = { seq: last.seq, hash: last.hash }
    }
    const lastCp = await lastCheckpoint(cp.fh, cpRec.size, key, warn)
    if (rec.torn !== undefined) notes.push(tornNote(rec.torn, 'events', head.seq))
    if (cpRec.torn !== undefined) notes.push(tornNote(cpRec.torn, 'checkpoints', lastCp?.seq ?? 0))
    for (const n of notes) warn(`${n.type}: ${JSON.stringify(n.detail)}`)
    const mismatch = checkAgainst(lastCp, head, window)
    if (mismatch !== undefined) {
      warn(mismatch)
      notes.push({ type: 'AUDIT_INCONSISTENT', actor: 'node', outcome: 'error', detail: { reason: mismatch, checkpointSeq: lastCp?.seq ?? null, logSeq: head.seq } })
    }
    return { fh: ev.fh, size: rec.size, cpFh: cp.fh, cpSize: cpRec.size, head, window, lastCp, notes }
  } catch (err) {
    await ev.fh.close().catch(() => {})
    await cp?.fh.close().catch(() => {})
    throw err
  }
}

async function lastCheckpoint (fh: FileHandle, size: number, key: PublicKey, warn: (line: string) => void): Promise<Checkpoint | undefined> {
  const lines = await readLastLines(fh, size, CHECKPOINT_LOOKBACK_LINES)
  for (let i = lines.length - 1; i >= 0; i--) {
    const r = await checkCheckpointLine(lines[i], key)
    if ('cp' in r) return r.cp
    warn(`checkpoints.jsonl: ignoring a line near the end: ${r.reason}`)
  }
  return undefined
}

/** A log that ends before its last checkpoint, or disagrees with it, was cut off or rolled back. */
function checkAgainst (cp: Checkpoint | undefined, head: AuditHead, window: AuditRow[]): string | undefined {
  if (cp === undefined) return undefined
  if (cp.seq > head.seq) return `the log ends at seq ${head.seq} but the last signed checkpoint names seq ${cp.seq}: rows were cut off or the log was rolled back`
  const row = window.find(r => r.seq === cp.seq)
  if (row !== undefined && row.hash !== cp.hash) return `row ${cp.seq} differs from the signed checkpoint at that seq: the log was rewritten`
  return undefined
}

function tornNote (torn: TornTail, file: string, afterSeq: number): AuditEvent {
  return { type: 'AUDIT_TORN_TAIL', actor: 'node', outcome: 'error', detail: { file: `${file}.jsonl`, bytes: torn.bytes, savedAs: torn.savedAs, afterSeq } }
}
