// Fetches the evidence for a licence from Electrum servers and hands it to the pure verifier.
// Trust no single server: the proof (txid, merkle branch, headers with their work) checks
// itself, so a server can only deny, never forge; the tip every server reports must agree; a
// server whose evidence does not verify is followed by the next one, and the best verdict wins.
import { toSovError, electrumError, type SovError } from '../protocol/index.js'
import { electrumScripthash } from './address.js'
import { isHex } from './bytes.js'
import { ElectrumClient, preview, serverRefusal, type ElectrumClientOptions } from './electrum-client.js'
import { headerFromHex } from './header.js'
import { shippedCheckpoints, type Checkpoints } from './checkpoints.js'
import { CHAIN_PARAMS } from './networks.js'
import { stateFits, type LinkState } from './link-state.js'
import type { LicenceSettings } from './terms.js'
import { nextLinkState, planLink, type LinkPlan } from './link-plan.js'
import {
  CHECK_NAMES, checkTerms, verifyEvidence,
  type LicenceEvidence, type LicenceStatus, type LicenceTerms, type LicenceVerdict, type TipReport
} from './verify.js'

export interface VerifyLicenceOptions extends ElectrumClientOptions {
  signal?: AbortSignal
  /** What the last verification of this payment kept (the home's `licence-headers.json`):
   *  a recheck then fetches only the headers since. Ignored when about another payment. */
  linkState?: LinkState | null
  /** Progress of the header download (a long first verification on slow servers): headers fetched, of how many. */
  onProgress?: (fetched: number, total: number) => void
  /** Checkpoints to link old blocks by. @default the ones shipped for the network (none for regtest); null for none */
  checkpoints?: Checkpoints | null
}

