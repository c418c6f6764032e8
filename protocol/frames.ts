/**
 * IPC framing (DESIGN §6): 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 */
import { badRequest, tooLarge } from './errors.js'

/** Largest IPC frame body accepted, in bytes. @default 4 MiB */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Largest first frame (`hello`: a token and a version) a server accepts, in bytes. @default 16 KiB */
export const MAX_HELLO_BYTES = 16 * 1024
/**
 * Stored message bytes one `a2a.receive` hands out at most (the first message always goes, and an
 * envelope is at most 1 MiB): the reply, with its per-item fields and JSON escaping, stays under
 * the 4 MiB IPC frame (issue 10). @default 2 MiB
 */
export const RECEIVE_MAX_BYTES = 2 * 1024 * 1024

/**
 * Bytes of item JSON one list answer (`a2a.outbox`, `a2a.dead`, `a2a.mailboxes`, `audit.tail`)
 * carries at most, the first item always: like a receive, a list is cut well inside one IPC frame,
 * so no answer is too large to send (helper finding, stop 29: `a2a dead` of big messages, an outbox
 * of 47k rows and 45k mailboxes all failed "Cannot send frame"). @default 2 MiB
 */
export const LIST_MAX_BYTES = 2 * 1024 * 1024

/**
 * The items of `items` whose JSON fits `LIST_MAX_BYTES`, at least one: the first ones, or with
 * `newest` the last ones (in their order).
 */
export function fitList<T> (items: T[], newest = false): T[] {
  let bytes = 0
  let kept = 0
  for (let k = 0; k < items.length; k++) {
    bytes += JSON.stringify(items[newest ? items.length - 1 - k : k]).length
    if (kept > 0 && bytes > LIST_MAX_BYTES) break
    kept++
  }
  return newest ? items.slice(items.length - kept) : items.slice(0, kept)
}

/** The frame of `value`: its JSON encoded straight into the buffer after the length (one copy). */
export function encodeFrame (value: unknown): Buffer {
  const text = JSON.stringify(value)
  const length = Buffer.byteLength(text, 'utf8')
  if (length > MAX_FRAME_BYTES) {
    throw tooLarge(`Cannot send frame: ${length} bytes exceeds ${MAX_FRAME_BYTES}`)
  }
  const frame = Buffer.allocUnsafe(4 + length)
  frame.writeUInt32BE(length, 0)
  frame.write(text, 4, 'utf8')
  return frame
}

/**
 * Incremental decoder: `push()` bytes as they arrive, get back every complete frame parsed as
 * JSON. Throws `TOO_LARGE` for a declared length over the limit (before buffering it) and
 * `BAD_REQUEST` for a body that is not JSON; after a throw the stream is unusable and the
 * caller closes it. The chunks of a frame are joined once, when it is complete: joining them at
 * every chunk copied a 4 MiB frame read in 64 KiB pieces ~32 times over (128 MiB).
 */
export class FrameDecoder {
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly maxBytes: number
  private readonly firstMaxBytes: number
  private first = true

  /**
   * `firstMaxBytes`: a lower limit for the first frame only — a server's `hello`, which a client
   * that has not authenticated could otherwise make it buffer at the full `maxBytes` (helper
   * finding, stop 30: 250 such sockets held 1.1 GB of the daemon).
   */
  constructor (maxBytes = MAX_FRAME_BYTES, firstMaxBytes = maxBytes) {
    this.maxBytes = maxBytes
    this.firstMaxBytes = Math.min(firstMaxBytes, maxBytes)
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending (): number { return this.buffered }

  push (chunk: Buffer): unknown[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const out: unknown[] = []
    while (this.buffered >= 4) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)]
      const length = this.chunks[0].readUInt32BE(0)
      const limit = this.first ? this.firstMaxBytes : this.maxBytes
      if (length > limit) {
        throw tooLarge(`Cannot read frame: length ${length} exceeds ${limit}${limit < this.maxBytes ? ' (the first frame, hello)' : ''}`)
      }
      if (this.buffered < 4 + length) break
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
      const body = all.subarray(4, 4 + length)
      const rest = all.subarray(4 + length)
      this.chunks = rest.length > 0 ? [rest] : []
      this.buffered = rest.length
      this.first = false
      try {
        out.push(JSON.parse(body.toString('utf8')))
      } catch (cause) {
        throw badRequest('Cannot parse frame: body is not valid JSON', { cause })
      }
    }
    return out
  }
}
