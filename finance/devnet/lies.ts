// How a devnet server lies, one mode at a time, so tests can show each lie never yields a
// valid licence. Data lies rewrite an honest result; transport lies break the reply itself.
import { Block, Transaction } from 'bitcoinjs-lib'
import { randomBytes } from 'node:crypto'
import { displayToHash, hashToBigInt, hashToDisplay, sha256d } from '../bytes.js'
import { bitsToTarget } from '../header.js'
import { parsesAsTransaction } from '../merkle.js'
import { mineHeader } from './chain.js'

export const DATA_LIES = ['substituteTx', 'wrongMerkle', 'innerNodeTx', 'badPow', 'unlinkedHeader', 'staleTip', 'forkTip', 'farTip', 'historyHeight'] as const
/** `deepJson`: a reply nested 100,000 deep; `escapes`: an error whose message holds terminal escapes and newlines. */
export const TRANSPORT_LIES = ['noAnswer', 'garbage', 'endlessLine', 'disconnectMidReply', 'deepJson', 'escapes'] as const
export type LieKind = typeof DATA_LIES[number] | typeof TRANSPORT_LIES[number]

export interface Lie {
  kind: LieKind
  /** Which request a transport lie hits. @default 'blockchain.transaction.get' */
  method?: string
  /** How far behind a stale tip is, or ahead a far one (`farTip`, whose missing headers are junk). @default 10 */
  blocks?: number
}

export function isTransportLie (lie: Lie | null): boolean {
  return lie !== null && (TRANSPORT_LIES as readonly string[]).includes(lie.kind)
}

/** Rewrites an honest `result` of `method` according to a data lie. */
export function applyDataLie (lie: Lie, method: string, params: unknown[], result: any, tipHeader: (depth: number) => { hex: string, height: number }): any {
  switch (lie.kind) {
    case 'substituteTx':
      if (method !== 'blockchain.transaction.get' || typeof result !== 'string') return result
      // Same outputs, another transaction: its txid cannot match the one asked for.
      return withLocktime(result)
    case 'wrongMerkle':
      if (method !== 'blockchain.transaction.get_merkle') return result
      return { ...result, merkle: result.merkle.map((h: string, i: number) => i === 0 ? flipNibble(h) : h) }
    case 'innerNodeTx':
      if (method !== 'blockchain.transaction.get_merkle') return result
      return innerNodeBranch(String(params[0]), result)
    case 'badPow':
      if (method === 'blockchain.block.header') return failPow(result)
      if (method !== 'blockchain.block.headers') return result
      return mapHeaders(result, (h, i) => i === 0 ? failPow(h) : h)
    case 'unlinkedHeader':
      if (method !== 'blockchain.block.headers') return result
      return mapHeaders(result, (h, i) => i === 1 ? relinked(h) : h)
    case 'staleTip':
      if (method !== 'blockchain.headers.subscribe') return result
      return tipHeader(lie.blocks ?? 10)
    case 'forkTip':
      if (method !== 'blockchain.headers.subscribe') return result
      return { ...result, hex: forked(result.hex) }
    case 'farTip': {
      if (method === 'blockchain.headers.subscribe') return { ...result, height: result.height + (lie.blocks ?? 10) }
      if (method !== 'blockchain.block.headers') return result
      // Headers past the real tip, as many as asked: 80 zero bytes, which meet no target.
      const asked = Math.min(Number(params[1]), 2016)
      const junk = Math.max(0, asked - result.count)
      if (Array.isArray(result.headers)) return { ...result, headers: [...result.headers, ...Array(junk).fill('00'.repeat(80))], count: result.count + junk }
      return { ...result, hex: result.hex + '00'.repeat(80 * junk), count: result.count + junk }
    }
    case 'historyHeight':
      // The history puts every mined entry one block higher; the merkle branch asked at that
      // height is the real block's (the server looks one lower), claimed for the height asked.
      if (method === 'blockchain.scripthash.get_history') return result.map((e: { height: number }) => ({ ...e, height: e.height > 0 ? e.height + 1 : e.height }))
      if (method === 'blockchain.transaction.get_merkle') return { ...result, block_height: result.block_height + 1 }
      return result
    default:
      return result
  }
}

function withLocktime (rawHex: string): string {
  const tx = Transaction.fromHex(rawHex)
  tx.locktime = tx.locktime + 1
  return tx.toHex()
}

function flipNibble (hex: string): string {
  return hex.slice(0, -1) + (hex.endsWith('0') ? '1' : '0')
}

/**
 * A branch whose level-1 inner node is a valid 64-byte transaction: grind the level-0 sibling
 * until the node's fifth byte is 0x01 (one input), then fill the level-1 sibling so the 64
 * bytes read as version | 1 input | prevout | empty scriptSig | sequence | 1 output (4-byte
 * script) | locktime. The position's second bit is cleared so that node is "left ‖ right".
 */
function innerNodeBranch (txid: string, honest: { block_height: number, merkle: string[], pos: number }): unknown {
  const leaf = displayToHash(txid)
  const right0 = (honest.pos & 1) === 1
  let s0: Uint8Array
  let h1: Uint8Array
  do {
    s0 = randomBytes(32)
    h1 = sha256d(right0 ? Buffer.concat([s0, leaf]) : Buffer.concat([leaf, s0]))
  } while (h1[4] !== 0x01)
  const s1 = new Uint8Array(32)
  s1.set(randomBytes(9), 0)
  s1[9] = 0x00
  s1.set([0xff, 0xff, 0xff, 0xff], 10)
  s1[14] = 0x01
  s1[23] = 0x04
  s1.set([0x51, 0x51, 0x51, 0x51], 24)
  if (!parsesAsTransaction(Buffer.concat([h1, s1]))) throw new Error('innerNodeTx: the crafted node does not parse')
  const rest = honest.merkle.slice(2)
  return { block_height: honest.block_height, merkle: [hashToDisplay(s0), hashToDisplay(s1), ...rest], pos: honest.pos & ~2 }
}

function mapHeaders (r: any, f: (hex: string, i: number) => string): any {
  if (Array.isArray(r.headers)) return { ...r, headers: r.headers.map(f) }
  const parts: string[] = []
  for (let i = 0; i < r.hex.length; i += 160) parts.push(r.hex.slice(i, i + 160))
  return { ...r, hex: parts.map(f).join('') }
}

/** The same header with a nonce whose hash misses the target. */
function failPow (hex: string): string {
  const b = Block.fromHex(hex)
  const t = bitsToTarget(b.bits)
  if (!t.ok) return hex
  do { b.nonce = (b.nonce + 1) >>> 0 } while (hashToBigInt(b.getHash()) <= t.target)
  return b.toHex(true)
}

/** A well-mined header that points at a block nobody has. */
function relinked (hex: string): string {
  const b = Block.fromHex(hex)
  b.prevHash = randomBytes(32)
  mineHeader(b)
  return b.toHex(true)
}

/** A competing header at the same height: same parent, another timestamp, mined. */
function forked (hex: string): string {
  const b = Block.fromHex(hex)
  b.timestamp += 1
  mineHeader(b)
  return b.toHex(true)
}