/** A verdict as `verifyLicence` returns it: the pure verdict plus when and from whom. */
export interface LicenceReport extends LicenceVerdict {
  checkedAt: string
  servers: string[]
  /** Each server tried for the transaction and its proof, in order. */
  attempts: Array<{ server: string, status: LicenceStatus, error?: { code: string, message: string }, unreachable?: true }>
  /** Set by `withGrace`: a `valid` kept through an outage, when it was last verified, until when it holds. */
  stale?: boolean
  lastVerifiedAt?: string
  graceUntil?: string
  /** True when no verdict was reached for want of answers, not for any answer (issue 13; helper
   *  finding: one of two servers down gave `error` at once): every server unreachable (no answer,
   *  not even a refusal), or too few servers reported the tip because the others were
   *  unreachable while those that answered agree and prove the payment. The outage grace applies. */
  unreachable?: boolean
  /** True when the check stopped before asking any server (an unreadable `electrumCa`, unusable
   *  terms): no evidence either way; the grace applies as to an outage (`withGrace`). */
  unchecked?: boolean
  /** The payment's block height, found in the vendor's history because the terms gave none, and
   *  only when the proof at that height held: the value to save as `licence.height` / `--height`
   *  (issue 13; helper finding: a server lying about the height had it printed as advice). */
  heightFound?: number
  /** The state to keep for the next recheck (when the proof held), see `linkState`. */
  link?: LinkState
  /** Block headers fetched for this verdict (tips aside). */
  headersFetched: number
  /** What changed in the chain since the last verification (a reorganisation), if anything. */
  chainNote?: string
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
    let heightFound: number | undefined
    let link: LinkState | undefined
    let chainNote: string | undefined
    let fetched = 0
    /** Servers whose tip did not come because they could not be reached, when that alone kept the best verdict from `valid`. */
    let outage: TipFailure[] | undefined
    const checkpoints = opts.checkpoints === undefined ? shippedCheckpoints(terms.network) : opts.checkpoints
    for (const client of clients) {
      const server = client.url.url
      try {
        // With the block height in the terms, no history: it grows by one entry per licence
        // the vendor sells, and servers refuse long ones (electrs above 500 entries).
        const hint = terms.height
        let raw: unknown
        let second: unknown
        let merkleRefused: string | undefined
        try {
          [raw, second] = await client.batch([
            ['blockchain.transaction.get', [txid, false]],
            hint !== undefined ? ['blockchain.transaction.get_merkle', [txid, hint]] : ['blockchain.scripthash.get_history', [scripthash]]
          ], ro)
        } catch (err) {
          const r = serverRefusal(err)
          if (hint === undefined || r?.method !== 'blockchain.transaction.get_merkle') throw explain(err, txid, server)
          // Evidence, not an outage: this server's chain has no such transaction in that block.
          raw = await client.request('blockchain.transaction.get', [txid, false], ro).catch(e => { throw explain(e, txid, server) })
          merkleRefused = await whyNotInBlock(client, hint, r.message, stateFits(opts.linkState, terms.network, txid, hint) ? opts.linkState : null, ro)
        }
        if (typeof raw !== 'string') throw electrumError(`Cannot use ${server}: blockchain.transaction.get did not return hex`)
        const height = hint ?? heightInHistory(second, txid, server)
        let got = await tips
        // A block found between two servers' answers looks like disagreement: ask once more.
        if (!agree(got.tips) && !retriedTips) {
          retriedTips = true
          tips = fetchTips(clients, ro)
          got = await tips
        }
        const reports = got.tips
        let merkle: LicenceEvidence['merkle'] = null
        let plan: LinkPlan | undefined
        if (height !== null && height > 0 && merkleRefused === undefined) {
          const own = reports.find(t => t.server === server) ?? reports[0]
          const [m, p] = await Promise.all([
            hint !== undefined ? second as any : client.request<any>('blockchain.transaction.get_merkle', [txid, height], ro),
            own === undefined ? undefined : planLink(client, { height, tip: { height: own.height, hex: own.header }, state: stateFits(opts.linkState, terms.network, txid, height) ? opts.linkState : null, checkpoints, pow: CHAIN_PARAMS[terms.network], signal: opts.signal, onProgress: opts.onProgress })
          ])
          merkle = { blockHeight: m?.block_height, branch: m?.merkle, pos: m?.pos }
          plan = p
        }
        const evidence: LicenceEvidence = { rawTx: raw, height, merkle, headers: plan?.headers ?? [], more: plan?.more, spans: plan?.spans, difficultyFrom: plan?.difficultyFrom, merkleRefused, tips: reports, serversConfigured: clients.length, server }
        let verdict = verifyEvidence(terms, evidence, checkpoints)
        // Too few tips because servers could not be reached is an outage, not evidence: what the
        // servers that answered prove decides. Their `valid` stays undecided (two must agree on
        // the tip when two are configured) but marked as an outage, so the grace applies;
        // their `invalid` or `pending` is evidence and stands. Reachable servers that disagree,
        // refuse or send an unusable tip are never an outage.
        let thisOutage: TipFailure[] | undefined
        const tipCheck = verdict.checks.find(c => c.name === 'tipAgreement')
        if (verdict.status === 'error' && tipCheck?.ok === false && got.failed.length > 0 && got.failed.every(f => f.unreachable) && reports.length > 0 && agree(reports)) {
          const answered = verifyEvidence(terms, { ...evidence, serversConfigured: reports.length }, checkpoints)
          if (answered.status === 'valid') thisOutage = got.failed
          else if (answered.status !== 'error') verdict = answered
        }
        fetched += plan?.fetched ?? 0
        if (plan?.note !== undefined) chainNote = plan.note
        if (plan !== undefined && proofHolds(verdict) && (best === undefined || RANK[verdict.status] > RANK[best.status])) {
          link = nextLinkState(plan, { network: terms.network, txid, height: height!, tipHeight: verdict.tip!.height })
        }
        attempts.push({ server, status: verdict.status })
        if (best === undefined || RANK[verdict.status] > RANK[best.status] || (RANK[verdict.status] === RANK[best.status] && outage === undefined && thisOutage !== undefined)) {
          best = verdict
          outage = thisOutage
        }
        if (proofHolds(verdict, false) && hint === undefined && height !== null && height > 0) heightFound = height
        if (!worthAnotherServer(verdict)) break
      } catch (err) {
        const e = toSovError(err, 'ELECTRUM_ERROR')
        if (e.code === 'BAD_REQUEST') throw e
        lastError = e
        // A refusal is an answer; a dead, silent or garbling server is not (the outage grace).
        attempts.push({ server, status: 'error', error: e.toJSON(), ...(answered(err) ? {} : { unreachable: true }) })
      }
    }
    const verdict = best ?? undecided(terms, lastError ?? electrumError('Cannot verify the licence: no server answered'))
    const report: LicenceReport = { ...verdict, checkedAt: new Date().toISOString(), servers: clients.map(c => c.url.url), attempts, headersFetched: fetched }
    if (link !== undefined && verdict.status !== 'error') report.link = link
    if (chainNote !== undefined) report.chainNote = chainNote
    if (verdict.status === 'error' && ((attempts.length > 0 && attempts.every(a => a.unreachable === true)) || outage !== undefined)) report.unreachable = true
    if (heightFound !== undefined && verdict.height === heightFound) report.heightFound = heightFound
    if (verdict.status === 'error') {
      const tipProblem = verdict.checks.find(c => c.name === 'tipAgreement' && !c.ok)
      report.error = outage !== undefined
        ? { code: outage[0].error.code, message: `Cannot verify the licence: ${outage.map(f => f.server).join(', ')} could not be reached (${outage[0].error.message}); ${tipProblem?.detail ?? 'too few servers reported the tip'}` }
        : lastError?.toJSON() ?? { code: 'ELECTRUM_ERROR', message: `Cannot verify the licence: ${tipProblem?.detail ?? 'the servers gave no usable answer'}` }
    }
    return report
  } finally {
    for (const c of owned) c.close()
  }
}

