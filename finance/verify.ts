// The licence rule (DESIGN §11) as a pure function: bytes and terms in, a verdict listing every
// check out. No I/O, no clock: what the Electrum servers said is passed in as evidence, so the
// same evidence always gives the same verdict and the rule can be tested with fixed vectors.
import { badRequest } from '../protocol/index.js'
import { outputScriptFor } from './address.js'
import { bytesToHex, displayToHash, equalBytes, hexOrNull, isHex } from './bytes.js'
import { headerFromHex, meetsFloor, meetsOwnTarget, type BlockHeader } from './header.js'
import { linkToTip, type HeaderSegment, type LinkAnchor, type TrustedSpan } from './header-link.js'
import { CHECKPOINT_INTERVAL, checkpointHeight, shippedCheckpoints, type Checkpoints } from './checkpoints.js'
import { difficultyProblem } from './difficulty.js'
import { merkleRootFromBranch } from './merkle.js'
import { CHAIN_PARAMS, isNetworkName, type NetworkName } from './networks.js'
import { licenceHash } from './payload.js'
import { parseTx, type ParsedTx } from './tx.js'

/** What a licence must satisfy (config.json `licence`, or `sov licence verify` flags). */
export interface LicenceTerms {
  /** The payment transaction, as shown (64 hex digits). */
  txid: string
  vendorAddress: string
  /** Smallest payment to the vendor's script, in satoshis. */
  requiredSats: bigint
  network: NetworkName
  /** Confirmations needed, ≥ 1. @default 1 */
  minConf: number
  /** The payment's block height, when known (`licence.height`, `--height`): the proof is then
   *  fetched without the vendor's history (issue 13). */
  height?: number
  /** The machine id the OP_RETURN must commit to. */
  machineId: string
}

/** One server's answer to `blockchain.headers.subscribe`. */
export interface TipReport { server: string, height: number, header: string }

/** What the Electrum servers returned, unchecked. */
export interface LicenceEvidence {
  /** `blockchain.transaction.get` (non-verbose): the raw transaction hex. */
  rawTx: string
  /** Height of the txid in `blockchain.scripthash.get_history` of the vendor script: > 0 mined,
   *  0 or -1 in the mempool, null when the server does not list it. */
  height: number | null
  /** `blockchain.transaction.get_merkle` at that height. */
  merkle: { blockHeight: unknown, branch: unknown, pos: unknown } | null
  /** Raw headers (hex) from the transaction's block up, in order: up to the tip, or to where
   *  `more` or a `spans` entry continues. */
  headers: string[]
  /** Further fetched headers, each run for consecutive heights (issue 13). */
  more?: HeaderSegment[]
  /** Links already known: shipped checkpoints, this node's earlier verification (issue 13). */
  spans?: TrustedSpan[]
  /** Where the retarget rule starts (`LinkPlan.difficultyFrom`): the last checkpoint's header, or a kept verified block's bits. */
  difficultyFrom?: { height: number, bits?: number, header?: string }
  /** Why there is no merkle branch, when the server refused it. */
  merkleRefused?: string
  /** Every server's tip. */
  tips: TipReport[]
  /** How many servers are configured (tip agreement needs two when there are two or more). */
  serversConfigured: number
  /** Which server gave `rawTx`, `merkle` and `headers`. */
  server?: string
}

export type LicenceStatus = 'valid' | 'invalid' | 'pending' | 'error'

/** Every check, in the order the verdict lists them. */
export const CHECK_NAMES = [
  'txid', 'payment', 'opReturn', 'history', 'merkleBranch', 'merkleInnerNodes', 'merkleRoot',
  'headerPow', 'headerMinWork', 'headerChain', 'tipAgreement', 'confirmations'
] as const
export type CheckName = typeof CHECK_NAMES[number]

export interface LicenceCheck { name: CheckName, ok: boolean, detail: string }

export interface LicenceVerdict {
  status: LicenceStatus
  txid: string
  network: NetworkName
  vendorAddress: string
  /** Decimal string: JSON has no BigInt. */
  requiredSats: string
  minConf: number
  /** The 32-byte commitment expected in an OP_RETURN, hex. */
  machineIdHash: string
  height: number | null
  confirmations: number
  tip: { height: number, hash: string } | null
  checks: LicenceCheck[]
  /** The server whose transaction, proof and headers were checked. */
  source?: string
}

