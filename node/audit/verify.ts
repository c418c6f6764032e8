/**
 * Audit verification: recomputes the hash chain of `events.jsonl` and checks it against the
 * signed checkpoints. The rules (docs/protocols.md "Audit log"):
 *
 * 1. every line is a canonical row whose hash matches its content; seqs are consecutive and each
 *    `prev` is the previous row's `hash`;
 * 2. the first row is seq 1 with the genesis `prev`, or seq K+1 whose `prev` is the `anchor` of a
 *    purge row (type `AUDIT_PURGED`, detail `{throughSeq: K, anchor}`) later in the log that a
 *    signed checkpoint names exactly (so a purge cannot be forged without the node key);
 * 3. every checkpoint's signature verifies, and the row at its seq has its hash; a checkpoint
 *    below the first row is allowed only behind a valid purge anchor (at K it must equal the anchor);
 * 4. no checkpoint names a seq beyond the last row: that is a log cut short or rolled back;
 * 5. (live daemon) the last row is the head the daemon holds in memory;
 * 6. a damaged row whose stored seq, prev and hash still fit the chain is a *break*; the chain is
 *    followed past it on its stored hash. A break is forgiven only by a later `AUDIT_ACKNOWLEDGED`
 *    row naming its seq that a signed checkpoint names exactly (`sov audit acknowledge`, issue 14):
 *    then the log verifies and the break is listed as acknowledged, never hidden;
 * 7. a clean stop (`NODE_STOPPED`) signs a checkpoint before the next start (`NODE_STARTED`):
 *    a stop without one is a break at its row — checkpoints removed or cut offline, after which
 *    rewritten rows would have passed (helper finding, stop 29); a stop killed before it could
 *    sign is acknowledged like any break.
 *
 * The first failure by seq is reported. Lines are checked one at a time, so memory stays flat.
 */
import { open, readFile } from 'node:fs/promises'
import type { PublicKey } from '@libp2p/interface'
import { GENESIS_HASH, PURGE_TYPE, START_TYPE, STOP_TYPE, checkLine, claimedSeq, type AuditRow } from './row.js'
import { checkCheckpointLine, type Checkpoint } from './checkpoint.js'

export interface AuditHead { seq: number, hash: string }

export interface VerifyResult {
  ok: boolean
  /** Lines in `events.jsonl`. */
  rows: number
  /** First row that fails, by seq; `null` when the log is valid (or the failure has no seq). */
  firstBadSeq: number | null
  reason?: string
  /** Last row that verified in sequence. */
  head: AuditHead | null
  /** Valid checkpoints read. */
  checkpoints: number
  /** Breaks forgiven by a signed acknowledgement (rule 6), oldest first. */
  acknowledged?: Array<{ seq: number, reason: string, ackSeq: number, note: string }>
}

/** The row type of `sov audit acknowledge`; detail `{seq, reason, breakReason}`. */
export const ACK_TYPE = 'AUDIT_ACKNOWLEDGED'

interface Bad { seq: number | null, reason: string }
interface PurgeMark { seq: number, hash: string, throughSeq: number, anchor: string }

const HEX64 = /^[0-9a-f]{64}$/
/** Bytes read from the log at a time. @default 4 MiB */
const READ_CHUNK_BYTES = 4 * 1024 * 1024

/** Checks the lines of `events.jsonl` as they stream past; `end()` gives the verdict. */
class ChainVerifier {
  private lines = 0
  private last?: AuditRow
  private first?: { seq: number, prev: string }
  private bad?: Bad
  private readonly purges: PurgeMark[] = []
  private readonly breaks: Bad[] = []
  /** Seqs of the clean stops and the starts read (rule 7). */
  private readonly stops: number[] = []
  private readonly starts: number[] = []
  private readonly acks: Array<{ seq: number, hash: string, target: number, note: string }> = []
  private readonly cps: Checkpoint[]
  private cpi = 0
  private rest = ''

  /** `checkpoints`: verified checkpoints, in any order. */
  constructor (checkpoints: Checkpoint[], private readonly expectHead?: AuditHead, private readonly expectCheckpoint?: AuditHead) {
    this.cps = [...checkpoints].sort((a, b) => a.seq - b.seq)
  }