/**
 * The report of a check that stopped before asking any server (an unreadable `electrumCa`,
 * unusable terms, no machine id): status `error`, `unchecked`, the reason as `error`, the terms
 * as configured. The daemon records it like any verdict (helper finding: such a failure left the
 * old `valid` shown forever, with no audit row); `withGrace` treats it as an outage.
 */
export function uncheckedReport (settings: LicenceSettings, err: SovError, now = new Date()): LicenceReport {
  return {
    status: 'error',
    txid: typeof settings.txid === 'string' ? settings.txid.toLowerCase() : '',
    network: (typeof settings.network === 'string' ? settings.network : 'main') as LicenceVerdict['network'],
    vendorAddress: typeof settings.vendorAddress === 'string' ? settings.vendorAddress : '',
    requiredSats: settings.requiredSats === undefined ? '' : String(settings.requiredSats),
    minConf: settings.minConf ?? 1,
    machineIdHash: '',
    height: settings.height ?? null,
    confirmations: 0,
    tip: null,
    checks: CHECK_NAMES.map(name => ({ name, ok: false, detail: `not checked: the check stopped before asking any server (${err.code})` })),
    checkedAt: now.toISOString(),
    servers: Array.isArray(settings.electrum) ? settings.electrum : [],
    attempts: [],
    headersFetched: 0,
    unchecked: true,
    error: err.toJSON()
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

/** A server whose tip did not come; `unreachable` when it gave no answer at all (not even a refusal). */
interface TipFailure { server: string, error: { code: string, message: string }, unreachable: boolean }

async function fetchTips (clients: ElectrumClient[], ro: { signal?: AbortSignal }): Promise<{ tips: TipReport[], failed: TipFailure[] }> {
  const settled = await Promise.allSettled(clients.map(async c => {
    const r = await c.request<any>('blockchain.headers.subscribe', [], ro)
    if (r === null || typeof r !== 'object' || !Number.isSafeInteger(r.height) || !isHex(r.hex)) {
      throw electrumError(`Cannot use ${c.url.url}: blockchain.headers.subscribe returned ${preview(r, 80)}`)
    }
    return { server: c.url.url, height: r.height as number, header: r.hex as string }
  }))
  return {
    tips: settled.flatMap(s => s.status === 'fulfilled' ? [s.value] : []),
    failed: settled.flatMap((s, i) => s.status === 'fulfilled' ? [] : [{ server: clients[i].url.url, error: toSovError(s.reason, 'ELECTRUM_ERROR').toJSON(), unreachable: !answered(s.reason) }])
  }
}

/** Whether an error is the server's own refusal (an answer), not a dead, silent or garbling server. */
function answered (err: unknown): boolean {
  return serverRefusal(err) !== undefined || serverRefusal((err as { cause?: unknown })?.cause) !== undefined
}

function agree (tips: TipReport[]): boolean {
  return new Set(tips.map(t => `${t.height}:${t.header}`)).size <= 1
}

/**
 * A server's refusal, said plainly: an unknown transaction, a history too long to serve, a
 * transaction not in the block the terms name. Other errors pass unchanged.
 */
function explain (err: unknown, txid: string, server: string): unknown {
  const r = serverRefusal(err)
  if (r === undefined) return err
  if (r.method === 'blockchain.transaction.get' && /no such mempool or blockchain transaction|not found|unknown/i.test(r.message)) {
    return electrumError(`Cannot find transaction "${txid}" on ${server}: the server does not know it (not broadcast yet, or a transaction of another network?); check the txid and --network`, { cause: err })
  }
  if (r.method === 'blockchain.scripthash.get_history') {
    return electrumError(`Cannot find the block of transaction "${txid}" on ${server}: the server refuses the vendor address's history (${r.message.slice(0, 120)}); give the payment's block height with --height N or "licence.height" in config.json (your wallet or a block explorer shows it)`, { cause: err })
  }
  return err
}

/** The detail for a merkle branch refused at the terms' height: a wrong height, or a reorganisation that replaced the block. */
async function whyNotInBlock (client: ElectrumClient, height: number, said: string, state: LinkState | null | undefined, ro: { signal?: AbortSignal }): Promise<string> {
  const base = `the server says the transaction is not in the block at height ${height} (${said.slice(0, 120)})`
  if (state == null) return `${base}; check "licence.height" / --height, or leave it out once to find the height`
  const now = await client.request<string>('blockchain.block.header', [height], ro).catch(() => null)
  const was = headerFromHex(state.paymentHeader).id
  if (typeof now === 'string' && now.length === 160 && headerFromHex(now).id !== was) {
    return `${base}: the block ${was} that held the payment was replaced by ${headerFromHex(now).id} (a reorganisation); the payment is no longer confirmed there`
  }
  return base
}

/** Whether the proof part held: the state is worth keeping; without `tips`, whether the block height is proven (the history's claim checked by the branch and headers). */
function proofHolds (v: LicenceVerdict, tips = true): boolean {
  const names = ['history', 'merkleBranch', 'merkleInnerNodes', 'merkleRoot', 'headerPow', 'headerMinWork', 'headerChain', ...(tips ? ['tipAgreement'] : [])]
  return names.every(n => v.checks.find(c => c.name === n)?.ok === true)
}

/** The height the vendor script's history gives the txid (> 0 mined, ≤ 0 mempool), null if absent. */
function heightInHistory (history: unknown, txid: string, server: string): number | null {
  if (!Array.isArray(history)) throw electrumError(`Cannot use ${server}: blockchain.scripthash.get_history did not return a list`)
  let height: number | null = null
  for (const item of history) {
    if (item === null || typeof item !== 'object' || typeof item.tx_hash !== 'string' || !Number.isSafeInteger(item.height)) {
      throw electrumError(`Cannot use ${server}: a history entry is malformed: ${preview(item, 80)}`)
    }
    if (item.tx_hash.toLowerCase() === txid) height = height === null ? item.height : Math.max(height, item.height)
  }
  return height
}
