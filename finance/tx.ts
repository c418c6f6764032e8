// A minimal, non-throwing transaction reader: the outputs and the txid are all the licence rule
// needs, and the merkle check must ask of every 64-byte inner node "is this a transaction?"
// without paying for an exception each time. It reads the wire format as Bitcoin Core and
// bitcoinjs-lib do (BIP144: marker 0x00 and flag 0x01 announce witnesses); test/licence-tx
// checks it against bitcoinjs-lib on every devnet transaction.
import { hashToDisplay, sha256d } from './bytes.js'

export interface TxOutput { value: bigint, script: Uint8Array }
export interface ParsedTx {
  version: number
  inputs: number
  outputs: TxOutput[]
  locktime: number
  /** The txid as shown: double SHA-256 of the serialisation without witnesses, reversed. */
  txid: string
}

/** Parses exactly one transaction filling all of `bytes`; null when it does not. */
export function parseTx (bytes: Uint8Array): ParsedTx | null {
  const r = new Reader(bytes)
  const version = r.u32()
  let segwit = false
  if (r.left() >= 2 && bytes[r.pos] === 0x00 && bytes[r.pos + 1] === 0x01) {
    segwit = true
    r.pos += 2
  }
  const bodyStart = r.pos
  const nIn = r.varint()
  if (nIn === null) return null
  for (let i = 0; i < nIn; i++) {
    if (!r.skip(36)) return null
    const len = r.varint()
    if (len === null || !r.skip(len) || !r.skip(4)) return null
  }
  const nOut = r.varint()
  if (nOut === null) return null
  const outputs: TxOutput[] = []
  for (let i = 0; i < nOut; i++) {
    const value = r.u64()
    const len = r.varint()
    if (value === null || len === null || r.left() < len) return null
    outputs.push({ value, script: bytes.subarray(r.pos, r.pos + len) })
    r.pos += len
  }
  const bodyEnd = r.pos
  if (segwit) {
    let anyWitness = false
    for (let i = 0; i < nIn; i++) {
      const items = r.varint()
      if (items === null) return null
      if (items > 0) anyWitness = true
      for (let j = 0; j < items; j++) {
        const len = r.varint()
        if (len === null || !r.skip(len)) return null
      }
    }
    // A witness flag with no witness at all is refused, as Core and bitcoinjs-lib refuse it.
    if (!anyWitness) return null
  }
  const locktime = r.u32()
  if (version === null || locktime === null || r.left() !== 0) return null
  const stripped = segwit
    ? Buffer.concat([bytes.subarray(0, 4), bytes.subarray(bodyStart, bodyEnd), bytes.subarray(bytes.length - 4)])
    : bytes
  return { version, inputs: nIn, outputs, locktime, txid: hashToDisplay(sha256d(stripped)) }
}

class Reader {
  pos = 0
  private readonly view: DataView
  constructor (private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  left (): number { return this.bytes.length - this.pos }

  skip (n: number): boolean {
    if (this.left() < n) return false
    this.pos += n
    return true
  }

  u32 (): number | null {
    if (this.left() < 4) return null
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  u64 (): bigint | null {
    if (this.left() < 8) return null
    const v = this.view.getBigUint64(this.pos, true)
    this.pos += 8
    return v
  }

  /** CompactSize; null when truncated or larger than the bytes left could ever hold. */
  varint (): number | null {
    if (this.left() < 1) return null
    const first = this.bytes[this.pos++]
    let v: number
    if (first < 0xfd) v = first
    else if (first === 0xfd) { if (this.left() < 2) return null; v = this.view.getUint16(this.pos, true); this.pos += 2 } else if (first === 0xfe) { if (this.left() < 4) return null; v = this.view.getUint32(this.pos, true); this.pos += 4 } else {
      if (this.left() < 8) return null
      const big = this.view.getBigUint64(this.pos, true)
      this.pos += 8
      if (big > BigInt(this.bytes.length)) return null
      v = Number(big)
    }
    return v > this.bytes.length ? null : v
  }
}
