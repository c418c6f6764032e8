// Merkle branch checks as strict as the Electrum wallet's (electrum/verifier.py): every node
// 32 bytes, at most 30 levels, the position fully used by the branch, no inner node that parses
// as a 64-byte transaction (the leaf/node ambiguity, CVE-2017-12842), and no right child whose
// left sibling is itself (the duplicated-node ambiguity, CVE-2012-2459).
import { displayToHash, isHex, sha256d } from './bytes.js'
import { parseTx } from './tx.js'

/** Deepest branch accepted: 2^30 transactions is far beyond any block. */
export const MERKLE_MAX_DEPTH = 30

export type MerkleResult =
  | { ok: true, root: Uint8Array }
  | { ok: false, check: 'merkleBranch' | 'merkleInnerNodes', reason: string }

/**
 * Hashes `leaf` (internal byte order) up `branch` (hex as Electrum sends it, display order) at
 * leaf position `pos`; returns the root or the first problem.
 */
export function merkleRootFromBranch (leaf: Uint8Array, branch: unknown, pos: unknown): MerkleResult {
  if (!Array.isArray(branch)) return { ok: false, check: 'merkleBranch', reason: 'branch is not a list' }
  if (branch.length > MERKLE_MAX_DEPTH) return { ok: false, check: 'merkleBranch', reason: `branch has ${branch.length} levels; at most ${MERKLE_MAX_DEPTH} are accepted` }
  if (typeof pos !== 'number' || !Number.isSafeInteger(pos) || pos < 0) return { ok: false, check: 'merkleBranch', reason: `position ${String(pos)} is not a non-negative integer` }
  const nodes: Uint8Array[] = []
  for (const [i, item] of branch.entries()) {
    if (!isHex(item) || item.length !== 64) return { ok: false, check: 'merkleBranch', reason: `node ${i} is not 32 bytes of hex` }
    nodes.push(displayToHash(item))
  }
  // Every bit of the position must be consumed by the branch: a longer position would let one
  // branch prove several positions.
  if (pos >= 2 ** nodes.length) return { ok: false, check: 'merkleBranch', reason: `position ${pos} does not fit a branch of ${nodes.length} levels` }
  let h = leaf
  let index = pos
  for (const [i, node] of nodes.entries()) {
    const right = (index & 1) === 1
    if (right && Buffer.compare(node, h) === 0) return { ok: false, check: 'merkleBranch', reason: `level ${i}: a right child equal to its left sibling` }
    const inner = right ? concat(node, h) : concat(h, node)
    if (parsesAsTransaction(inner)) return { ok: false, check: 'merkleInnerNodes', reason: `level ${i}: the 64-byte inner node parses as a transaction` }
    h = sha256d(inner)
    index = Math.floor(index / 2)
  }
  return { ok: true, root: h }
}

/** True when the bytes are exactly one serialised transaction (with or without witness). */
export function parsesAsTransaction (bytes: Uint8Array): boolean {
  return parseTx(bytes) !== null
}

/** Builds the branch for leaf `index` of `hashes` (internal order), as Electrum would send it. */
export function merkleBranchFor (hashes: Uint8Array[], index: number): string[] {
  const branch: string[] = []
  let level = hashes
  let i = index
  while (level.length > 1) {
    if (level.length % 2 === 1) level = [...level, level[level.length - 1]]
    branch.push(Buffer.from(level[i ^ 1]).reverse().toString('hex'))
    const next: Uint8Array[] = []
    for (let j = 0; j < level.length; j += 2) next.push(sha256d(concat(level[j], level[j + 1])))
    level = next
    i >>= 1
  }
  return branch
}

/** `a ‖ b` in a new array. */
export function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

/** The merkle root of `hashes` (internal order), as Bitcoin computes it (last node doubled). */
export function merkleRoot (hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) throw new Error('a merkle tree needs at least one leaf')
  let level = hashes
  while (level.length > 1) {
    if (level.length % 2 === 1) level = [...level, level[level.length - 1]]
    const next: Uint8Array[] = []
    for (let j = 0; j < level.length; j += 2) next.push(sha256d(concat(level[j], level[j + 1])))
    level = next
  }
  return level[0]
}
