/**
 * The receiving end of `/sov/a2a/1.0.0`: reads varint-length-prefixed JSON envelopes, checks
 * each one, commits what arrived together in one transaction and only once that is on disk
 * (group commit with every other stream, `MailboxStore.durable`) writes the replies, in arrival
 * order. Whatever a peer sends can end its own stream but never the node.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lengthPrefixed } from '../mesh/index.js'
import {
  parseEnvelope, type A2AReply, type ErrorCode
} from '../protocol/index.js'
import type { AcceptInput, MailboxStore } from './store.js'
import { report, type AuditSink, type Authorize } from './types.js'

/** Room in a stream's read buffer beyond one envelope, for pipelined frames. @default 4 MiB */
export const RECEIVE_BUFFER_SLACK_BYTES = 4 * 1024 * 1024
/** Frames read but not yet committed before reading pauses. @default 2 MiB */
export const RECEIVE_PENDING_MAX_BYTES = 2 * 1024 * 1024
/** Time given to a refusal to leave before a stream is torn down. @default 2 s */
export const CLOSE_GRACE_MS = 2000
/** Time a sender has to take our replies before the stream is given up. @default 30 s */
export const REPLY_WRITE_TIMEOUT_MS = 30_000

export interface ReceiverInit {
  store: MailboxStore
  authorize: Authorize
  audit: AuditSink
  maxEnvelopeBytes: number
  /** Called after a commit with the mailboxes that got new messages. */
  onAccepted: (mailboxes: Set<string>) => void
}

/** A frame as lengthPrefixed hands it out (a Uint8ArrayList, typed through lengthPrefixed to stay on its copy). */
type Frame = Awaited<ReturnType<ReturnType<typeof lengthPrefixed>['read']>>

interface Pending { frame: Frame }

interface Verdict {
  reply: A2AReply
  accept?: AcceptInput
  mailbox?: string
  bytes: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

export class Receiver {
  private readonly init: ReceiverInit
  private readonly streams = new Set<Stream>()

  constructor (init: ReceiverInit) {
    this.init = init
  }

  /** Aborts every open inbound stream (their unanswered envelopes will be sent again). */
  closeAll (): void {
    for (const s of this.streams) s.abort(new Error('a2a receiver stopping'))
    this.streams.clear()
  }

  /** The libp2p stream handler. */
  handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const sender = connection.remotePeer.toString()
    const max = this.init.maxEnvelopeBytes
    const lp = lengthPrefixed(stream, { maxDataLength: max, maxBufferSize: max + RECEIVE_BUFFER_SLACK_BYTES })
    this.streams.add(stream)
    const pending: Pending[] = []
    let pendingBytes = 0
    let worker: Promise<void> | undefined
    let fatal: Verdict | undefined

    const work = async (): Promise<void> => {
      // Let every frame that has already arrived be read first: they share one commit.
      await new Promise(resolve => setImmediate(resolve))
      while (pending.length > 0) {
        const batch = pending.splice(0)
        pendingBytes -= batch.reduce((n, p) => n + p.frame.byteLength, 0)
        const replies = await this.process(sender, batch)
        // A consumer woken by this commit leases and is answered before the replies are
        // encrypted and written (~0.3 ms of p50 latency, issue 15 §2): the sender's settling is
        // bookkeeping, the envelopes are on disk already.
        await new Promise(resolve => setImmediate(resolve))
        await lp.writeV(replies.map(r => encoder.encode(JSON.stringify(r))), { signal: AbortSignal.timeout(REPLY_WRITE_TIMEOUT_MS) })
      }
    }
    const kick = (): void => {
      // A failed write means the stream is gone: abort it so the read loop ends too.
      worker ??= work().catch(err => { stream.abort(err instanceof Error ? err : new Error(String(err))) })
        .finally(() => { worker = undefined; if (pending.length > 0 && stream.status === 'open') kick() })
    }

