/**
 * Where a tail after a seq starts reading `events.jsonl` (`audit.tail {afterSeq}`, `sov audit
 * tail --follow` behind the in-memory window). Rows are stored in seq order, so the offset is
 * found by bisection, one 64 KiB read per probe, instead of reading and hashing the whole file
 * for each request: 64 pipelined tails on a 200k-row log held a daemon for two minutes (helper
 * finding, stop 25).
 */
import type { FileHandle } from 'node:fs/promises'

/** Bytes read per probe: a whole line (≤ 16 KiB of detail and its row) always fits after the cut. */
const PROBE_BYTES = 64 * 1024

/**
 * A line start at or before the first row with `seq > afterSeq`: every line before it has a
 * smaller or equal seq, so reading on from it misses nothing. A probe whose line cannot be parsed
 * (a damaged row) ends the search where it stands. Returns the bytes it read too.
 */
export async function offsetBefore (fh: FileHandle, size: number, afterSeq: number): Promise<{ offset: number, bytesRead: number }> {
  let lo = 0
  let hi = size
  let read = 0
  const buf = Buffer.allocUnsafe(PROBE_BYTES)
  while (hi - lo > PROBE_BYTES) {
    const mid = lo + Math.floor((hi - lo) / 2)
    const { bytesRead } = await fh.read(buf, 0, Math.min(PROBE_BYTES, size - mid), mid)
    read += bytesRead
    const got = buf.subarray(0, bytesRead)
    const nl = got.indexOf(0x0a)
    const end = nl < 0 ? -1 : got.indexOf(0x0a, nl + 1)
    const start = mid + nl + 1
    if (end < 0 || start >= hi) {
      // No whole line starts between mid and hi: look in the lower half (lo stays valid).
      hi = mid
      continue
    }
    const seq = lineSeq(got.toString('utf8', nl + 1, end))
    if (seq === undefined) break
    if (seq <= afterSeq) lo = start
    else hi = start
  }
  return { offset: lo, bytesRead: read }
}

/** The row's own `seq` (a detail may hold a member named seq too), or undefined. */
function lineSeq (line: string): number | undefined {
  try {
    const seq = JSON.parse(line)?.seq
    return Number.isSafeInteger(seq) ? seq : undefined
  } catch {
    return undefined
  }
}