const CONTENT: CheckName[] = ['txid', 'payment', 'opReturn']
const PROOF: CheckName[] = ['merkleBranch', 'merkleInnerNodes', 'merkleRoot', 'headerPow', 'headerMinWork', 'headerChain']

/** Refuses terms that cannot be checked (`BAD_REQUEST`), returning the vendor's script. */
export function checkTerms (terms: LicenceTerms): Uint8Array {
  if (!isHex(terms.txid) || terms.txid.length !== 64) throw badRequest(`Cannot verify txid "${terms.txid}": a txid is 64 hex digits`)
  if (!isNetworkName(terms.network)) throw badRequest(`Cannot verify on network "${String(terms.network)}": use main, test, signet or regtest`)
  if (typeof terms.requiredSats !== 'bigint' || terms.requiredSats < 0n) throw badRequest(`Cannot verify: requiredSats must be a non-negative whole number of satoshis, got "${String(terms.requiredSats)}"`)
  if (!Number.isSafeInteger(terms.minConf) || terms.minConf < 1) throw badRequest(`Cannot verify: minConf must be an integer ≥ 1, got "${String(terms.minConf)}" (an unconfirmed payment is pending, never valid)`)
  if (typeof terms.machineId !== 'string' || terms.machineId === '') throw badRequest('Cannot verify: the machine id is empty')
  if (terms.height !== undefined && (!Number.isSafeInteger(terms.height) || terms.height < 1)) throw badRequest(`Cannot verify: height must be a block height ≥ 1, got "${String(terms.height)}"`)
  return outputScriptFor(terms.vendorAddress, terms.network)
}

/**
 * Applies the licence rule to the evidence. `checkpoints`: the network's (default: the shipped
 * ones; none on regtest): the header link must pass the last of them (`LinkAnchor`). Throws only
 * for unusable terms (`BAD_REQUEST`).
 */
export function verifyEvidence (terms: LicenceTerms, ev: LicenceEvidence, checkpoints?: Checkpoints | null): LicenceVerdict {
  const vendorScript = checkTerms(terms)
  const txid = terms.txid.toLowerCase()
  const commitment = licenceHash(terms.machineId)
  const checks = new Map<CheckName, LicenceCheck>()
  const set = (name: CheckName, ok: boolean, detail: string): void => { checks.set(name, { name, ok, detail }) }

  // 1-3: the transaction itself.
  const tx = parsedTx(ev.rawTx)
  if (tx === null) set('txid', false, 'the transaction from the server does not parse')
  if (tx !== null) {
    const computed = tx.txid
    set('txid', computed === txid, computed === txid ? `computed ${computed}` : `the server sent transaction ${computed}, not ${txid}`)
    paymentCheck(tx, vendorScript, terms, set)
    opReturnCheck(tx, commitment, set)
  } else {
    set('payment', false, 'not checked: no transaction')
    set('opReturn', false, 'not checked: no transaction')
  }

  // 4: where the vendor script's history puts it.
  const height = ev.height
  if (height === null) set('history', false, 'the server does not list the transaction in the vendor script\'s history')
  else if (!Number.isSafeInteger(height)) set('history', false, `the server gave height "${String(height)}"`)
  else if (height <= 0) set('history', false, 'unconfirmed: the transaction is in the mempool')
  else set('history', true, terms.height === height ? `block height ${height} from the licence terms (the proof below checks it)` : `mined in the block at height ${height}`)
  const mined = height !== null && Number.isSafeInteger(height) && height > 0

  // Tips: every answering server must report the same tip, and at least two must answer when
  // two or more are configured.
  const tips = tipCheck(ev, set)

  // Proof: merkle branch → header at that height → headers linked up to the agreed tip.
  let confirmations = 0
  if (!mined) {
    for (const name of PROOF) set(name, false, 'not checked: the transaction is not mined')
  } else {
    const depth = proofChecks(terms, txid, height, ev, tips.tip, set, anchorOf(checkpoints === undefined ? shippedCheckpoints(terms.network) : checkpoints))
    // Confirmations count only when the whole proof holds.
    confirmations = PROOF.every(n => checks.get(n)?.ok === true) ? depth : 0
  }
  const enough = confirmations >= terms.minConf
  set('confirmations', enough, `${confirmations} of ${terms.minConf} required`)

  const failed = (names: CheckName[]): boolean => names.some(n => checks.get(n)?.ok !== true)
  let status: LicenceStatus
  if (failed(CONTENT)) status = 'invalid'
  else if (!tips.ok) status = 'error'
  else if (height === null || !Number.isSafeInteger(height)) status = 'error'
  else if (!mined) status = 'pending'
  else if (failed(PROOF)) status = 'invalid'
  else if (!enough) status = 'pending'
  else status = 'valid'

  return {
    status,
    txid,
    network: terms.network,
    vendorAddress: terms.vendorAddress,
    requiredSats: terms.requiredSats.toString(),
    minConf: terms.minConf,
    machineIdHash: bytesToHex(commitment),
    height: mined ? height : null,
    confirmations,
    tip: tips.tip === null ? null : { height: tips.tip.height, hash: tips.tip.header.id },
    checks: CHECK_NAMES.map(n => checks.get(n) ?? { name: n, ok: false, detail: 'not checked' }),
    ...(ev.server !== undefined ? { source: ev.server } : {})
  }
}

