/**
 * A real Electrum-protocol server for tests: the devnet server over TCP and TLS on 127.0.0.1
 * (port 0) serving a regtest chain built with bitcoinjs-lib. `startElectrum(ctx, chain)`
 * registers the server's stop with `ctx.defer` before it returns.
 */
import { DevElectrumServer, RegtestChain, makeCertificate, type DevCertificate, type DevElectrumServerOptions, type Lie } from '../../finance/index.js'
import type { KitContext } from './index.js'

export interface ElectrumHandle {
  server: DevElectrumServer
  chain: RegtestChain
  tcp: string
  ssl: string
  /** PEM of the server's self-signed certificate (what `--electrum-ca` takes). */
  ca: string
}

export interface StartElectrumOptions {
  lie?: Lie | null
  /** Highest protocol offered. @default '1.6' */
  protocolMax?: string
  /** Reuse a certificate (another server's, to share one CA). */
  cert?: DevCertificate
  /** Behave as a server without batches (see DevElectrumServerOptions). */
  noBatch?: DevElectrumServerOptions['noBatch']
  /** Refuse histories longer than this, as electrs does. */
  historyLimit?: number
  /** Listen on this TCP port (to bring a stopped server back at the same URL). */
  tcpPort?: number
}

let shared: Promise<DevCertificate> | undefined

/** One certificate per test process; each costs ~25 ms to make. */
export async function testCertificate (): Promise<DevCertificate> {
  shared ??= makeCertificate()
  return await shared
}

export async function startElectrum (ctx: KitContext, chain: RegtestChain = new RegtestChain(), opts: StartElectrumOptions = {}): Promise<ElectrumHandle> {
  const cert = opts.cert ?? await testCertificate()
  const server = new DevElectrumServer({ chain, tls: { cert: cert.cert, key: cert.key }, protocolMax: opts.protocolMax, lie: opts.lie ?? null, noBatch: opts.noBatch, historyLimit: opts.historyLimit, tcpPort: opts.tcpPort })
  ctx.defer(async () => { await server.stop() })
  await server.start()
  return { server, chain, tcp: server.tcpUrl, ssl: server.sslUrl!, ca: cert.cert }
}
