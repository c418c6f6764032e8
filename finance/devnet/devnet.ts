// `sov devnet`: the regtest chain and its Electrum server as a background process, so a person
// can try licensing offline. State lives in one directory: `devnet.json` (URLs, CA file, vendor
// addresses, pid; removed when the devnet stops), what a restart keeps (`keep.ts`: `chain.json`,
// `setup.json`, `ca.pem`), and `control.sock`, a Unix socket taking one JSON request a line:
// {"cmd":"status"|"pay"|"mine"|"checkpoints"|"stop", …}.
import { createServer, connect, type Server } from 'node:net'
import type { ECPairInterface } from 'ecpair'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { badRequest, conflict, timeout, unavailable } from '../../protocol/index.js'
import type { AddressType } from '../address.js'
import { CHAIN_PARAMS } from '../networks.js'
import { parseSats } from '../terms.js'
import { RegtestChain } from './chain.js'
import { DevElectrumServer } from './electrum-server.js'
import { ADDRESS_TYPES, ECPair, addressOf } from './keys.js'
import { DEVNET_CA_FILE, damagedState, readChain, readSetup, writeCertificate, writeChain, writeSetup, type DevnetSetup } from './keep.js'
import { makeCertificate } from './tls-cert.js'

export { DEVNET_CA_FILE, DEVNET_CHAIN_FILE, DEVNET_SETUP_FILE, resetDevnet } from './keep.js'
export const DEVNET_STATE_FILE = 'devnet.json'
export const DEVNET_CONTROL_SOCKET = 'control.sock'
/** Deadline of one control request. @default 15 s */
export const DEVNET_CONTROL_TIMEOUT_MS = 15_000
/** A kept certificate this close to its end is replaced at start. @default 1 day, in ms */
const CERT_RENEW_BEFORE_MS = 86_400_000
/** Most blocks one `pay` or `mine` request may add. */
const MAX_BLOCKS_PER_REQUEST = 1000

export interface DevnetState {
  pid: number
  network: 'regtest'
  tcp: string
  ssl: string
  caFile: string
  /** The devnet's vendor: a P2WPKH address, and one of each type. */
  vendorAddress: string
  vendorAddresses: Record<AddressType, string>
  control: string
  startedAt: string
  /** True when the chain, vendor, ports and certificate are those of an earlier run. */
  resumed: boolean
}

export interface RunningDevnet {
  state: DevnetState
  chain: RegtestChain
  server: DevElectrumServer
  stop: () => Promise<void>
  /** Resolves once stopped (by `stop()` or a control `stop`). */
  stopped: Promise<void>
}

export interface DevnetOptions {
  /** The TCP port; 0 for any free one. @default the port of the last run, else 0 */
  tcpPort?: number
  /** The TLS port; 0 for any free one. @default the port of the last run, else 0 */
  sslPort?: number
  /** Behave like servers a buyer may meet (issue 13): see `DevElectrumServerOptions`. */
  historyLimit?: number
  noBatch?: 'drop' | 'silent' | 'error'
}

/**
 * Starts the chain, the Electrum server (TCP + TLS) and the control socket in `dir`: the devnet
 * kept there (same blocks, vendor keys, ports and certificate) or, when there is none, a new one.
 * A kept port now taken by another program is `CONFLICT` naming it; a damaged state file is
 * `INTERNAL` naming it and `sov devnet reset --yes`.
 */
