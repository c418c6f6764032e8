// Fetches the evidence for a licence from Electrum servers and hands it to the pure verifier.
// Trust no single server: the proof (txid, merkle branch, headers with their work) checks
// itself, so a server can only deny, never forge; the tip every server reports must agree; a
// server whose evidence does not verify is followed by the next one, and the best verdict wins.
import { toSovError, electrumError, type SovError } from '../protocol/index.js'
import { electrumScripthash } from './address.js'
import { isHex } from './bytes.js'
import { ElectrumClient, type ElectrumClientOptions } from './electrum-client.js'
import { HEADER_BYTES } from './header.js'
import {
  CHECK_NAMES, checkTerms, verifyEvidence,
  type LicenceEvidence, type LicenceStatus, type LicenceTerms, type LicenceVerdict, type TipReport
} from './verify.js'

/** Headers per `blockchain.block.headers` request (ElectrumX's MAX_CHUNK_SIZE). */
export const HEADERS_PER_REQUEST = 2016
/** `blockchain.block.headers` requests in flight at once. */
export const HEADER_REQUESTS_IN_FLIGHT = 4
/** Most headers fetched to link a block to the tip: ~4 years of blocks, 16 MB. */
export const MAX_LINK_HEADERS = 210_000

export interface VerifyLicenceOptions extends ElectrumClientOptions {
  signal?: AbortSignal
}

/** A verdict as `verifyLicence` returns it: the pure verdict plus when and from whom. */
export interface LicenceReport extends LicenceVerdict {
  checkedAt: string
  servers: string[]
  /** Each server tried for the transaction and its proof, in order. */
  attempts: Array<{ server: string, status: LicenceStatus, error?: { code: string, message: string } }>
  /** Why no verdict could be reached (status `error`). */
  error?: { code: string, message: string }
}

/**
 * Verifies a licence against `servers` (URLs, or clients kept warm by the caller). Never throws
 * for anything a server does: unreachable, slow or lying servers give `error` or `invalid`.
 * Throws `BAD_REQUEST` for unusable terms.
 */
export async function verifyLicence (terms: LicenceTerms, servers: Array<string | ElectrumClient>, opts: VerifyLicenceOptions = {}): Promise<LicenceReport> {
  const vendorScript = checkTerms(terms)
  if (servers.length === 0) throw electrumError('Cannot verify the licence: no Electrum server is configured')
  const owned: ElectrumClient[] = []
  const clients = servers.map(s => {
    if (typeof s !== 'string') return s
    const c = new ElectrumClient(s, { ...opts, keepaliveMs: 0 })
    owned.push(c)
    return c
  })
  const txid = terms.txid.toLowerCase()
  const scripthash = electrumScripthash(vendorScript)
  const ro = { signal: opts.signal }
  const attempts: LicenceReport['attempts'] = []
  try {
    let tips = fetchTips(clients, ro)
    let retriedTips = false
    let best: LicenceVerdict | undefined
    let lastError: SovError | undefined
    for (const client of clients) {
      const server = client.url.url
      try {
        const [raw, history] = await client.batch([
          ['blockchain.transaction.get', [txid, false]],
          ['blockchain.scripthash.get_history', [scripthash]]
        ], ro)
        if (typeof raw !== 'string') throw electrumError(`Cannot use ${server}: blockchain.transaction.get did not return hex`)
        const height = heightInHistory(history, txid, server)
        let reports = await tips
        // A block found between two servers' answers looks like disagreement: ask once more.
        if (!agree(reports) && !retriedTips) {
          retriedTips = true
          tips = fetchTips(clients, ro)
          reports = await tips
        }
        let merkle: LicenceEvidence['merkle'] = null
        let headers: string[] = []
        if (height !== null && height > 0) {
          const own = reports.find(t => t.server === server) ?? reports[0]
          const tipHeight = own?.height ?? height
          const [m, h] = await Promise.all([
            client.request<any>('blockchain.transaction.get_merkle', [txid, height], ro),
            fetchHeaders(client, height, tipHeight, ro)
          ])
          merkle = { blockHeight: m?.block_height, branch: m?.merkle, pos: m?.pos }
          headers = h
        }
        const verdict = verifyEvidence(terms, { rawTx: raw, height, merkle, headers, tips: reports, serversConfigured: clients.length, server })
        attempts.push({ server, status: verdict.status })
        if (best === undefined || RANK[verdict.status] > RANK[best.status]) best = verdict
        if (!worthAnotherServer(verdict)) break
      } catch (err) {
        let e = toSovError(err, 'ELECTRUM_ERROR')
        if (e.code === 'BAD_REQUEST') throw e
        // Electrum relays bitcoind's RPC -5 as a raw `DaemonError({'code': -5…})` (issue 14).
        if (/transaction\.get\b.*(No such mempool or blockchain transaction|'code': -5\b)/.test(e.message)) {
          e = electrumError(`Cannot find transaction ${txid} on ${server}: the server does not know it (not broadcast yet, a typo, or another network than --network ${terms.network}); check the txid, or wait until it is broadcast`, { cause: err })
        }
        lastError = e
        attempts.push({ server, status: 'error', error: e.toJSON() })
      }
    }
    const verdict = best ?? undecided(terms, lastError ?? electrumError('Cannot verify the licence: no server answered'))
    const report: LicenceReport = { ...verdict, checkedAt: new Date().toISOString(), servers: clients.map(c => c.url.url), attempts }
    if (verdict.status === 'error') {
      const tipProblem = verdict.checks.find(c => c.name === 'tipAgreement' && !c.ok)
      report.error = lastError?.toJSON() ?? { code: 'ELECTRUM_ERROR', message: `Cannot verify the licence: ${tipProblem?.detail ?? 'the servers gave no usable answer'}` }
    }
    return report
  } finally {
    for (const c of owned) c.close()
  }
}

