// Pieces of the Electrum client that hold no connection state: server URLs, protocol version
// comparison, translation of socket errors into SovErrors, and small promise helpers.
import { SovError, badRequest, electrumError, printable } from '../protocol/index.js'

export interface ElectrumUrl {
  /** As given, e.g. `ssl://electrum.example:50002`. */
  url: string
  tls: boolean
  host: string
  port: number
}

/** Parses `tcp://host:port` or `ssl://host:port` (`tls://` too); `BAD_REQUEST` otherwise. */
export function parseElectrumUrl (text: string): ElectrumUrl {
  const m = /^(tcp|ssl|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})\/?$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port < 1 || port > 65535) {
    throw badRequest(`Cannot use Electrum server "${text}": expected tcp://host:port or ssl://host:port`)
  }
  return { url: text, tls: m[1] !== 'tcp', host: m[2].replace(/^\[|\]$/g, ''), port }
}

/** Node's codes for a certificate that does not verify: retrying will not help. */
const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REJECTED'
])

/** A socket error as a SovError; an untrusted certificate is marked `permanent`. */
export function translateSocketError (url: string, err: NodeJS.ErrnoException): SovError {
  const code = err.code ?? ''
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // Trusted (--electrum-ca worked) but issued for another name: say which names it has (issue 14).
    const e = err as NodeJS.ErrnoException & { host?: string, cert?: { subjectaltname?: string, subject?: { CN?: string } } }
    const names = e.cert?.subjectaltname?.replace(/(DNS|IP Address):/g, '') ?? e.cert?.subject?.CN ?? 'other names'
    return Object.assign(electrumError(`Cannot connect to ${url}: its TLS certificate is for ${names}, not "${e.host ?? '?'}"; connect by a name it lists (ssl://NAME:port; add it to /etc/hosts if needed), or give the server a certificate that lists this address`, { cause: err }), { permanent: true })
  }
  if (TLS_TRUST_CODES.has(code)) {
    return Object.assign(electrumError(`Cannot connect to ${url}: its TLS certificate is not trusted (${code}: ${err.message}); if the server uses a self-signed certificate, pass that certificate with --electrum-ca FILE (config "electrumCa")`, { cause: err }), { permanent: true })
  }
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'host not found' : err.message
  return electrumError(`Cannot connect to ${url}: ${why}`, { cause: err })
}

/** What a server said when it refused a call by id (JSON-RPC `error`), kept on the SovError. */
export interface ServerRefusal { method: string, code: unknown, message: string }

/** Marks `err` as the server's refusal of `method` (it answered; it is reachable). */
export function refused (err: SovError, method: string, rpc: any): SovError {
  const message = printable(rpc !== null && typeof rpc === 'object' ? String(typeof rpc.message === 'string' ? rpc.message : '') : String(rpc))
  return Object.assign(err, { refusal: { method, code: rpc?.code, message } satisfies ServerRefusal })
}

/** The refusal carried by an error from `ElectrumClient`, if the server answered with one. */
export function serverRefusal (err: unknown): ServerRefusal | undefined {
  return (err as { refusal?: ServerRefusal } | null)?.refusal
}

/** A server's JSON-RPC `error` in words: `code: message`, printable and bounded. */
export function describeError (e: any): string {
  if (e !== null && typeof e === 'object') return `${printable(String(e.code ?? '?'), 40)}: ${typeof e.message === 'string' ? printable(e.message) : preview(e, 300)}`
  return printable(String(e))
}

/** Any value a server sent, shown briefly as JSON (or its type, when it cannot be), printable. */
export function preview (value: unknown, max = 80): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = `<${Array.isArray(value) ? 'an array' : typeof value} that cannot be shown>`
  }
  return printable(text, max)
}

/** Compares dotted versions numerically ("1.4.2" < "1.10"). */
export function compareVersions (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (Number.isNaN(d)) return NaN
    if (d !== 0) return Math.sign(d)
  }
  return 0
}

/** Settles with `p`, or rejects with the signal's reason once it fires. */
export async function abortable<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  // `p` is already running: its own end (the same abort, most likely) must not go unhandled.
  // Unhandled, it ended the daemon with exit 1 on a SIGTERM during a licence check (CI, stop 33).
  if (signal.aborted) { p.catch(() => {}); throw signal.reason }
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => { onAbort = () => { reject(signal.reason) } })
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await Promise.race([p, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