export async function startDevnet (dir: string, opts: DevnetOptions = {}): Promise<RunningDevnet> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const kept = readSetup(dir)
  const chain = kept === null ? new RegtestChain() : readChain(dir)
  const network = CHAIN_PARAMS.regtest.addresses
  const vendorKeys = Object.fromEntries(ADDRESS_TYPES.map(t => [t, kept === null
    ? ECPair.makeRandom({ network })
    : ECPair.fromWIF(kept.vendors[t], network)])) as Record<AddressType, ECPairInterface>
  const vendorAddresses = Object.fromEntries(ADDRESS_TYPES.map(t => [t, addressOf(t, vendorKeys[t]).address])) as Record<AddressType, string>
  const cert = await certificate(dir, kept)
  const caFile = join(dir, DEVNET_CA_FILE)
  const tcpPort = opts.tcpPort ?? kept?.tcpPort ?? 0
  const sslPort = opts.sslPort ?? kept?.sslPort ?? 0
  const server = new DevElectrumServer({ chain, tcpPort, tls: { cert: cert.cert, key: cert.key, port: sslPort }, historyLimit: opts.historyLimit, noBatch: opts.noBatch })
  try {
    await server.start()
  } catch (err) {
    await server.stop()
    throw server.tcpUrl === ''
      ? portTaken(err, 'TCP', tcpPort, '--tcp-port', opts.tcpPort === undefined && kept !== null)
      : portTaken(err, 'TLS', sslPort, '--ssl-port', opts.sslPort === undefined && kept !== null)
  }
  try {
    // setup.json last: it marks a devnet whose chain and certificate are on disk.
    if (kept === null) writeChain(dir, chain)
    if (cert.fresh) writeCertificate(dir, cert.cert)
    writeSetup(dir, {
      v: 1,
      tcpPort: portOf(server.tcpUrl),
      sslPort: portOf(server.sslUrl!),
      vendors: Object.fromEntries(ADDRESS_TYPES.map(t => [t, vendorKeys[t].toWIF()])) as Record<AddressType, string>,
      tlsKey: cert.key
    })
  } catch (err) {
    await server.stop()
    throw err
  }
  const controlPath = join(dir, DEVNET_CONTROL_SOCKET)
  rmSync(controlPath, { force: true })
  const stopped = Promise.withResolvers<void>()
  let stopping: Promise<void> | undefined
  const control: Server = createServer(socket => {
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('error', () => { socket.destroy() })
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > 64 * 1024) { socket.destroy(); return }
      let nl: number
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let reply: object
        try {
          reply = { ok: true, result: handle(JSON.parse(line)) }
        } catch (err) {
          reply = { ok: false, error: { code: (err as any).code ?? 'BAD_REQUEST', message: (err as Error).message } }
        }
        socket.write(JSON.stringify(reply) + '\n')
      }
    })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      control.once('error', reject)
      control.listen(controlPath, () => { control.off('error', reject); resolve() })
    })
  } catch (err) {
    await server.stop()
    throw err
  }
  chmodSync(controlPath, 0o600)
  const state: DevnetState = {
    pid: process.pid,
    network: 'regtest',
    tcp: server.tcpUrl,
    ssl: server.sslUrl!,
    caFile,
    vendorAddress: vendorAddresses.p2wpkh,
    vendorAddresses,
    control: controlPath,
    startedAt: new Date().toISOString(),
    resumed: kept !== null
  }
  const statePath = join(dir, DEVNET_STATE_FILE)
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 })
  renameSync(`${statePath}.tmp`, statePath)

  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      rmSync(statePath, { force: true })
      await new Promise<void>(resolve => { control.close(() => { resolve() }) })
      await server.stop()
      rmSync(controlPath, { force: true })
      stopped.resolve()
    })()
    await stopping
  }

  function handle (req: any): unknown {
    switch (req?.cmd) {
      case 'status':
        return { ...state, height: chain.height, mempool: chain.mempool.length }
      case 'pay': {
        if (typeof req.to !== 'string' || typeof req.machineId !== 'string' || req.machineId.trim() === '') throw badRequest('Cannot pay: "to" and "machineId" are required (a machine id is not empty)')
        const sats = parseSats(String(req.sats))
        const confirmations = blocks(req.confirmations ?? 1, 'confirmations', 0)
        // Trimmed as the verifier reads it (readMachineId), so the commitment is the one it checks.
        const r = chain.payLicence({ to: req.to, sats, machineId: req.machineId.trim(), confirmations })
        writeChain(dir, chain)
        return { txid: r.txid, height: r.height, confirmations, tip: chain.height }
      }
      case 'mine': {
        chain.mine(blocks(req.blocks ?? 1, 'blocks', 1))
        writeChain(dir, chain)
        return { height: chain.height }
      }
      case 'checkpoints':
        return chain.checkpoints()
      case 'stop':
        setImmediate(() => { void stop() })
        return { stopping: true, pid: process.pid }
      default:
        throw badRequest(`Cannot run devnet command "${String(req?.cmd)}": use status, pay, mine, checkpoints or stop`)
    }
  }

  return { state, chain, server, stop, stopped: stopped.promise }
}