  /** Feeds text; a line is complete at its `\n`. */
  push (text: string): void {
    const parts = text.split('\n')
    // The first piece finishes the line the previous chunk left open.
    if (this.rest !== '') parts[0] = this.rest + parts[0]
    this.rest = parts.pop() as string
    for (const line of parts) this.line(line)
  }

  end (): VerifyResult {
    if (this.rest !== '') {
      this.lines++
      this.bad ??= { seq: this.last === undefined ? null : this.last.seq + 1, reason: 'the last line is incomplete (a torn write)' }
      this.rest = ''
    }
    const honoured = this.purges.filter(p => this.cps.some(c => c.seq === p.seq && c.hash === p.hash))
    for (const s of this.stops) {
      const next = this.starts.find(t => t > s) ?? Infinity
      if (!this.cps.some(c => c.seq >= s && c.seq < next)) {
        this.breaks.push({ seq: s, reason: `row ${s} records a clean stop, which signs a checkpoint, but checkpoints.jsonl holds none from it to the next start: checkpoints were removed or cut, so rows before it could have been rewritten (or the stop was killed before it signed; then acknowledge it)` })
      }
    }
    this.breaks.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
    const fails: Bad[] = []
    if (this.first !== undefined && this.first.seq !== 1) {
      const { seq, prev } = this.first
      if (!honoured.some(p => p.throughSeq === seq - 1 && p.anchor === prev)) {
        const below = honoured.filter(p => p.throughSeq < seq - 1).map(p => p.throughSeq)
        const from = below.length > 0 ? Math.max(...below) + 1 : 1
        fails.push({ seq: from, reason: `the log starts at seq ${seq} and no signed purge row anchors it: rows ${from}..${seq - 1} are missing` })
      }
    }
    const signed = this.acks.filter(a => this.cps.some(c => c.seq === a.seq && c.hash === a.hash))
    const acknowledged: NonNullable<VerifyResult['acknowledged']> = []
    for (const b of this.breaks) {
      const ack = signed.find(a => a.target === b.seq)
      if (ack === undefined) fails.push(b)
      else acknowledged.push({ seq: b.seq as number, reason: b.reason, ackSeq: ack.seq, note: ack.note })
    }
    if (this.bad !== undefined) {
      if (this.bad.seq === null && this.first === undefined) {
        this.bad.seq = honoured.length > 0 ? Math.max(...honoured.map(p => p.throughSeq)) + 1 : 1
      }
      fails.push(this.bad)
    } else {
      const lastSeq = this.last?.seq ?? 0
      const beyond = this.cps.filter(c => c.seq > lastSeq)
      if (beyond.length > 0) {
        const top = beyond[beyond.length - 1].seq
        fails.push({ seq: lastSeq + 1, reason: `the log ends at seq ${lastSeq} but a signed checkpoint names seq ${top}: rows ${lastSeq + 1}..${top} were cut off or the log was rolled back` })
      } else if (this.expectHead !== undefined && this.expectHead.seq > 0) {
        const h = this.expectHead
        if (lastSeq < h.seq) fails.push({ seq: lastSeq + 1, reason: `the log ends at seq ${lastSeq} but this daemon wrote up to seq ${h.seq}: the file was cut off or rolled back` })
        else if (this.last !== undefined && lastSeq === h.seq && this.last.hash !== h.hash) fails.push({ seq: h.seq, reason: `row ${h.seq} is not the row this daemon wrote: the file was replaced` })
      }
    }
    const c = this.expectCheckpoint
    if (c !== undefined && !this.cps.some(x => x.seq === c.seq && x.hash === c.hash)) {
      fails.push({ seq: c.seq, reason: `checkpoints.jsonl lacks the checkpoint at seq ${c.seq} this daemon holds as its last: the file was removed, cut or replaced under the running node` })
    }
    const head = this.last === undefined ? null : { seq: this.last.seq, hash: this.last.hash }
    const acks = acknowledged.length > 0 ? { acknowledged } : {}
    if (fails.length === 0) return { ok: true, rows: this.lines, firstBadSeq: null, head, checkpoints: this.cps.length, ...acks }
    fails.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity))
    return { ok: false, rows: this.lines, firstBadSeq: fails[0].seq, reason: fails[0].reason, head, checkpoints: this.cps.length, ...acks }
  }

  private line (text: string): void {
    this.lines++
    if (this.bad !== undefined) {
      // After the first failure only purge rows are still of interest (they decide where the log may start).
      if (text.includes(`"type":"${PURGE_TYPE}"`)) {
        const r = checkLine(text)
        if ('row' in r) this.notePurge(r.row)
      }
      return
    }
    const r = checkLine(text)
    const last = this.last
    if (last === undefined) {
      if ('reason' in r) {
        const seq = claimedSeq(text)
        this.bad = { seq: null, reason: `the first row${seq === undefined ? '' : ` (seq ${seq}?)`} is damaged: ${r.reason}` }
        return
      }
      const { seq, prev } = r.row
      this.first = { seq, prev }
      if (seq === 1 && prev !== GENESIS_HASH) { this.bad = { seq: 1, reason: 'row 1 does not start from the genesis hash' }; return }
      // Checkpoints below the first row were cut off by a purge; the one at the cut must match the anchor.
      while (this.cpi < this.cps.length && this.cps[this.cpi].seq < seq) {
        const cp = this.cps[this.cpi++]
        if (cp.seq === seq - 1 && cp.hash !== prev) { this.bad = { seq, reason: `row ${seq} does not link to the signed checkpoint at seq ${cp.seq}` }; return }
      }
    } else {
      const expected = last.seq + 1
      if ('reason' in r) {
        if (this.stepOver(text, expected, last.hash, r.reason)) return
        this.bad = { seq: expected, reason: `row ${expected} is damaged: ${r.reason}` }
        return
      }
      const { seq, prev } = r.row
      if (seq !== expected) {
        this.bad = {
          seq: expected,
          reason: seq < expected
            ? `found seq ${seq} where ${expected} belongs: a row is duplicated or out of order`
            : `found seq ${seq} where ${expected} belongs: rows ${expected}..${seq - 1} are missing or out of order`
        }
        return
      }
      if (prev !== last.hash) { this.bad = { seq, reason: `row ${seq} does not link to row ${last.seq} (prev differs from its hash)` }; return }
    }
    const row = r.row
    while (this.cpi < this.cps.length && this.cps[this.cpi].seq === row.seq) {
      const cp = this.cps[this.cpi++]
      if (cp.hash !== row.hash) {
        const from = this.cpi > 1 ? this.cps[this.cpi - 2].seq + 1 : 1
        this.bad = { seq: row.seq, reason: `row ${row.seq} differs from the signed checkpoint at that seq: rows ${from}..${row.seq} were rewritten` }
        return
      }
    }
    if (row.type === PURGE_TYPE) this.notePurge(row)
    if (row.type === ACK_TYPE) this.noteAck(row)
    if (row.type === STOP_TYPE) this.stops.push(row.seq)
    else if (row.type === START_TYPE) this.starts.push(row.seq)
    this.last = row
  }

  /**
   * Rule 6: a damaged row whose stored seq, prev and hash still fit is recorded as a break and
   * the chain goes on from its stored hash (the rows after it were chained to that hash).
   */
  private stepOver (text: string, seq: number, prev: string, reason: string): boolean {
    // A flipped byte may break the JSON itself: the chain fields come last in a canonical row
    // (keys sorted, after `detail`), so their last occurrences are the row's own.
    const last = (re: RegExp): string | undefined => [...text.matchAll(re)].pop()?.[1]
    const stored = { seq: Number(last(/"seq":(\d+)[,}]/g)), prev: last(/"prev":"([0-9a-f]{64})"/g), hash: last(/"hash":"([0-9a-f]{64})"/g) }
    if (stored?.seq !== seq || stored?.prev !== prev || typeof stored?.hash !== 'string' || !HEX64.test(stored.hash)) return false
    while (this.cpi < this.cps.length && this.cps[this.cpi].seq === seq) {
      if (this.cps[this.cpi++].hash !== stored.hash) return false
    }
    this.breaks.push({ seq, reason: `row ${seq} is damaged: ${reason}` })
    this.last = { seq, hash: stored.hash } as AuditRow
    return true
  }

  private noteAck (row: AuditRow): void {
    const { seq, reason } = row.detail as { seq?: unknown, reason?: unknown }
    if (Number.isSafeInteger(seq) && (seq as number) < row.seq && typeof reason === 'string') {
      this.acks.push({ seq: row.seq, hash: row.hash, target: seq as number, note: reason })
    }
  }

  private notePurge (row: AuditRow): void {
    const { throughSeq, anchor } = row.detail as { throughSeq?: unknown, anchor?: unknown }
    if (Number.isSafeInteger(throughSeq) && (throughSeq as number) >= 1 && (throughSeq as number) < row.seq && typeof anchor === 'string' && HEX64.test(anchor)) {
      this.purges.push({ seq: row.seq, hash: row.hash, throughSeq: throughSeq as number, anchor })
    }
  }
}