    try {
      for (;;) {
        let frame: Frame
        try {
          frame = await lp.read()
        } catch (err: any) {
          if (err?.name === 'InvalidDataLengthError' || err?.name === 'InvalidDataLengthLengthError' || err?.name === 'InvalidMessageLengthError') {
            fatal = { reply: { id: null, status: 'rejected', code: 'TOO_LARGE', reason: `Cannot accept envelope: frame exceeds ${max} bytes` }, bytes: 0 }
          }
          break // UnexpectedEOFError: the sender closed its side; anything else: the stream died
        }
        pending.push({ frame })
        pendingBytes += frame.byteLength
        kick()
        if (pendingBytes > RECEIVE_PENDING_MAX_BYTES && worker !== undefined) await worker
      }
      while (worker !== undefined) await worker
      if (fatal !== undefined) {
        await this.refused(sender, fatal)
        await lp.write(encoder.encode(JSON.stringify(fatal.reply)), { signal: AbortSignal.timeout(CLOSE_GRACE_MS) })
      }
      await stream.close({ signal: AbortSignal.timeout(CLOSE_GRACE_MS) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.streams.delete(stream)
      // After a refusal that ends the stream, stop reading what the peer still sends.
      if (fatal !== undefined && stream.status === 'open') stream.abort(new Error('a2a: frame too large'))
    }
  }

  private async process (sender: string, batch: Pending[]): Promise<A2AReply[]> {
    const verdicts: Verdict[] = []
    const rows: Array<Promise<string | undefined>> = []
    for (const p of batch) verdicts.push(await this.check(sender, p.frame))
    const toCommit = verdicts.filter(v => v.accept !== undefined)
    if (toCommit.length > 0) {
      let outcomes: string[]
      try {
        outcomes = this.init.store.accept(toCommit.map(v => v.accept!))
        // Group commit: on disk before any of them is answered (or its consumer woken).
        await this.init.store.durable().catch(err => {
          try { this.init.store.unaccept(toCommit.filter((_, i) => outcomes[i] === 'accepted').map(v => v.accept!.id)) } catch { /* the disk is failing */ }
          throw err
        })
      } catch (err) {
        // The disk said no (full, I/O): nothing was committed; the sender retries later.
        const reason = `Cannot commit envelope: ${(err as Error).message}`
        outcomes = toCommit.map(() => 'error')
        for (const v of toCommit) v.reply = { id: v.reply.id, status: 'rejected', code: 'UNAVAILABLE', reason }
      }
      // Consumers first: their wait is the latency users see; the audit rows and the replies
      // (bookkeeping for the sender) follow (issue 15 §2).
      const woke = new Set<string>()
      toCommit.forEach((v, i) => { if (outcomes[i] === 'accepted') woke.add(v.mailbox!) })
      if (woke.size > 0) this.init.onAccepted(woke)
      toCommit.forEach((v, i) => {
        if (outcomes[i] === 'accepted') {
          // Resolves with the id once its row is durable, undefined when it could not be written.
          rows.push((async () => {
            try {
              await this.init.audit({ type: 'A2A_ACCEPTED', actor: `peer:${sender}`, outcome: 'ok', detail: { id: v.reply.id, mailbox: v.mailbox, bytes: v.bytes } })
              return v.reply.id!
            } catch (err) {
              console.error('a2a: cannot write audit row A2A_ACCEPTED:', (err as Error)?.message ?? err)
              return undefined
            }
          })())
        } else if (outcomes[i] === 'duplicate') {
          v.reply = { id: v.reply.id, status: 'duplicate' }
        } else if (outcomes[i] === 'conflict') {
          v.reply = conflictReply(v.reply.id!)
        }
      })
    }
    // Not waited for by the replies (the envelopes are on disk): what a crash leaves unrecorded
    // is recorded at the next start (`Mailboxes.recordUnaudited`).
    if (rows.length > 0) {
      void Promise.all(rows).then(ids => {
        try { this.init.store.audited(ids.filter((id): id is string => id !== undefined)) } catch { /* checked again at the next start */ }
      })
    }
    // Refusals are reported (and made durable by the sink) before they are answered.
    for (const v of verdicts) if (v.reply.status === 'rejected') await this.refused(sender, v)
    return verdicts.map(v => v.reply)
  }

  private async check (sender: string, frame: Frame): Promise<Verdict> {
    const bytes = frame.byteLength
    let raw: any
    try {
      raw = JSON.parse(utf8.decode(frame.subarray()))
    } catch {
      return reject(null, 'BAD_REQUEST', 'Cannot parse envelope: not valid UTF-8 JSON', bytes)
    }
    // Echoed into the reply and the audit row: only well-formed text (a lone surrogate would make
    // the row unverifiable outside, RFC 8785 §3.2.2.2).
    const echoId = typeof raw?.id === 'string' && raw.id.length <= 64 && raw.id.isWellFormed() ? raw.id as string : null
    let env
    try {
      env = parseEnvelope(raw)
    } catch (err) {
      return reject(echoId, 'BAD_REQUEST', (err as Error).message, bytes, typeof raw?.mailbox === 'string' && raw.mailbox.isWellFormed() ? raw.mailbox.slice(0, 64).toWellFormed() : undefined)
    }
    let auth
    try {
      auth = await this.init.authorize(sender, env.mailbox)
    } catch (err) {
      return reject(env.id, 'UNAVAILABLE', `Cannot check authorisation: ${(err as Error).message}`, bytes, env.mailbox)
    }
    if (!auth.ok) {
      // An id we already hold from this sender is answered "duplicate" even if its grant has
      // since gone: the envelope was delivered while the grant was valid. (Granted envelopes
      // are de-duplicated by the commit itself: one lookup fewer per message, issue 15.)
      const seenFrom = this.init.store.acceptedFrom(env.id)
      if (seenFrom === sender) return { reply: { id: env.id, status: 'duplicate' }, bytes }
      if (seenFrom !== undefined) return { ...conflictVerdict(env.id, bytes), mailbox: env.mailbox }
      return reject(env.id, 'FORBIDDEN', `Cannot deliver to mailbox "${env.mailbox}": ${auth.reason}`, bytes, env.mailbox)
    }
    return {
      reply: { id: env.id, status: 'accepted' },
      accept: { id: env.id, sender, mailbox: env.mailbox, ts: env.ts, ttl: env.ttl, message: JSON.stringify(env.message), bytes },
      mailbox: env.mailbox,
      bytes
    }
  }

  private async refused (sender: string, v: Verdict): Promise<void> {
    await report(this.init.audit, {
      type: 'A2A_REJECTED',
      actor: `peer:${sender}`,
      outcome: 'denied',
      detail: { id: v.reply.id, mailbox: v.mailbox ?? null, code: v.reply.code, reason: v.reply.reason, bytes: v.bytes }
    })
  }
}

function reject (id: string | null, code: ErrorCode, reason: string, bytes: number, mailbox?: string): Verdict {
  // A cut may split a surrogate pair: keep the text well-formed (it goes into an audit row).
  return { reply: { id, status: 'rejected', code, reason: reason.slice(0, 1024).toWellFormed() }, bytes, mailbox }
}

function conflictReply (id: string): A2AReply {
  return { id, status: 'rejected', code: 'CONFLICT', reason: `Cannot accept envelope "${id}": another peer already delivered that id` }
}

function conflictVerdict (id: string, bytes: number): Verdict {
  return { reply: conflictReply(id), bytes }
}

/**
 * The one reply a guard in front of `/sov/a2a/1.0.0` sends on a stream it refuses (the peer holds
 * no `/a2a/send` grant at all): `{"id":null,"status":"rejected","code":"FORBIDDEN","reason"}`,
 * UTF-8 JSON without its length prefix. The sender fails every envelope it wrote on that stream
 * with the reason, and backs the peer off (issue 10 §3).
 */
export function streamRefusal (reason: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ id: null, status: 'rejected', code: 'FORBIDDEN', reason: reason.slice(0, 1024).toWellFormed() }))
}