/**
 * The kept certificate and key, or a new pair when there is none (a new devnet, a deleted
 * `ca.pem`) or it ends within a day. `fresh` says `ca.pem` must be written.
 */
async function certificate (dir: string, kept: DevnetSetup | null): Promise<{ cert: string, key: string, fresh: boolean }> {
  const path = join(dir, DEVNET_CA_FILE)
  if (kept !== null && existsSync(path)) {
    const pem = readFileSync(path, 'utf8')
    let x509: X509Certificate
    try {
      x509 = new X509Certificate(pem)
    } catch (cause) {
      throw damagedState(path, 'it is not a PEM certificate', cause)
    }
    if (!x509.checkPrivateKey(createPrivateKey(kept.tlsKey))) throw damagedState(path, 'it does not match the TLS key in setup.json')
    if (Date.parse(x509.validTo) - Date.now() > CERT_RENEW_BEFORE_MS) return { cert: pem, key: kept.tlsKey, fresh: false }
  }
  const made = await makeCertificate()
  return { cert: made.cert, key: made.key, fresh: true }
}

function portOf (url: string): number {
  return Number(url.slice(url.lastIndexOf(':') + 1))
}

/** A port in use, in words that name it and the way out; other listen errors pass unchanged. */
function portTaken (err: unknown, what: 'TCP' | 'TLS', port: number, flag: string, kept: boolean): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') return err
  const why = kept ? ', and the devnet keeps the ports of its last run so that nodes given its URLs keep working' : ''
  return conflict(`Cannot serve Electrum over ${what} on "127.0.0.1:${port}": the port is in use (EADDRINUSE)${why}; ` +
    `stop what uses it, or start with \`${flag} 0\` for any free port (then give nodes the new URL)`, { cause: err })
}

/** The state of the devnet in `dir`, or null when none has started there. */
export function readDevnetState (dir: string): DevnetState | null {
  const path = join(dir, DEVNET_STATE_FILE)
  if (!existsSync(path)) return null
  try { return JSON.parse(readFileSync(path, 'utf8')) as DevnetState } catch { return null }
}

/** One control request to the devnet running in `dir`. */
export async function devnetRequest (dir: string, req: object, timeoutMs = DEVNET_CONTROL_TIMEOUT_MS): Promise<any> {
  const path = join(dir, DEVNET_CONTROL_SOCKET)
  return await new Promise((resolve, reject) => {
    const socket = connect(path)
    let buf = ''
    const timer = setTimeout(() => { socket.destroy(); reject(timeout(`Cannot reach the devnet at "${path}": no answer within ${timeoutMs} ms`)) }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => { socket.write(JSON.stringify(req) + '\n') })
    socket.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl === -1) return
      clearTimeout(timer)
      socket.end()
      const reply = JSON.parse(buf.slice(0, nl))
      if (reply.ok === true) resolve(reply.result)
      else reject(reply.error?.code === 'BAD_REQUEST' ? badRequest(reply.error.message) : conflict(reply.error?.message ?? 'devnet error'))
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no devnet is running (start one with `sov devnet start`)' : err.message
      reject(unavailable(`Cannot reach the devnet at "${path}": ${why}`, { cause: err }))
    })
  })
}

function blocks (v: unknown, what: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > MAX_BLOCKS_PER_REQUEST) throw badRequest(`Cannot mine: ${what} must be an integer from ${min} to ${MAX_BLOCKS_PER_REQUEST}`)
  return v
}
