// The four networks a licence may be paid on: address parameters (bitcoinjs-lib) and the
// proof-of-work limit of each, as Bitcoin Core's chainparams define them.
import { networks, type Network } from 'bitcoinjs-lib'

export const NETWORK_NAMES = ['main', 'test', 'signet', 'regtest'] as const
export type NetworkName = typeof NETWORK_NAMES[number]

export interface ChainParams {
  name: NetworkName
  /** Address prefixes for bitcoinjs-lib; signet shares testnet's. */
  addresses: Network
  /** Largest target a header may claim (Core's `consensus.powLimit`): the minimum-work floor. */
  powLimit: bigint
  /** `powLimit` in compact form, for messages. */
  powLimitBits: number
}

export const CHAIN_PARAMS: Record<NetworkName, ChainParams> = {
  main: {
    name: 'main',
    addresses: networks.bitcoin,
    powLimit: 0x00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    powLimitBits: 0x1d00ffff
  },
  test: {
    name: 'test',
    addresses: networks.testnet,
    powLimit: 0x00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    powLimitBits: 0x1d00ffff
  },
  signet: {
    name: 'signet',
    addresses: networks.testnet,
    powLimit: 0x00000377ae000000000000000000000000000000000000000000000000000000n,
    powLimitBits: 0x1e0377ae
  },
  regtest: {
    name: 'regtest',
    addresses: networks.regtest,
    powLimit: 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffn,
    powLimitBits: 0x207fffff
  }
}

export function isNetworkName (value: unknown): value is NetworkName {
  return typeof value === 'string' && (NETWORK_NAMES as readonly string[]).includes(value)
}
