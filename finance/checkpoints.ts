// Checkpoints as the Electrum wallet ships them (spesmilo/electrum `electrum/chains/*/checkpoints.json`,
// hashes only): `hashes[i]` is the hash of block (i+1)·2016−1, the last of each difficulty
// period. They let a proof link an old block to the tip by one period of headers plus the
// headers since the last checkpoint. What that trusts: docs/licensing.md "Checkpoints".
import { readFileSync } from 'node:fs'
import type { NetworkName } from './networks.js'

/** Blocks per checkpoint period (a difficulty period). */
export const CHECKPOINT_INTERVAL = 2016

export interface Checkpoints {
  /** Blocks per period. @default CHECKPOINT_INTERVAL */
  interval: number
  /** `hashes[i]`: the block at height (i+1)·interval−1, as shown (display hex). */
  hashes: string[]
}

const cache = new Map<NetworkName, Checkpoints | null>()

/** The checkpoints shipped for `network` (main, test = testnet3, signet); null for regtest. */
export function shippedCheckpoints (network: NetworkName): Checkpoints | null {
  if (network === 'regtest') return null
  let cp = cache.get(network)
  if (cp === undefined) {
    // Read on first use: 200 kB of hashes that only a licence check needs.
    const file = JSON.parse(readFileSync(new URL(`../../finance/checkpoints/${network}.json`, import.meta.url), 'utf8'))
    cp = { interval: CHECKPOINT_INTERVAL, hashes: file.hashes }
    cache.set(network, cp)
  }
  return cp
}

/** Height of checkpoint `i`. */
export function checkpointHeight (cp: Checkpoints, i: number): number {
  return (i + 1) * cp.interval - 1
}
