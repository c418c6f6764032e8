/**
 * Capability checks in front of our mesh protocols (DESIGN §9): a libp2p stream middleware
 * (`node.use()`) refuses an inbound stream from a peer that holds no valid grant of the
 * protocol's command at all, before the handler sees a byte; the refusal is an audit row. Finer
 * checks (which mailbox an envelope is for) stay with the handler, through the same `check()`.
 *
 * libp2p 3.3.11 appends the protocol's handler to the *registered* middleware array on every
 * inbound stream (js-libp2p PR #3534, not released), so with `use()` a handler would run once
 * more for each stream served before, and outbound streams would be fed to the inbound handler.
 * `guardMeshProtocol()` therefore registers the handler itself and keeps the chain bounded: the
 * guard trims the appended copies (all identical) to the newest one, and the handler runs once
 * per inbound stream and never for outbound ones. Do not call `handle()` for a guarded protocol.
 */
import type { Connection, Libp2p, Stream, StreamHandler, StreamHandlerOptions, StreamMiddleware } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { forbidden } from '../../protocol/index.js'
import type { AuditEvent } from '../audit/index.js'
import type { Capabilities } from './capabilities.js'
import type { CapCommand } from './grant.js'

export interface GuardOptions {
  /** e.g. `/sov/a2a/1.0.0` */
  protocol: string
  /** The command a peer needs a grant of (any mailbox) to open a stream, e.g. `/a2a/send`. */
  cmd: CapCommand
  caps: Capabilities
  /** Writes an audit row durably (a refusal is recorded before the stream is reset). */
  audit: (ev: AuditEvent) => Promise<unknown>
  /** Runs once per admitted inbound stream. */
  handler: StreamHandler
  handleOptions?: StreamHandlerOptions
  /**
   * The one message (sent length-prefixed, then the stream is closed) that tells a refused peer
   * why, in the protocol's own words; without it the stream is reset. Nothing is read from it.
   */
  answer?: (reason: string) => Uint8Array
}

/** How long a refused stream may stay half-open for its answer to be read. @default 2 s */
export const REFUSED_STREAM_LINGER_MS = 2000

export type MeshLike = Pick<Libp2p, 'use' | 'unuse' | 'handle' | 'unhandle'>

/** Installs the guard and the handler; returns a function that removes both. */
export async function guardMeshProtocol (mesh: MeshLike, opts: GuardOptions): Promise<() => Promise<void>> {
  const { protocol, cmd, caps, audit, handler } = opts
  const chain: StreamMiddleware[] = []
  const seen = new WeakSet<Stream>()

  const guard: StreamMiddleware = (stream: Stream, connection: Connection, next) => {
    if (stream.direction !== 'inbound') { next(stream, connection); return }
    // Must stay synchronous up to here: trim libp2p's appended handler copies to the newest.
    if (chain.length > 2) chain.splice(1, chain.length - 2)
    const peer = connection.remotePeer.toString()
    const r = caps.check({ aud: peer, cmd })
    if (r.ok) { next(stream, connection); return }
    return (async () => {
      await audit({ type: 'MESH_STREAM_REFUSED', actor: `peer:${peer}`, outcome: 'denied', detail: { protocol, cmd, reason: r.reason } })
        .catch(() => { /* the refusal stands whether or not the row could be written */ })
      if (opts.answer !== undefined) {
        // Answer, stop reading (unread bytes are dropped) and close; a reset would drop the answer.
        const linger = setTimeout(() => { stream.abort(forbidden(`Cannot open ${protocol}: refused`)) }, REFUSED_STREAM_LINGER_MS)
        linger.unref()
        try {
          await lpStream(stream).write(opts.answer(r.reason), { signal: AbortSignal.timeout(REFUSED_STREAM_LINGER_MS) })
          await stream.closeRead()
          await stream.close({ signal: AbortSignal.timeout(REFUSED_STREAM_LINGER_MS) })
        } catch {
          clearTimeout(linger)
          stream.abort(forbidden(`Cannot open ${protocol}: refused`))
        }
        return
      }
      // Throwing makes libp2p abort (reset) the stream.
      throw forbidden(`Cannot open ${protocol}: ${r.reason}`)
    })()
  }
  chain.push(guard)

  const once: StreamHandler = async (stream, connection) => {
    if (stream.direction !== 'inbound' || seen.has(stream)) return
    seen.add(stream)
    await handler(stream, connection)
  }
  await mesh.handle(protocol, once, opts.handleOptions)
  mesh.use(protocol, chain)
  return async () => {
    mesh.unuse(protocol)
    await mesh.unhandle(protocol)
  }
}