/** Parses and verifies `checkpoints.jsonl`; bad lines are returned as failures with their seq. */
async function readCheckpoints (text: string, key: PublicKey): Promise<{ cps: Checkpoint[], bad?: Bad }> {
  const cps: Checkpoint[] = []
  let bad: Bad | undefined
  const lines = text.split('\n')
  const torn = lines.pop() as string
  for (let i = 0; i < lines.length; i++) {
    const r = await checkCheckpointLine(lines[i], key)
    if ('cp' in r) cps.push(r.cp)
    else if (bad === undefined || (r.seq ?? Infinity) < (bad.seq ?? Infinity)) bad = { seq: r.seq ?? null, reason: `checkpoints.jsonl line ${i + 1}: ${r.reason}` }
  }
  if (torn !== '' && bad === undefined) bad = { seq: null, reason: `checkpoints.jsonl line ${lines.length + 1} is incomplete (a torn write)` }
  return { cps, bad }
}

export interface VerifyInput {
  /** The log's bytes, whole or as chunks. */
  events: Uint8Array | AsyncIterable<Uint8Array>
  checkpoints: string
  publicKey: PublicKey
  /** The head a running daemon holds; the file must end there. */
  expectHead?: AuditHead
  /** The last checkpoint a running daemon wrote or loaded; the checkpoints file must hold it. */
  expectCheckpoint?: AuditHead
}

