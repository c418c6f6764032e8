/**
 * Our libp2p `ConnectionProtector`: the PSK v1 wire format of go-libp2p and `@libp2p/pnet`
 * (each side sends a 24-byte random nonce, then everything is XORed with the XSalsa20 keystream
 * of the swarm key and the sender's nonce), on libsodium through `sodium-native`.
 *
 * Why not `@libp2p/pnet` (DESIGN §5): its WASM XSalsa20 aborts a connection after ~50 MiB and
 * leaks pool slots per connection, and a wrong key surfaces as a generic error, often only after
 * the dial timeout. Here a wrong key is caught on the first bytes: the first thing either side
 * ever sends inside the PSK layer is a multistream-select header, so anything else decrypted is
 * a different key, and the upgrade is aborted at once with `SWARM_KEY_MISMATCH`.
 */
import sodium from 'sodium-native'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { AbortOptions, ConnectionProtector, Logger, MultiaddrConnection } from '@libp2p/interface'
import { swarmKeyMismatch, timeout } from '../protocol/index.js'
import { SWARM_KEY_BYTES } from './swarm-key.js'

export const NONCE_BYTES = 24
/** Writes up to this size are joined into one buffer before they reach the socket. @default 16 KiB */
const JOIN_MAX_BYTES = 16 * 1024
/** The varint-prefixed multistream-select header every libp2p peer sends first. */
const MSS_HEADER = Buffer.from('\x13/multistream/1.0.0\n', 'latin1')

/** After a mismatch, how long to wait for the peer to hang up before failing the upgrade anyway. */
export const MISMATCH_LINGER_MS = 250

/**
 * How long a connection may take to complete the PSK exchange: the peer's nonce and the first
 * bytes it encrypts with our key (its multistream header). A socket that stays silent, or sends
 * only a nonce, is dropped after this, freeing its handshake slot (issue 10 §3). @default 2 s
 */
export const PSK_HANDSHAKE_TIMEOUT_MS = 2000

export const SWARM_KEY_MISMATCH_MESSAGE = 'Cannot protect the connection: the peer uses a different swarm key (SWARM_KEY_MISMATCH)'

/** True when `err` (or anything it wraps) reports a swarm key mismatch. */
export function isSwarmKeyMismatch (err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 5) return false
  const e = err as { code?: unknown, message?: unknown, cause?: unknown, errors?: unknown }
  if (e.code === 'SWARM_KEY_MISMATCH') return true
  if (typeof e.message === 'string' && e.message.includes('(SWARM_KEY_MISMATCH)')) return true
  if (Array.isArray(e.errors) && e.errors.some(x => isSwarmKeyMismatch(x, depth + 1))) return true
  return isSwarmKeyMismatch(e.cause, depth + 1)
}

/** Bytes one protected connection carried on the wire (nonces included). */
export interface PskTraffic { bytesIn: number, bytesOut: number }

/**
 * Traffic per connection, keyed by the transport connection's `timeline` object: libp2p's
 * `Connection.timeline` is that same object, so `sov peers` can find it without internals.
 */
const traffic = new WeakMap<object, PskTraffic>()

/** Bytes a connection carried through the PSK layer; undefined for one we did not protect. */
export function pskTraffic (timeline: object): PskTraffic | undefined {
  return traffic.get(timeline)
}

class XSalsa20 {
  private readonly state = Buffer.alloc(sodium.crypto_stream_xor_STATEBYTES)
  private done = false

  constructor (nonce: Uint8Array, key: Buffer) {
    sodium.crypto_stream_xor_init(this.state, Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength), key)
  }

  /** XORs `input` into a fresh buffer (callers may keep references to their input). */
  update (input: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(input.byteLength)
    sodium.crypto_stream_xor_update(this.state, out, input)
    return out
  }

  /** XORs `input` into `out` (same length). */
  xorInto (input: Uint8Array, out: Uint8Array): void {
    sodium.crypto_stream_xor_update(this.state, out, input)
  }

  /** XORs in place: for bytes this connection alone owns (inbound chunks, outbound frames). */
  updateInPlace (data: Uint8Array): Uint8Array {
    sodium.crypto_stream_xor_update(this.state, data, data)
    return data
  }

  final (): void {
    if (this.done) return
    this.done = true
    sodium.crypto_stream_xor_final(this.state)
  }
}

interface PskConnectionInit {
  maConn: MultiaddrConnection
  key: Buffer
  localNonce: Uint8Array
  log: Logger
  traffic: PskTraffic
  handshakeTimeoutMs?: number
}

class PskConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly key: Buffer
  /** Set once the peer's 24-byte nonce has arrived; bytes of a partial nonce wait in `nonce`. */
  private inbound?: XSalsa20
  private nonce = Buffer.alloc(0)
  private readonly outbound: XSalsa20
  /** How many leading plaintext bytes from the peer have matched the multistream header. */
  private verified = 0
  private sentAny = false
  private mismatched = false
  private linger?: ReturnType<typeof setTimeout>
  private readonly traffic: PskTraffic
  private readonly deadline: ReturnType<typeof setTimeout>
  /** Small writes of this event-loop turn, joined into one socket write at its end (`flush`). */
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private flushQueued = false
  /** The socket refused more (its buffer is full) until its next 'drain'. */
  private socketFull = false

  constructor (init: PskConnectionInit) {
    super({ log: init.log, remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction })
    this.maConn = init.maConn
    this.traffic = init.traffic
    this.key = init.key
    this.outbound = new XSalsa20(init.localNonce, init.key)
    const handshakeMs = init.handshakeTimeoutMs ?? PSK_HANDSHAKE_TIMEOUT_MS
    this.deadline = setTimeout(() => {
      if (this.verified >= MSS_HEADER.length || this.mismatched || this.status !== 'open') return
      this.log('no PSK exchange from %a within %d ms: dropping', this.remoteAddr, handshakeMs)
      this.abort(timeout(`Cannot protect the connection: the peer did not complete the PSK exchange within ${handshakeMs} ms`))
    }, handshakeMs)
    this.deadline.unref()

    this.maConn.addEventListener('message', evt => {
      if (this.mismatched) return
      const data = evt.data
      if (data instanceof Uint8Array) this.receive(data)
      else for (const buf of data) this.receive(buf)
    })
    this.maConn.addEventListener('drain', () => { this.socketFull = false; this.onMuxerDrain() })
    this.maConn.addEventListener('close', evt => {
      clearTimeout(this.deadline)
      this.pending = []
      this.pendingBytes = 0
      this.inbound?.final()
      this.outbound.final()
      if (this.mismatched || this.hungUpOnUs()) {
        this.mismatched = true
        this.failMismatch()
        return
      }
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
  }

  /**
   * libp2p's `byteStream.write()` waits for 'drain' with `rejectionEvents: ['close']`, so a close
   * during that wait is thrown as the *event*, and the upgrader wraps its (absent) `message` into
   * a bare "Encryption failed". Giving our close events their error's message keeps the reason
   * (e.g. SWARM_KEY_MISMATCH) in whatever error reaches the dialer.
   */
  override dispatchEvent (event: Event): boolean {
    const error = (event as { error?: unknown }).error
    if (event.type === 'close' && error instanceof Error && !('message' in event)) {
      Object.defineProperty(event, 'message', { value: error.message })
    }
    return super.dispatchEvent(event)
  }

  private receive (data: Uint8Array): void {
    if (this.mismatched) return
    this.traffic.bytesIn += data.byteLength
    let cipher = data
    if (this.inbound === undefined) {
      const need = NONCE_BYTES - this.nonce.length
      this.nonce = Buffer.concat([this.nonce, data.subarray(0, need)])
      if (this.nonce.length < NONCE_BYTES) return
      this.inbound = new XSalsa20(this.nonce, this.key)
      this.log('received the remote nonce')
      cipher = data.subarray(need)
      if (cipher.byteLength === 0) return
    }
    const plain = this.inbound.updateInPlace(cipher)
    if (this.verified < MSS_HEADER.length) {
      const n = Math.min(plain.byteLength, MSS_HEADER.length - this.verified)
      for (let i = 0; i < n; i++) {
        if (plain[i] !== MSS_HEADER[this.verified + i]) { this.mismatch(); return }
      }
      this.verified += n
      if (this.verified === MSS_HEADER.length) clearTimeout(this.deadline)
    }
    this.onData(plain)
  }

  /**
   * The peer sent its nonce, then closed on our first encrypted bytes without a single plaintext
   * byte of its own. A peer with our key always answers our multistream header first, so this is
   * a peer with another key: one that detected it first (its own garbage probe can be overtaken
   * by the upgrader's RST) or a stock pnet peer, which just hangs up.
   */
  private hungUpOnUs (): boolean {
    return !this.mismatched && this.sentAny && this.inbound !== undefined && this.verified === 0
  }

  /**
   * The peer's first bytes are not a multistream header: its key differs. A side that has
   * already sent encrypted bytes fails at once (the peer is judging those). A side that has sent
   * nothing yet (the listener) sends its encrypted header, so that the peer decrypts garbage and
   * fails just as fast, and keeps the socket open, reading and dropping, until the peer hangs up
   * (or `MISMATCH_LINGER_MS` pass): closing first would make the peer's next write draw an RST,
   * and Node drops a socket on EPIPE without reading the header already waiting in it.
   */
  private mismatch (): void {
    this.mismatched = true
    this.log.error('first bytes from %a are not multistream-select: swarm key mismatch', this.remoteAddr)
    if (this.sentAny) {
      this.failMismatch()
      return
    }
    this.sentAny = true
    this.maConn.send(this.outbound.update(MSS_HEADER))
    this.linger = setTimeout(() => { this.failMismatch() }, MISMATCH_LINGER_MS)
  }

  private failMismatch (): void {
    clearTimeout(this.linger)
    if (this.status === 'aborted' || this.status === 'closed') return
    this.abort(swarmKeyMismatch(SWARM_KEY_MISMATCH_MESSAGE))
  }

  sendData (data: Parameters<AbstractMultiaddrConnection['sendData']>[0]): { sentBytes: number, canSendMore: boolean } {
    this.sentAny = true
    if (this.maConn.status !== 'open') {
      // The transport is already closing (e.g. yamux's GoAway racing the peer's FIN): these
      // bytes cannot arrive, and throwing here would fail the caller's graceful close.
      this.log('dropping %d bytes: the transport is %s', data.byteLength, this.maConn.status)
      return { sentBytes: data.byteLength, canSendMore: true }
    }
    this.traffic.bytesOut += data.byteLength
    // Joined buffer by buffer, not by the total: a pipelined burst (one `writeV` of 100 envelopes)
    // comes down as one list of a few hundred small buffers, each of which the TCP transport
    // would write with its own syscall (issue 15: two writes per 1 KiB message).
    for (const buf of data) {
      if (buf.byteLength >= JOIN_MAX_BYTES) {
        // Bulk: what waits goes first, then this buffer XORed in place and passed on as it is
        // (joining it would cost a copy and gain nothing; libsodium runs 2.3 GiB/s allocating,
        // 2.7 GiB/s in place). The layers above hand us fresh frames and never read them again.
        this.flush()
        this.outbound.updateInPlace(buf)
        if (this.maConn.status === 'open' && !this.maConn.send(buf)) this.socketFull = true
        continue
      }
      this.pending.push(buf)
      this.pendingBytes += buf.byteLength
      if (this.pendingBytes >= JOIN_MAX_BYTES) this.flush()
    }
    if (this.pendingBytes > 0 && !this.flushQueued) {
      this.flushQueued = true
      setImmediate(() => { this.flushQueued = false; this.flush() })
    }
    return { sentBytes: data.byteLength, canSendMore: !this.socketFull }
  }

  /**
   * Encrypts the small writes held since the last flush into one buffer: one socket write for
   * them all. The TCP transport writes each buffer with its own `socket.write` (a syscall each
   * when the socket is idle, and on loopback the peer's receive path runs inside it), while
   * Noise+Yamux hand down several small buffers per message and a busy node many messages per
   * event-loop turn: issue 15 §4 joined each message's buffers (1 KiB pipelined
   * request/response went from 0.86× to above 1.0× of bare Noise+Yamux); issue 11 joins the
   * messages of one turn (many A2A task calls in flight on one connection). Held bytes wait at
   * most until the end of the current turn (`setImmediate`), or until 16 KiB are held. The cost:
   * one request/response at a time runs 0.80–0.94× of bare Noise+Yamux (1.02–1.05× when each
   * write goes at once). Flushing after the current microtasks instead (0.92–0.95×) made the
   * 2,000-cycle churn test in test/psk.test.ts fail three times in three (a connection stayed
   * open; cause not found), so it was not taken.
   */
  private flush (): void {
    if (this.pendingBytes === 0) return
    const out = Buffer.allocUnsafe(this.pendingBytes)
    let at = 0
    for (const buf of this.pending) {
      this.outbound.xorInto(buf, out.subarray(at, at + buf.byteLength))
      at += buf.byteLength
    }
    this.pending = []
    this.pendingBytes = 0
    if (this.maConn.status !== 'open') return
    if (!this.maConn.send(out)) this.socketFull = true
  }

  sendReset (err: Error): void {
    this.maConn.abort(err)
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    this.flush()
    await this.maConn.close(options)
  }

  sendPause (): void { this.maConn.pause() }
  sendResume (): void { this.maConn.resume() }
}

class PskProtector implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'sovereign/psk'
  private readonly key: Buffer
  private readonly handshakeTimeoutMs?: number

  constructor (key: Uint8Array, handshakeTimeoutMs?: number) {
    if (key.length !== SWARM_KEY_BYTES) throw new RangeError(`swarm key must be ${SWARM_KEY_BYTES} bytes`)
    this.key = Buffer.from(key)
    this.handshakeTimeoutMs = handshakeTimeoutMs
  }

  /**
   * Sends our nonce and returns at once: outbound bytes need only our own nonce, and inbound
   * ones are decrypted once the peer's nonce has arrived (as go-libp2p's pskConn does), so the
   * PSK layer adds no round trip to connection setup. The upgrader's deadline bounds the wait.
   */
  async protect (connection: MultiaddrConnection, _options?: AbortOptions): Promise<MultiaddrConnection> {
    const localNonce = Buffer.alloc(NONCE_BYTES)
    sodium.randombytes_buf(localNonce)
    connection.send(localNonce)
    const counted: PskTraffic = { bytesIn: 0, bytesOut: NONCE_BYTES }
    traffic.set(connection.timeline, counted)
    return new PskConnection({ maConn: connection, key: this.key, localNonce, log: connection.log.newScope('psk'), traffic: counted, handshakeTimeoutMs: this.handshakeTimeoutMs })
  }
}

/** The protector factory for `createLibp2p({ connectionProtector })`; `handshakeTimeoutMs` defaults to `PSK_HANDSHAKE_TIMEOUT_MS`. */
export function pskProtector (key: Uint8Array, handshakeTimeoutMs?: number): () => ConnectionProtector {
  return () => new PskProtector(key, handshakeTimeoutMs)
}
