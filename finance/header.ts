// Block headers: parsing the 80 bytes, the compact `bits` target (as Core's SetCompact and
// DeriveTarget read it), proof of work against the header's own bits, and the network floor.
import { hashToBigInt, hashToDisplay, hexToBytes, sha256d } from './bytes.js'

export const HEADER_BYTES = 80

export interface BlockHeader {
  version: number
  /** Previous block hash, internal byte order. */
  prevHash: Uint8Array
  /** Merkle root, internal byte order. */
  merkleRoot: Uint8Array
  timestamp: number
  bits: number
  nonce: number
  /** This header's hash, internal byte order. */
  hash: Uint8Array
  /** The block hash as shown (reversed hex). */
  id: string
}

/** Parses exactly 80 bytes; throws otherwise. */
export function parseHeader (bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_BYTES) throw new Error(`a header is ${HEADER_BYTES} bytes, got ${bytes.length}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const hash = sha256d(bytes)
  let id: string | undefined
  return {
    version: view.getInt32(0, true),
    prevHash: bytes.subarray(4, 36),
    merkleRoot: bytes.subarray(36, 68),
    timestamp: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
    hash,
    // Shown only in messages and the verdict's tip: computed when asked.
    get id () { return (id ??= hashToDisplay(hash)) }
  }
}

/** Headers remembered by `headerFromHex`: a daemon re-checks the same chain every hour. */
export const HEADER_MEMO_MAX = 4096
const memo = new Map<string, BlockHeader>()

/**
 * `parseHeader` of 80 bytes given as hex, memoised by the hex: hashing is pure, so a header seen
 * before (the same bytes) need not be hashed again. Throws on anything but 160 hex digits.
 */
export function headerFromHex (hex: string): BlockHeader {
  const hit = memo.get(hex)
  if (hit !== undefined) return hit
  // A copy of its own: a pooled Buffer slice would keep an 8 KiB slab alive per remembered header.
  const h = parseHeader(Uint8Array.from(hexToBytes(hex)))
  if (memo.size >= HEADER_MEMO_MAX) memo.delete(memo.keys().next().value!)
  memo.set(hex, h)
  return h
}

export type TargetResult = { ok: true, target: bigint } | { ok: false, reason: string }

/** Headers of a chain share a handful of `bits` values; decoding each once is enough. */
const targets = new Map<number, TargetResult>()

/** The target `bits` encodes; refuses negative, zero and overflowing encodings as Core does. */
export function bitsToTarget (bits: number): TargetResult {
  let t = targets.get(bits)
  if (t === undefined) {
    if (targets.size >= 1024) targets.clear()
    t = decodeBits(bits)
    targets.set(bits, t)
  }
  return t
}

function decodeBits (bits: number): TargetResult {
  const size = bits >>> 24
  // As Core's SetCompact: the sign and overflow tests look at the word after a small size shifts it.
  const word = size <= 3 ? (bits & 0x007fffff) >>> (8 * (3 - size)) : bits & 0x007fffff
  const target = size <= 3 ? BigInt(word) : BigInt(word) << BigInt(8 * (size - 3))
  if (word !== 0 && (bits & 0x00800000) !== 0) return { ok: false, reason: `bits ${hex32(bits)} encode a negative target` }
  if (word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))) return { ok: false, reason: `bits ${hex32(bits)} overflow 256 bits` }
  if (target === 0n) return { ok: false, reason: `bits ${hex32(bits)} encode a zero target` }
  return { ok: true, target }
}

/** Whether the header's hash meets the target of its own `bits`. */
export function meetsOwnTarget (h: BlockHeader): { ok: boolean, reason: string } {
  const t = bitsToTarget(h.bits)
  if (!t.ok) return { ok: false, reason: t.reason }
  return hashToBigInt(h.hash) <= t.target
    ? { ok: true, reason: '' }
    : { ok: false, reason: `block ${h.id} does not meet its target (bits ${hex32(h.bits)})` }
}

/** Whether the header claims at least the network's minimum work (target ≤ pow limit). */
export function meetsFloor (h: BlockHeader, powLimit: bigint, powLimitBits: number): { ok: boolean, reason: string } {
  const t = bitsToTarget(h.bits)
  if (!t.ok) return { ok: false, reason: t.reason }
  return t.target <= powLimit
    ? { ok: true, reason: '' }
    : { ok: false, reason: `block ${h.id} claims bits ${hex32(h.bits)}, easier than the network's limit ${hex32(powLimitBits)}` }
}

function hex32 (n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0')
}
