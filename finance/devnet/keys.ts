// Keys and addresses for the devnet: every address type the licence rule accepts, on any of the
// four networks (a vendor's addresses in tests; the miner's own P2WPKH wallet).
import { payments } from 'bitcoinjs-lib'
import * as ecc from '@bitcoinerlab/secp256k1'
import { ECPairFactory, type ECPairInterface } from 'ecpair'
import { ensureEccLib, type AddressType } from '../address.js'
import { CHAIN_PARAMS, type NetworkName } from '../networks.js'

export const ADDRESS_TYPES: readonly AddressType[] = ['p2pkh', 'p2sh', 'p2wpkh', 'p2wsh', 'p2tr']

export const ECPair = ECPairFactory(ecc)

export interface DevAddress { type: AddressType, address: string, script: Uint8Array, key: ECPairInterface }

/** A fresh key and its address of `type` on `network` (P2SH wraps P2WPKH; P2WSH is a 1-of-1 multisig). */
export function newAddress (type: AddressType, network: NetworkName = 'regtest'): DevAddress {
  return addressOf(type, ECPair.makeRandom({ network: CHAIN_PARAMS[network].addresses }), network)
}

/** The address of `type` that `key` controls on `network`, as `newAddress` makes them. */
export function addressOf (type: AddressType, key: ECPairInterface, network: NetworkName = 'regtest'): DevAddress {
  const net = CHAIN_PARAMS[network].addresses
  const pubkey = key.publicKey
  let p: payments.Payment
  switch (type) {
    case 'p2pkh': p = payments.p2pkh({ pubkey, network: net }); break
    case 'p2sh': p = payments.p2sh({ redeem: payments.p2wpkh({ pubkey, network: net }), network: net }); break
    case 'p2wpkh': p = payments.p2wpkh({ pubkey, network: net }); break
    case 'p2wsh': p = payments.p2wsh({ redeem: payments.p2ms({ m: 1, pubkeys: [pubkey], network: net }), network: net }); break
    case 'p2tr':
      ensureEccLib()
      p = payments.p2tr({ internalPubkey: pubkey.slice(1, 33), network: net })
      break
  }
  return { type, address: p.address!, script: p.output!, key }
}