// A daemon rechecks the same transaction and branch every hour: both are pure functions of
// their bytes, so the last few results are kept (as headerFromHex keeps headers).
const MEMO_MAX = 64
const txMemo = new Map<string, ParsedTx | null>()
const branchMemo = new Map<string, ReturnType<typeof merkleRootFromBranch>>()

function remember<T> (memo: Map<string, T>, key: string, make: () => T): T {
  if (memo.has(key)) return memo.get(key) as T
  const value = make()
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value!)
  memo.set(key, value)
  return value
}

function parsedTx (raw: unknown): ParsedTx | null {
  if (typeof raw !== 'string') return null
  return remember(txMemo, raw, () => {
    const bytes = hexOrNull(raw)
    return bytes === null ? null : parseTx(bytes)
  })
}

function branchRoot (txid: string, branch: unknown, pos: unknown): ReturnType<typeof merkleRootFromBranch> {
  const key = Array.isArray(branch) && branch.every(n => typeof n === 'string') && typeof pos === 'number' ? `${txid}:${pos}:${branch.join(',')}` : null
  const run = (): ReturnType<typeof merkleRootFromBranch> => merkleRootFromBranch(displayToHash(txid), branch, pos)
  return key === null ? run() : remember(branchMemo, key, run)
}

const levels = (m: { branch: unknown, pos: unknown }): string => {
  const n = (m.branch as unknown[]).length
  return `${n} level${n === 1 ? '' : 's'}, position ${String(m.pos)}`
}

type Setter = (name: CheckName, ok: boolean, detail: string) => void

function paymentCheck (tx: ParsedTx, vendorScript: Uint8Array, terms: LicenceTerms, set: Setter): void {
  let best: { index: number, value: bigint } | null = null
  for (const [index, out] of tx.outputs.entries()) {
    if (!equalBytes(out.script, vendorScript)) continue
    const value = out.value
    if (best === null || value > best.value) best = { index, value }
  }
  if (best === null) set('payment', false, `no output pays ${terms.vendorAddress}`)
  else if (best.value >= terms.requiredSats) set('payment', true, `output ${best.index} pays ${best.value} sats to ${terms.vendorAddress} (${terms.requiredSats} required)`)
  else set('payment', false, `the largest output to ${terms.vendorAddress} pays ${best.value} sats; ${terms.requiredSats} required`)
}

function opReturnCheck (tx: ParsedTx, commitment: Uint8Array, set: Setter): void {
  let seen = 0
  for (const [index, out] of tx.outputs.entries()) {
    if (out.script.length === 0 || out.script[0] !== 0x6a) continue
    seen++
    // Since Bitcoin Core v30 a transaction may carry several OP_RETURN outputs, each with any
    // pushes; one push anywhere must be exactly the 32-byte commitment.
    if (pushes(out.script).some(c => equalBytes(c, commitment))) {
      set('opReturn', true, `output ${index} carries ${bytesToHex(commitment)}`)
      return
    }
  }
  set('opReturn', false, seen === 0
    ? `no OP_RETURN output; expected one carrying ${bytesToHex(commitment)}`
    : `${seen} OP_RETURN output${seen === 1 ? '' : 's'}, none carrying ${bytesToHex(commitment)} (wrong machine id?)`)
}