/** Verifies a log and its checkpoints (rules in the module doc). */
export async function verifyAudit (input: VerifyInput): Promise<VerifyResult> {
  const { cps, bad: cpBad } = await readCheckpoints(input.checkpoints, input.publicKey)
  const v = new ChainVerifier(cps, input.expectHead, input.expectCheckpoint)
  const decoder = new TextDecoder('utf-8')
  if (input.events instanceof Uint8Array) {
    v.push(decoder.decode(input.events))
  } else {
    for await (const chunk of input.events) {
      v.push(decoder.decode(chunk, { stream: true }))
      // Long logs: let the event loop breathe between chunks.
      await new Promise(resolve => setImmediate(resolve))
    }
    v.push(decoder.decode())
  }
  const result = v.end()
  if (cpBad !== undefined && (result.ok || (cpBad.seq ?? Infinity) < (result.firstBadSeq ?? Infinity))) {
    return { ...result, ok: false, firstBadSeq: cpBad.seq, reason: cpBad.reason }
  }
  return result
}

/** Reads an open log file in chunks of `chunkBytes`, from byte `from` up to byte `length`. */
export async function * readChunks (fh: import('node:fs/promises').FileHandle, length: number, from = 0, chunkBytes = READ_CHUNK_BYTES): AsyncIterable<Uint8Array> {
  let pos = from
  while (pos < length) {
    const n = Math.min(chunkBytes, length - pos)
    const buf = Buffer.allocUnsafe(n)
    const { bytesRead } = await fh.read(buf, 0, n, pos)
    if (bytesRead === 0) return
    pos += bytesRead
    yield buf.subarray(0, bytesRead)
  }
}

/** Verifies the files of an audit directory as they are on disk (no daemon needed). */
export async function verifyAuditFiles (eventsPath: string, checkpointsPath: string, publicKey: PublicKey): Promise<VerifyResult> {
  const checkpoints = await readFile(checkpointsPath, 'utf8').catch(err => { if (err.code === 'ENOENT') return ''; throw err })
  let fh
  try {
    fh = await open(eventsPath, 'r')
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    return await verifyAudit({ events: new Uint8Array(0), checkpoints, publicKey })
  }
  try {
    const { size } = await fh.stat()
    return await verifyAudit({ events: readChunks(fh, size), checkpoints, publicKey })
  } finally {
    await fh.close()
  }
}
