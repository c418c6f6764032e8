// An Electrum-protocol server for the devnet chain, over TCP and TLS on loopback. It behaves as
// ElectrumX does for the calls a wallet makes: `server.version` must come first (protocol 1.6;
// anything else first gets an error and a disconnect), a second `server.version` is refused,
// batches are answered as batches, errors carry ElectrumX's codes and wording, and
// `blockchain.block.headers` answers in the 1.4 (`hex`) or 1.6 (`headers`) form by the
// negotiated version. It can be switched to lie (see lies.ts).
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { compareVersions } from '../electrum-client.js'
import { isHex } from '../bytes.js'
import { REGTEST_GENESIS_HASH, type RegtestChain } from './chain.js'
import { applyDataLie, isTransportLie, type Lie } from './lies.js'

export const SERVER_SOFTWARE = 'ElectrumX 1.20.0 (sov devnet)'
const PROTOCOL_MIN = '1.4'
/** ElectrumX's MAX_CHUNK_SIZE. */
const MAX_HEADERS = 2016
/** Longest request line a client may send (ElectrumX's default MAX_RECV is 1 MB). */
const MAX_RECV_BYTES = 1_000_000
/** How much an `endlessLine` lie sends before giving up on the client. */
const ENDLESS_CAP_BYTES = 256 * 1024 * 1024
const BAD_REQUEST = 1
const DAEMON_ERROR = 2

export interface DevElectrumServerOptions {
  chain: RegtestChain
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (any free port) */
  tcpPort?: number
  /** Serve ssl:// too, with this certificate and key. */
  tls?: { cert: string, key: string, port?: number }
  /** Highest protocol offered; '1.4' makes `blockchain.block.headers` answer in the `hex` form. @default '1.6' */
  protocolMax?: string
  lie?: Lie | null
  /**
   * Behave as a server without JSON-RPC batches (Electrum Personal Server, esplora-electrs,
   * older electrs): `drop` closes the connection on a batch, `silent` never answers it, `error`
   * answers one error without an id. @default null (batches answered)
   */
  noBatch?: 'drop' | 'silent' | 'error' | null
  /** Refuse `blockchain.scripthash.get_history` above this many entries, as electrs
   *  (`--electrum-txs-limit`, default 500) and Fulcrum do. @default unlimited */
  historyLimit?: number
}

class RpcError extends Error {
  constructor (readonly code: number, message: string, readonly disconnect = false) { super(message) }
}

interface Session { socket: Socket, protocol: string | null, buf: Buffer[], buffered: number }

export class DevElectrumServer {
  readonly chain: RegtestChain
  /** The current lie; null serves the truth. May be changed at any time. */
  lie: Lie | null
  tcpUrl = ''
  sslUrl: string | null = null
  /** Requests served, by method (tests read it). */
  readonly seen = new Map<string, number>()
  /** Connections accepted since start. */
  accepted = 0
  /** Headers sent by `blockchain.block.headers` and bytes written, since start (tests and benches read them). */
  headersServed = 0
  bytesOut = 0
  /** See `DevElectrumServerOptions`; may be changed at any time. */
  noBatch: DevElectrumServerOptions['noBatch']
  historyLimit: number
  private readonly opts: DevElectrumServerOptions
  private readonly servers: Server[] = []
  private readonly sockets = new Set<Socket>()

  constructor (opts: DevElectrumServerOptions) {
    this.opts = opts
    this.chain = opts.chain
    this.lie = opts.lie ?? null
    this.noBatch = opts.noBatch ?? null
    this.historyLimit = opts.historyLimit ?? Infinity
  }

  get connections (): number { return this.sockets.size }