/**
 * The data pushes of a script after its first opcode (OP_RETURN), as bitcoinjs-lib's
 * `script.decompile` reads them; a script with a truncated push carries nothing.
 */
export function pushes (script: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let i = 1
  while (i < script.length) {
    const op = script[i++]
    if (op === 0 || op > 0x4e) continue // OP_0 pushes nothing; every other opcode carries no data
    let n = op
    const width = op === 0x4c ? 1 : op === 0x4d ? 2 : op === 0x4e ? 4 : 0
    if (width > 0) {
      if (i + width > script.length) return []
      n = 0
      for (let k = width - 1; k >= 0; k--) n = n * 256 + script[i + k]
      i += width
    }
    if (i + n > script.length) return []
    out.push(script.subarray(i, i + n))
    i += n
  }
  return out
}

interface Tip { server: string, height: number, header: BlockHeader, hex: string }

function tipCheck (ev: LicenceEvidence, set: Setter): { ok: boolean, tip: Tip | null } {
  const parsed: Tip[] = []
  const bad: string[] = []
  for (const t of ev.tips) {
    try {
      if (!Number.isSafeInteger(t.height) || t.height < 0) throw new Error(`height "${String(t.height)}"`)
      parsed.push({ server: t.server, height: t.height, header: headerFromHex(t.header), hex: t.header })
    } catch (err) { bad.push(`${t.server}: ${(err as Error).message}`) }
  }
  const needed = Math.min(2, Math.max(1, ev.serversConfigured))
  const own = parsed.find(t => t.server === ev.server) ?? parsed[0] ?? null
  if (bad.length > 0) { set('tipAgreement', false, `unusable tip from ${bad.join('; ')}`); return { ok: false, tip: own } }
  if (parsed.length < needed) {
    set('tipAgreement', false, `only ${parsed.length} of ${ev.serversConfigured} servers reported a tip; ${needed} must agree`)
    return { ok: false, tip: own }
  }
  const distinct = new Set(parsed.map(t => `${t.height}:${t.header.id}`))
  if (distinct.size > 1) {
    set('tipAgreement', false, `servers disagree on the tip: ${parsed.map(t => `${t.server} at ${t.height} (${t.header.id.slice(0, 16)}…)`).join(', ')}`)
    return { ok: false, tip: own }
  }
  set('tipAgreement', true, parsed.length === 1
    ? `one server configured; tip ${own!.height} (${own!.header.id})`
    : `${parsed.length} servers agree on tip ${own!.height} (${own!.header.id})`)
  return { ok: true, tip: own }
}

