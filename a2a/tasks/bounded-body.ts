/**
 * Bounds on what the node reads from an agent's HTTP answers (helper finding, stop 26): a card or
 * JSON-RPC answer that never ended was read whole into memory (3.5 GB on the callee before the
 * call's 60 s timeout), and the limits were checked only after. Reading now stops, and the
 * request is abandoned, as soon as an answer passes its bound:
 * - a whole body (a card, a JSON-RPC answer): `maxBytes` in all;
 * - an SSE stream (`text/event-stream`): `maxBytes` per event, counted from the last blank line,
 *   so a task may stream for hours but no single event (nor an event that never ends) can grow.
 */
import { tooLarge } from '../../protocol/index.js'

/**
 * `body` passed through a counter that errors it with `error[TOO_LARGE]` naming `what` once
 * `maxBytes` is passed (per event with `sse`). `onOver` is called then (to drop the connection).
 */
export function boundedBody (body: ReadableStream<Uint8Array>, opts: { maxBytes: number, sse: boolean, what: string, onOver?: () => void }): ReadableStream<Uint8Array> {
  let count = 0
  const lines: LineEnds = { ends: 0, cr: false }
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform (chunk, c) {
      const at = opts.sse ? lastBoundaryEnd(lines, chunk) : -1
      count = at < 0 ? count + chunk.byteLength : chunk.byteLength - at
      if (count > opts.maxBytes) {
        opts.onOver?.()
        c.error(tooLarge(`Cannot read ${opts.what}: it passed ${opts.maxBytes} bytes${opts.sse ? ' in one event' : ''}, more than the node takes (send large content as a file URL)`))
        return
      }
      c.enqueue(chunk)
    }
  }))
}

/** Reads a whole bounded body as UTF-8 text (`boundedBody` without SSE). */
export async function readBounded (body: ReadableStream<Uint8Array> | null, maxBytes: number, what: string, onOver?: () => void): Promise<string> {
  if (body === null) return ''
  const chunks: Uint8Array[] = []
  for await (const chunk of boundedBody(body, { maxBytes, sse: false, what, onOver })) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** Line ends in a row at the end of what was read so far, and whether the last byte was \r. */
interface LineEnds { ends: number, cr: boolean }

/**
 * The offset in `chunk` just past its last blank line (an SSE event boundary: two line ends in a
 * row, each \n, \r or \r\n, WHATWG HTML §9.2.6), or -1; `state` carries the line ends across chunks.
 */
function lastBoundaryEnd (state: LineEnds, chunk: Uint8Array): number {
  let last = -1
  for (let i = 0; i < chunk.byteLength; i++) {
    const b = chunk[i]
    if (b === 0x0a && state.cr) { state.cr = false; continue } // the \n of a \r\n
    if (b === 0x0a || b === 0x0d) {
      state.cr = b === 0x0d
      if (++state.ends >= 2) last = i + 1
    } else {
      state.ends = 0
      state.cr = false
    }
  }
  return last
}
