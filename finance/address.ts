// Vendor address → output script, for all five address types on all four networks, through
// bitcoinjs-lib's `address.toOutputScript`. P2TR needs an elliptic-curve library (bitcoinjs checks
// the x-only key is on the curve); it is loaded only when a taproot address is first seen
// because its self-test costs ~50 ms.
import { address as btcAddress, initEccLib } from 'bitcoinjs-lib'
import * as ecc from '@bitcoinerlab/secp256k1'
import { badRequest } from '../protocol/index.js'
import { hashToDisplay, sha256 } from './bytes.js'
import { CHAIN_PARAMS, type NetworkName } from './networks.js'

export type AddressType = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr'

let eccReady = false

/** Installs the secp256k1 implementation bitcoinjs-lib needs for taproot (once). */
export function ensureEccLib (): void {
  if (eccReady) return
  initEccLib(ecc)
  eccReady = true
}

/** Decoding an address costs ~30 µs in bitcoinjs-lib; a daemon checks the same one every time. */
const SCRIPT_CACHE_MAX = 64
const scriptCache = new Map<string, Uint8Array>()

/** The scriptPubKey an address pays to; `BAD_REQUEST` naming the address and network otherwise. */
export function outputScriptFor (address: string, network: NetworkName): Uint8Array {
  const key = `${network}:${address}`
  const hit = scriptCache.get(key)
  if (hit !== undefined) return Uint8Array.from(hit)
  const params = CHAIN_PARAMS[network]?.addresses
  let script: Uint8Array
  try {
    if (params === undefined) throw new Error('unknown network')
    if (isTaproot(address)) ensureEccLib()
    script = btcAddress.toOutputScript(address, params)
  } catch (cause) {
    throw badRequest(`Cannot use vendor address "${address}": not a valid ${network} address (${(cause as Error).message})`, { cause })
  }
  if (scriptCache.size >= SCRIPT_CACHE_MAX) scriptCache.delete(scriptCache.keys().next().value!)
  scriptCache.set(key, Uint8Array.from(script))
  return script
}

/** Which of the five types a script is, by its template; `null` for anything else. */
export function scriptType (script: Uint8Array): AddressType | null {
  const s = script
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return 'p2pkh'
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return 'p2sh'
  if (s.length === 22 && s[0] === 0x00 && s[1] === 0x14) return 'p2wpkh'
  if (s.length === 34 && s[0] === 0x00 && s[1] === 0x20) return 'p2wsh'
  if (s.length === 34 && s[0] === 0x51 && s[1] === 0x20) return 'p2tr'
  return null
}

/** Electrum's script hash: SHA-256 of the script, shown reversed. */
export function electrumScripthash (script: Uint8Array): string {
  return hashToDisplay(sha256(script))
}

function isTaproot (address: string): boolean {
  try {
    const d = btcAddress.fromBech32(address)
    return d.version === 1
  } catch {
    return false
  }
}
