// What a header's claimed difficulty may be, as far as a client without every header can tell
// (helper finding, stop 30: with only its own target and the network's floor checked, a chain
// made up from the last checkpoint at difficulty 1 — milliseconds of an ASIC per header — would
// have linked). Bitcoin's retarget rule (Core's `CalculateNextWorkRequired`) changes the target
// only at the first block of a period, by at most 4× either way, so within a period every header
// carries the same bits. From one trusted header — the last checkpoint's, or the tip this node
// verified before — every header above it is held to that rule: a made-up chain can ease by 4×
// a period at most, each period's work is still most of a real one's, and its timestamps may run
// at most 2 hours ahead of this machine's clock (Core's `MAX_FUTURE_BLOCK_TIME`). testnet3 lets
// any block take the floor after 20 minutes (`fPowAllowMinDifficultyBlocks`): only the time
// rule holds there.
import { bitsToTarget, type BlockHeader } from './header.js'
import type { NetworkName } from './networks.js'

/** How far ahead of this machine's clock a header's timestamp may be, in seconds (Core: 2 h). */
export const MAX_FUTURE_BLOCK_S = 2 * 3600
/** Largest change of the target at one retarget, either way (Core: 4). */
export const RETARGET_FACTOR = 4n

/** A header trusted for its `bits`: its hash is a checkpoint, or this node verified it before. */
export interface DifficultyReference { height: number, bits: number }

/**
 * Why the headers at `ref.height + 1`, `+ 2`, … (`above`, consecutive heights) break the retarget
 * rule of `network` (periods of `interval` blocks) or the time rule, or undefined when they keep
 * both. `nowS`: this machine's clock, Unix seconds.
 */
export function difficultyProblem (ref: DifficultyReference, above: BlockHeader[], interval: number, network: NetworkName, nowS: number): string | undefined {
  let prevBits = ref.bits
  for (const [i, h] of above.entries()) {
    const height = ref.height + 1 + i
    if (h.timestamp > nowS + MAX_FUTURE_BLOCK_S) return `the header at height ${height} is dated ${new Date(h.timestamp * 1000).toISOString()}, more than 2 hours ahead of this machine's clock`
    if (network === 'test' || h.bits === prevBits) { prevBits = h.bits; continue }
    if (height % interval !== 0) return `the header at height ${height} changes the difficulty (bits ${hex(prevBits)} → ${hex(h.bits)}) inside a period; the target changes only every ${interval} blocks`
    const [before, after] = [bitsToTarget(prevBits), bitsToTarget(h.bits)]
    if (!before.ok || !after.ok) return `the header at height ${height} has bits ${hex(h.bits)} that encode no target`
    if (after.target > before.target * RETARGET_FACTOR || after.target * RETARGET_FACTOR < before.target) {
      return `the header at height ${height} changes the target more than ${RETARGET_FACTOR}× at one retarget (bits ${hex(prevBits)} → ${hex(h.bits)})`
    }
    prevBits = h.bits
  }
  return undefined
}

const hex = (bits: number): string => `0x${bits.toString(16).padStart(8, '0')}`