const RANK: Record<LicenceStatus, number> = { error: 0, invalid: 1, pending: 2, valid: 3 }

/**
 * Whether another server could change the verdict. Not when it is valid, nor when the
 * transaction is authentic (its txid checks) and its outputs fail the terms, nor when the proof
 * holds and only confirmations are missing.
 */
function worthAnotherServer (v: LicenceVerdict): boolean {
  const ok = (name: string): boolean => v.checks.find(c => c.name === name)?.ok === true
  if (v.status === 'valid') return false
  if (v.status === 'invalid' && ok('txid') && (!ok('payment') || !ok('opReturn'))) return false
  if (v.status === 'pending' && ok('history') && ok('headerChain') && ok('merkleRoot')) return false
  return true
}

function undecided (terms: LicenceTerms, err: SovError): LicenceVerdict {
  const base = verifyEvidence(terms, { rawTx: '', height: null, merkle: null, headers: [], tips: [], serversConfigured: 0 })
  return {
    ...base,
    status: 'error',
    // The reason is reported once, as the report's `error`; here only that nothing was checked.
    checks: CHECK_NAMES.map(name => ({ name, ok: false, detail: `not checked: no usable answer from any server (${err.code})` }))
  }
}

async function fetchTips (clients: ElectrumClient[], ro: { signal?: AbortSignal }): Promise<TipReport[]> {
  const settled = await Promise.allSettled(clients.map(async c => {
    const r = await c.request<any>('blockchain.headers.subscribe', [], ro)
    if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.height) || !isHex(r.hex)) {
      throw electrumError(`Cannot use ${c.url.url}: blockchain.headers.subscribe returned ${JSON.stringify(r)?.slice(0, 80)}`)
    }
    return { server: c.url.url, height: r.height as number, header: r.hex as string }
  }))
  return settled.flatMap(s => s.status === 'fulfilled' ? [s.value] : [])
}

function agree (tips: TipReport[]): boolean {
  return new Set(tips.map(t => `${t.height}:${t.header}`)).size <= 1
}

/** The height the vendor script's history gives the txid (> 0 mined, ≤ 0 mempool), null if absent. */
function heightInHistory (history: unknown, txid: string, server: string): number | null {
  if (!Array.isArray(history)) throw electrumError(`Cannot use ${server}: blockchain.scripthash.get_history did not return a list`)
  let height: number | null = null
  for (const item of history) {
    if (item === null || typeof item !== 'object' || typeof item.tx_hash !== 'string' || !Number.isSafeInteger(item.height)) {
      throw electrumError(`Cannot use ${server}: a history entry is malformed: ${JSON.stringify(item)?.slice(0, 80)}`)
    }
    if (item.tx_hash.toLowerCase() === txid) height = height === null ? item.height : Math.max(height, item.height)
  }
  return height
}

/** Headers `from`..`tip` inclusive, in requests of at most 2016, in either reply form. */
async function fetchHeaders (client: ElectrumClient, from: number, tip: number, ro: { signal?: AbortSignal }): Promise<string[]> {
  const total = tip - from + 1
  if (total <= 0) return []
  if (total > MAX_LINK_HEADERS) throw electrumError(`Cannot link block ${from} to the tip ${tip}: ${total} headers exceed the limit of ${MAX_LINK_HEADERS}`)
  const starts: number[] = []
  for (let s = from; s <= tip; s += HEADERS_PER_REQUEST) starts.push(s)
  // A few chunks in flight at a time: servers meter cost per session, and a year of headers
  // is 26 chunks of ~330 kB.
  const parts: string[][] = []
  for (let i = 0; i < starts.length; i += HEADER_REQUESTS_IN_FLIGHT) {
    parts.push(...await Promise.all(starts.slice(i, i + HEADER_REQUESTS_IN_FLIGHT).map(async start => {
      const count = Math.min(HEADERS_PER_REQUEST, tip - start + 1)
      return splitHeaders(await client.request<any>('blockchain.block.headers', [start, count], ro), client.url.url)
    })))
  }
  return parts.flat()
}

/** Protocol 1.4 replies `{hex, count}` (concatenated); 1.6 replies `{headers: [...], count}`. */
export function splitHeaders (r: any, server: string): string[] {
  const bad = (why: string): SovError => electrumError(`Cannot use ${server}: blockchain.block.headers ${why}`)
  if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.count) || r.count < 0) throw bad('returned no count')
  let out: string[]
  // Lengths are checked here; whether the digits are hex, when each header is parsed.
  if (Array.isArray(r.headers)) {
    out = r.headers
    if (!out.every(h => typeof h === 'string' && h.length === HEADER_BYTES * 2)) throw bad('returned a header that is not 80 bytes of hex')
  } else if (typeof r.hex === 'string') {
    if (r.hex.length % (HEADER_BYTES * 2) !== 0) throw bad('returned hex that is not whole 80-byte headers')
    out = []
    for (let i = 0; i < r.hex.length; i += HEADER_BYTES * 2) out.push(r.hex.slice(i, i + HEADER_BYTES * 2))
  } else {
    throw bad('returned neither "hex" nor "headers"')
  }
  if (out.length !== r.count) throw bad(`said count ${String(r.count)} but sent ${out.length} headers`)
  return out
}
