/**
 * Caller side of `/sov/a2a-task/1.1.0`: one stream to a peer carrying many requests at once, each
 * frame tagged with its request id (`rid`), the answers dispatched to their request as they are
 * read. It replaces a stream per call (issue 11 performance: each new stream cost a
 * multistream-select round trip, peer-store writes on both nodes and about ten more frames).
 *
 * The stream is given up when it stays silent for `3 × WAIT_HEARTBEAT_MS` while a request is open
 * (the callee beats every `WAIT_HEARTBEAT_MS`), and closed after `SESSION_IDLE_CLOSE_MS` with no
 * request open. When it ends, every open request hears of it (`end`), once.
 */
import type { Stream } from '@libp2p/interface'
import { lengthPrefixed } from '../../mesh/index.js'
import { MAX_SESSION_REQUESTS, MAX_TASK_FRAME_BYTES, parseTaskAnswer, splitRid, type TaskAnswer, type TaskRequest } from '../../protocol/index.js'
import { WAIT_HEARTBEAT_MS } from './serve.js'

/** A session with no open request for this long is closed (a new one opens with the next call). @default 10 s */
export const SESSION_IDLE_CLOSE_MS = 10_000
/** Longest wait for one request frame to be written. @default 10 s */
const WRITE_TIMEOUT_MS = 10_000

/** Who hears a request's answers: each one in order, or once the end of the stream. */
export interface RequestHandler {
  answer: (a: TaskAnswer) => void
  end: (err: Error) => void
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export class TaskSession {
  private readonly lp: ReturnType<typeof lengthPrefixed>
  private readonly requests = new Map<number, RequestHandler>()
  private nextRid = 0
  private lastHeard = Date.now()
  private idle?: ReturnType<typeof setTimeout>
  private readonly live: ReturnType<typeof setInterval>
  private ended = false

  /** `onEnd` runs once when the stream is over (closed, reset or given up). */
  constructor (private readonly stream: Stream, private readonly onEnd: () => void) {
    this.lp = lengthPrefixed(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
    this.live = setInterval(() => {
      if (this.requests.size > 0 && Date.now() - this.lastHeard > 3 * WAIT_HEARTBEAT_MS) this.abort(new Error(`no frame for ${3 * WAIT_HEARTBEAT_MS} ms`))
    }, WAIT_HEARTBEAT_MS)
    this.live.unref()
    this.armIdle()
    void this.read()
  }

  /** Takes new requests: open, and fewer than `MAX_SESSION_REQUESTS` in flight. */
  get usable (): boolean { return !this.ended && this.requests.size < MAX_SESSION_REQUESTS }

  /**
   * Sends `req`; `handler` gets its answers. Returns `forget` (call it after the last answer you
   * want: later ones are dropped) and `sent`, which rejects when the frame cannot be written (the
   * session is then over, and `handler.end` was called too).
   */
  request (req: TaskRequest, handler: RequestHandler): { forget: () => void, sent: Promise<void> } {
    if (!this.usable) throw new Error('the task session is closed or full')
    const rid = this.nextRid++
    // The silence clock runs only while something is awaited.
    if (this.requests.size === 0) this.lastHeard = Date.now()
    this.requests.set(rid, handler)
    clearTimeout(this.idle)
    const forget = (): void => {
      if (!this.requests.delete(rid)) return
      if (this.requests.size === 0) this.armIdle()
    }
    const sent = this.lp.write(encoder.encode(JSON.stringify({ ...req, rid })), { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) })
      .catch((err: Error) => { this.abort(err); throw err })
    return { forget, sent }
  }

  /** Resets the stream; every open request hears `err`. Idempotent. */
  abort (err: Error): void {
    if (this.ended) return
    this.stream.abort(err)
    this.finish(err)
  }

  private armIdle (): void {
    clearTimeout(this.idle)
    this.idle = setTimeout(() => {
      if (this.requests.size > 0 || this.ended) return
      // Marked over first, so no new request picks a stream that is closing.
      this.finish(new Error('the task session closed (idle)'))
      this.stream.close({ signal: AbortSignal.timeout(5000) }).catch(err => { this.stream.abort(err) })
    }, SESSION_IDLE_CLOSE_MS)
    this.idle.unref()
  }

  private async read (): Promise<void> {
    try {
      for (;;) {
        const frame = await this.lp.read()
        this.lastHeard = Date.now()
        const { rid, rest } = splitRid(JSON.parse(utf8.decode(frame.subarray())))
        const answer = parseTaskAnswer(rest)
        if (rid === undefined) {
          if (answer.type === 'wait') continue
          throw new Error(answer.type === 'error' ? `error[${answer.code}]: ${answer.reason}` : `answer "${answer.type}" without a rid`)
        }
        // Unknown: a request this side gave up on; what the callee still sends for it is dropped.
        this.requests.get(rid)?.answer(answer)
      }
    } catch (err) {
      this.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private finish (err: Error): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.idle)
    clearInterval(this.live)
    const open = [...this.requests.values()]
    this.requests.clear()
    for (const h of open) {
      try { h.end(err) } catch (e) { console.error('a2a: task session handler failed:', (e as Error).message) }
    }
    this.onEnd()
  }
}
