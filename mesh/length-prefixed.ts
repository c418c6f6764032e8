/**
 * `lpStream` (@libp2p/utils 7.x) with a length decoder that builds no `Error` per frame.
 *
 * lpStream reads a frame's unsigned-varint length one byte at a time and calls its decoder after
 * each byte; an incomplete varint must throw a `RangeError`, and the stock decoder throws a new
 * one, its stack captured, for every frame of 128 bytes or more. Under load that was 8 % of a
 * receiving daemon's CPU (issue 15 profile). Ours throws one shared `RangeError`.
 *
 * It also ends a length prefix longer than `maxDataLength` can need: lpStream then refuses the
 * frame (`InvalidDataLengthLengthError`), where the stock decoder read continuation bytes for as
 * long as the peer sent them.
 */
import type { MessageStream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream, type LengthPrefixedStreamOpts } from '@libp2p/utils'

type LengthBytes = Parameters<LengthPrefixedStreamOpts['lengthDecoder']>[0]

/** Thrown for every incomplete length: lpStream only tests `instanceof RangeError` and reads on. */
const INCOMPLETE = new RangeError('incomplete varint length prefix')

/** Bytes of an unsigned varint up to `max` (7 bits a byte). */
export function varintBytes (max: number): number {
  let n = 1
  for (let v = max; v >= 128; v = Math.floor(v / 128)) n++
  return n
}

/**
 * A decoder for lpStream: the frame length once the varint in `data` is complete, else throws
 * `INCOMPLETE`. Past `maxLengthLength` bytes it returns `Number.MAX_SAFE_INTEGER`, which lpStream
 * refuses as too long a length.
 */
export function lengthDecoder (maxLengthLength: number): (data: LengthBytes) => number {
  return data => {
    const n = data.byteLength
    if (n > maxLengthLength) return Number.MAX_SAFE_INTEGER
    if (n === 0 || (data.get(n - 1) & 0x80) !== 0) throw INCOMPLETE
    let value = 0
    for (let i = 0, scale = 1; i < n; i++, scale *= 128) value += (data.get(i) & 0x7f) * scale
    return value
  }
}

/** `lpStream(stream, opts)` with `lengthDecoder`; same options (`maxDataLength` in bytes). */
export function lengthPrefixed<T extends MessageStream> (stream: T, opts: Partial<Omit<LengthPrefixedStreamOpts, 'lengthDecoder'>> = {}): LengthPrefixedStream<T> {
  const maxLengthLength = opts.maxLengthLength ?? varintBytes(opts.maxDataLength ?? Number.MAX_SAFE_INTEGER)
  return lpStream(stream, { ...opts, maxLengthLength, lengthDecoder: lengthDecoder(maxLengthLength) })
}
