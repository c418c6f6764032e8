/**
 * IPC framing (DESIGN §6): 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 */
import { badRequest, tooLarge } from './errors.js'

/** Largest IPC frame body accepted, in bytes. @default 4 MiB */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024

export function encodeFrame (value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  if (body.length > MAX_FRAME_BYTES) {
    throw tooLarge(`Cannot send frame: ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`)
  }
  const head = Buffer.allocUnsafe(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

/**
 * Incremental decoder: `push()` bytes as they arrive, get back every complete frame parsed as
 * JSON. Throws `TOO_LARGE` for a declared length over the limit (before buffering it) and
 * `BAD_REQUEST` for a body that is not JSON; after a throw the stream is unusable and the
 * caller closes it.
 */
export class FrameDecoder {
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly maxBytes: number

  constructor (maxBytes = MAX_FRAME_BYTES) {
    this.maxBytes = maxBytes
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending (): number { return this.buffered }

  push (chunk: Buffer): unknown[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const out: unknown[] = []
    while (this.buffered >= 4) {
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
      this.chunks = [all]
      const length = all.readUInt32BE(0)
      if (length > this.maxBytes) {
        throw tooLarge(`Cannot read frame: length ${length} exceeds ${this.maxBytes}`)
      }
      if (all.length < 4 + length) break
      const body = all.subarray(4, 4 + length)
      const rest = all.subarray(4 + length)
      this.chunks = rest.length > 0 ? [rest] : []
      this.buffered = rest.length
      try {
        out.push(JSON.parse(body.toString('utf8')))
      } catch (cause) {
        throw badRequest('Cannot parse frame: body is not valid JSON', { cause })
      }
    }
    return out
  }
}
