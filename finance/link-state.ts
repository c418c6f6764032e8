// What a node keeps in its home between licence checks (issue 13): the payment's verified block
// header and the hashes of the last verified headers up to the tip. A recheck then fetches only
// the headers added since, and a reorganisation is found by comparing hashes in that window.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { headerFromHex } from './header.js'
import type { NetworkName } from './networks.js'

/** Verified hashes kept below the tip: a reorganisation deeper than this re-verifies from the checkpoints. */
export const LINK_RECENT = 100

export interface LinkState {
  /** 2 since links must pass the last checkpoint (stop 30): a version-1 state may not have, and is verified afresh. */
  version: 2
  network: NetworkName
  txid: string
  /** The payment's block height. */
  height: number
  /** The payment's block header (hex), whose merkle root holds the transaction. */
  paymentHeader: string
  /** Height of the last verified tip. */
  tipHeight: number
  /** The `bits` of that tip: the next check's retarget rule starts from them. */
  tipBits: number
  /** Hashes (display hex) of the verified blocks at tipHeight−recent.length+1 … tipHeight. */
  recent: string[]
  verifiedAt: string
}

/** The state in `path`, or null when absent or unusable (then the next check starts afresh). */
export function readLinkState (path: string): LinkState | null {
  if (!existsSync(path)) return null
  try {
    const s = JSON.parse(readFileSync(path, 'utf8'))
    const ok = s?.version === 2 && typeof s.txid === 'string' && Number.isSafeInteger(s.height) && Number.isSafeInteger(s.tipHeight) && Number.isSafeInteger(s.tipBits) &&
      Array.isArray(s.recent) && s.recent.length > 0 && s.recent.every((h: unknown) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) &&
      typeof s.paymentHeader === 'string'
    if (!ok) return null
    headerFromHex(s.paymentHeader)
    return s as LinkState
  } catch {
    return null
  }
}

/** Writes the state atomically, mode 0600. */
export function writeLinkState (path: string, state: LinkState): void {
  const tmp = `${path}.tmp`
  writeFileSync(tmp, JSON.stringify(state) + '\n', { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}

/** Whether `state` is about this payment (same network, txid and block height). */
export function stateFits (state: LinkState | null | undefined, network: NetworkName, txid: string, height: number): state is LinkState {
  return state != null && state.network === network && state.txid === txid && state.height === height
}