/** Runs the merkle and header checks; returns the depth of the block below the tip. */
function proofChecks (terms: LicenceTerms, txid: string, height: number, ev: LicenceEvidence, tip: Tip | null, set: Setter, anchor: LinkAnchor | undefined): number {
  const params = CHAIN_PARAMS[terms.network]
  const segments = [{ start: height, headers: ev.headers }, ...(ev.more ?? [])]
  const link = tip === null
    ? { ok: false, detail: 'no tip to link to', headers: [] as BlockHeader[] }
    : linkToTip(height, segments, ev.spans ?? [], { height: tip.height, hash: tip.header.hash, id: tip.header.id }, anchor)
  const headers = link.headers
  let payment: BlockHeader | undefined
  try { payment = ev.headers[0] === undefined ? undefined : headerFromHex(ev.headers[0]) } catch { payment = undefined }

  // Merkle branch to the header at the transaction's height.
  const m = ev.merkle
  if (m === null) {
    set('merkleBranch', false, ev.merkleRefused ?? 'the server gave no merkle branch')
    set('merkleInnerNodes', false, 'not checked: no branch')
    set('merkleRoot', false, 'not checked: no branch')
  } else if (m.blockHeight !== height) {
    set('merkleBranch', false, `the branch is for height ${String(m.blockHeight)}, the history says ${height}`)
    set('merkleInnerNodes', false, 'not checked: branch for another block')
    set('merkleRoot', false, 'not checked: branch for another block')
  } else {
    const r = branchRoot(txid, m.branch, m.pos)
    if (!r.ok) {
      set(r.check, false, r.reason)
      if (r.check === 'merkleBranch') set('merkleInnerNodes', false, 'not checked: malformed branch')
      else set('merkleBranch', true, levels(m))
      set('merkleRoot', false, 'not checked: the branch was refused')
    } else {
      set('merkleBranch', true, levels(m))
      set('merkleInnerNodes', true, 'no inner node parses as a transaction')
      if (payment === undefined) set('merkleRoot', false, `no header at height ${height}`)
      else if (equalBytes(r.root, payment.merkleRoot)) set('merkleRoot', true, `matches block ${payment.id} at height ${height}`)
      else set('merkleRoot', false, `the branch hashes to ${Buffer.from(r.root).reverse().toString('hex')}, block ${payment.id} commits to ${Buffer.from(payment.merkleRoot).reverse().toString('hex')}`)
    }
  }

  // Proof of work of every header, and the network's floor.
  const pow = headers.map(h => meetsOwnTarget(h)).find(r => !r.ok)
  const floor = headers.map(h => meetsFloor(h, params.powLimit, params.powLimitBits)).find(r => !r.ok)
  const none = headers.length === 0 ? 'no headers' : null
  set('headerPow', none === null && pow === undefined, none ?? pow?.reason ?? `${headers.length} header${headers.length === 1 ? '' : 's'} meet their own targets`)
  const retarget = floor === undefined && none === null && link.ok ? difficultyCheck(terms.network, height, segments, ev.difficultyFrom, anchor, tip!.height) : undefined
  set('headerMinWork', none === null && floor === undefined && retarget === undefined, none ?? floor?.reason ?? retarget ?? `every target within the ${terms.network} limit${ev.difficultyFrom !== undefined ? ` and the retarget rule from height ${ev.difficultyFrom.height}` : ''}`)

  // Linked from the transaction's block to the agreed tip, by headers and known spans.
  set('headerChain', link.ok, link.detail)

  return tip !== null ? tip.height - height + 1 : 0
}

/** The last checkpoint, which every link must pass; none without checkpoints. */
function anchorOf (cp: Checkpoints | null): LinkAnchor | undefined {
  if (cp === null || cp.hashes.length === 0) return undefined
  return { height: checkpointHeight(cp, cp.hashes.length - 1), hash: cp.hashes[cp.hashes.length - 1] }
}

/**
 * Why the walked headers above the reference break the retarget or time rule (`difficultyProblem`),
 * or undefined. The reference is the last checkpoint's header (its hash must be the checkpoint),
 * a kept verified block, or — without checkpoints (regtest) — the payment's own block.
 */
function difficultyCheck (network: NetworkName, height: number, segments: HeaderSegment[], from: LicenceEvidence['difficultyFrom'], anchor: LinkAnchor | undefined, tipHeight: number): string | undefined {
  const byHeight = new Map<number, BlockHeader>()
  for (const seg of segments) seg.headers.forEach((hex, i) => { try { byHeight.set(seg.start + i, headerFromHex(hex)) } catch {} })
  let ref: { height: number, bits: number }
  if (from?.header !== undefined) {
    let h: BlockHeader
    try { h = headerFromHex(from.header) } catch (err) { return `the header given for the last checkpoint does not parse: ${(err as Error).message}` }
    if (anchor === undefined || from.height !== anchor.height || h.id !== anchor.hash) return `the header given for height ${from.height} is ${h.id}, not the checkpoint ${anchor?.hash ?? '(none)'}`
    ref = { height: from.height, bits: h.bits }
  } else if (from?.bits !== undefined) {
    ref = { height: from.height, bits: from.bits }
  } else if (anchor !== undefined) {
    return 'no trusted header to check the difficulty from'
  } else {
    const payment = byHeight.get(height)
    if (payment === undefined) return undefined
    ref = { height, bits: payment.bits }
  }
  const above: BlockHeader[] = []
  for (let at = ref.height + 1; at <= tipHeight; at++) {
    const h = byHeight.get(at)
    if (h === undefined) return `cannot check the difficulty at height ${at}: no header there`
    above.push(h)
  }
  return difficultyProblem(ref, above, CHECKPOINT_INTERVAL, network, Math.floor(Date.now() / 1000))
}