  async start (): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1'
    const tcp = createTcpServer(s => { this.serve(s) })
    this.tcpUrl = `tcp://${host}:${await listen(tcp, host, this.opts.tcpPort ?? 0)}`
    this.servers.push(tcp)
    if (this.opts.tls !== undefined) {
      const ssl = createTlsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, s => { this.serve(s) })
      ssl.on('tlsClientError', () => { /* a client that refuses our certificate: its business */ })
      this.sslUrl = `ssl://${host}:${await listen(ssl, host, this.opts.tls.port ?? 0)}`
      this.servers.push(ssl)
    }
  }

  /** Stops listening and drops every connection. Idempotent. */
  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await Promise.all(this.servers.splice(0).map(async s => await new Promise<void>(resolve => { s.close(() => { resolve() }) })))
  }

  private serve (socket: Socket): void {
    const session: Session = { socket, protocol: null, buf: [], buffered: 0 }
    this.sockets.add(socket)
    this.accepted++
    socket.setNoDelay(true)
    socket.on('close', () => { this.sockets.delete(socket) })
    socket.on('error', () => { socket.destroy() })
    socket.on('data', (chunk: Buffer) => {
      let start = 0
      for (;;) {
        const nl = chunk.indexOf(0x0a, start)
        if (nl === -1) break
        const line = Buffer.concat([...session.buf, chunk.subarray(start, nl)])
        session.buf = []
        session.buffered = 0
        start = nl + 1
        this.onLine(session, line.toString('utf8'))
      }
      if (start < chunk.length) {
        session.buf.push(chunk.subarray(start))
        session.buffered += chunk.length - start
        if (session.buffered > MAX_RECV_BYTES) socket.destroy()
      }
    })
  }

  private onLine (session: Session, line: string): void {
    if (line.trim() === '') return
    let msg: any
    try {
      msg = JSON.parse(line)
    } catch {
      this.write(session, { jsonrpc: '2.0', error: { code: -32700, message: 'invalid JSON' }, id: null })
      return
    }
    const batch = Array.isArray(msg)
    const calls: any[] = batch ? msg : [msg]
    if (batch && calls.length === 0) {
      this.write(session, { jsonrpc: '2.0', error: { code: -32600, message: 'empty batch' }, id: null })
      return
    }
    if (batch && this.noBatch != null) {
      if (this.noBatch === 'drop') session.socket.destroy()
      if (this.noBatch === 'error') this.write(session, { jsonrpc: '2.0', error: { code: -32600, message: 'batch requests are not supported' }, id: null })
      return
    }
    const lie = this.lie
    if (lie !== null && isTransportLie(lie) && calls.some(c => c?.method === (lie.method ?? 'blockchain.transaction.get'))) {
      this.transportLie(session, lie, batch, calls)
      return
    }
    let disconnect = false
    const replies: object[] = []
    for (const call of calls) {
      const r = this.handle(session, call)
      if (r.reply !== null) replies.push(r.reply)
      disconnect ||= r.disconnect
    }
    if (replies.length > 0) this.write(session, batch ? replies : replies[0])
    if (disconnect) session.socket.end()
  }

  private handle (session: Session, call: any): { reply: object | null, disconnect: boolean } {
    const id = call?.id
    if (call === null || typeof call !== 'object' || typeof call.method !== 'string') {
      return { reply: { jsonrpc: '2.0', error: { code: -32600, message: 'invalid request' }, id: id ?? null }, disconnect: false }
    }
    const params: unknown[] = Array.isArray(call.params) ? call.params : []
    this.seen.set(call.method, (this.seen.get(call.method) ?? 0) + 1)
    try {
      let result = this.dispatch(session, call.method, params)
      if (this.lie !== null && !isTransportLie(this.lie)) {
        result = applyDataLie(this.lie, call.method, params, result, depth => {
          const h = Math.max(0, this.chain.height - depth)
          return { hex: this.chain.headerHex(h), height: h }
        })
      }
      return { reply: id === undefined || id === null ? null : { jsonrpc: '2.0', result, id }, disconnect: false }
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError(-32603, `internal error: ${(err as Error).message}`)
      return { reply: { jsonrpc: '2.0', error: { code: e.code, message: e.message }, id: id ?? null }, disconnect: e.disconnect }
    }
  }

  private dispatch (session: Session, method: string, p: unknown[]): unknown {
    const chain = this.chain
    if (method === 'server.version') return this.negotiate(session, p)
    if (session.protocol === null) throw new RpcError(BAD_REQUEST, 'use server.version to identify client', true)
    switch (method) {
      case 'server.ping': return null
      case 'server.banner': return `You are connected to an ${SERVER_SOFTWARE} server.`
      case 'server.donation_address': return ''
      case 'server.peers.subscribe': return []
      case 'server.features':
        return { hosts: {}, pruning: null, server_version: SERVER_SOFTWARE, protocol_min: PROTOCOL_MIN, protocol_max: this.protocolMax(), genesis_hash: REGTEST_GENESIS_HASH, hash_function: 'sha256', services: [] }
      case 'blockchain.relayfee': return 0.00001
      case 'blockchain.headers.subscribe':
        return { hex: chain.headerHex(chain.height), height: chain.height }
      case 'blockchain.block.header': {
        const h = nonNegative(p[0])
        if (h > chain.height) throw new RpcError(BAD_REQUEST, `height ${h.toLocaleString('en-US')} out of range`)
        return chain.headerHex(h)
      }
      case 'blockchain.block.headers': {
        const start = nonNegative(p[0])
        const count = Math.min(nonNegative(p[1]), MAX_HEADERS)
        const headers: string[] = []
        for (let h = start; h < start + count && h <= chain.height; h++) headers.push(chain.headerHex(h))
        this.headersServed += headers.length
        return compareVersions(session.protocol, '1.6') >= 0
          ? { headers, count: headers.length, max: MAX_HEADERS }
          : { hex: headers.join(''), count: headers.length, max: MAX_HEADERS }
      }
      case 'blockchain.transaction.get': {
        const txid = txHash(p[0])
        if (p[1] !== undefined && p[1] !== false && p[1] !== true) throw new RpcError(BAD_REQUEST, '"verbose" must be a boolean')
        if (p[1] === true) throw new RpcError(DAEMON_ERROR, 'daemon error: verbose transactions are not served by the devnet')
        const raw = chain.rawTx(txid)
        if (raw === undefined) throw new RpcError(DAEMON_ERROR, 'daemon error: DaemonError({\'code\': -5, \'message\': \'No such mempool or blockchain transaction. Use gettransaction for wallet transactions.\'})')
        return raw
      }
      case 'blockchain.transaction.get_merkle': {
        const txid = txHash(p[0])
        const height = nonNegative(p[1])
        // The `historyHeight` lie answers for the block below the one asked (see lies.ts).
        const m = chain.merkle(txid, this.lie?.kind === 'historyHeight' && height > 0 ? height - 1 : height)
        if (m === undefined) throw new RpcError(BAD_REQUEST, `tx ${txid} not in block at height ${height.toLocaleString('en-US')}`)
        return m
      }
      case 'blockchain.scripthash.get_history': {
        const sh = p[0]
        if (!isHex(sh) || sh.length !== 64) throw new RpcError(BAD_REQUEST, `${String(sh)} is not a valid script hash`)
        const history = chain.history(sh.toLowerCase())
        // electrs words it so; the code is ElectrumX's for a refused request.
        if (history.length > this.historyLimit) throw new RpcError(BAD_REQUEST, `too many txs in history: ${history.length} > ${this.historyLimit} (--electrum-txs-limit)`)
        return history
      }
      default:
        throw new RpcError(-32601, `unknown method "${method}"`)
    }
  }

  private protocolMax (): string { return this.opts.protocolMax ?? '1.6' }

  /** ElectrumX's negotiation: the highest version both speak, or an error and a disconnect. */
  private negotiate (session: Session, p: unknown[]): [string, string] {
    if (session.protocol !== null) throw new RpcError(BAD_REQUEST, 'server.version already sent')
    const req = p[1]
    let clientMin: string
    let clientMax: string
    if (req === undefined || req === null) { clientMin = clientMax = PROTOCOL_MIN } else if (typeof req === 'string') { clientMin = clientMax = req } else if (Array.isArray(req) && req.length === 2 && req.every(v => typeof v === 'string')) { [clientMin, clientMax] = req as [string, string] } else {
      throw new RpcError(BAD_REQUEST, `invalid protocol version: ${JSON.stringify(req)}`, true)
    }
    const max = this.protocolMax()
    const version = compareVersions(clientMax, max) < 0 ? clientMax : max
    const floor = compareVersions(clientMin, PROTOCOL_MIN) > 0 ? clientMin : PROTOCOL_MIN
    if (!(compareVersions(version, floor) >= 0)) throw new RpcError(BAD_REQUEST, `unsupported protocol version: ${JSON.stringify(req)}`, true)
    session.protocol = version
    return [SERVER_SOFTWARE, version]
  }

  private transportLie (session: Session, lie: Lie, batch: boolean, calls: any[]): void {
    const socket = session.socket
    switch (lie.kind) {
      case 'noAnswer':
        return
      case 'garbage':
        socket.write('<html>502 Bad Gateway</html>\n')
        return
      case 'disconnectMidReply': {
        const replies = calls.map(c => this.handle(session, c).reply).filter(r => r !== null)
        const text = JSON.stringify(batch ? replies : replies[0])
        socket.end(text.slice(0, Math.floor(text.length / 2)))
        return
      }
      case 'endlessLine':
        void endless(socket, calls[0]?.id)
        return
      case 'deepJson':
        socket.write('['.repeat(100_000) + ']'.repeat(100_000) + '\n')
        return
      case 'escapes': {
        const message = '\u001b[1A\u001b[2K\nLicence VALID: all checks passed\n\u001b[8m'
        const replies = calls.map(c => ({ jsonrpc: '2.0', id: c?.id ?? null, error: { code: 1, message } }))
        socket.write(JSON.stringify(batch ? replies : replies[0]) + '\n')
      }
    }
  }

  private write (session: Session, msg: object): void {
    if (session.socket.destroyed) return
    const line = JSON.stringify(msg) + '\n'
    this.bytesOut += Buffer.byteLength(line)
    session.socket.write(line)
  }
}

/** Sends one JSON string that never ends, respecting back-pressure, until the client leaves. */
async function endless (socket: Socket, id: unknown): Promise<void> {
  socket.write(`{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},"result":"`)
  const chunk = 'f'.repeat(64 * 1024)
  let sent = 0
  while (!socket.destroyed && sent < ENDLESS_CAP_BYTES) {
    sent += chunk.length
    if (!socket.write(chunk)) {
      await new Promise<void>(resolve => {
        const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
        socket.on('drain', done)
        socket.on('close', done)
      })
    }
  }
  socket.destroy()
}

function nonNegative (v: unknown): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RpcError(BAD_REQUEST, `${String(v)} should be a non-negative integer`)
  return n
}

function txHash (v: unknown): string {
  if (!isHex(v) || v.length !== 64) throw new RpcError(BAD_REQUEST, `${String(v)} should be a transaction hash`)
  return v.toLowerCase()
}

async function listen (server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address')
  return addr.port
}
