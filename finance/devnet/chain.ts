// A regtest chain built in memory with bitcoinjs-lib: Bitcoin Core's regtest genesis block,
// coinbases paying the miner (BIP34 height, witness commitment), signed P2WPKH spends of mature
// coinbases, real merkle roots, headers mined to regtest's bits 0x207fffff. It answers the
// lookups an Electrum server needs (raw tx, history by script hash, merkle branch, headers).
import { Block, Transaction, address as btcAddress, opcodes, payments, script as bscript } from 'bitcoinjs-lib'
import { randomBytes } from 'node:crypto'
import { outputScriptFor } from '../address.js'
import { displayToHash, hashToBigInt, hashToDisplay, hexToBytes, sha256, sha256d } from '../bytes.js'
import { bitsToTarget } from '../header.js'
import { concat, merkleBranchFor, merkleRoot } from '../merkle.js'
import { CHAIN_PARAMS } from '../networks.js'
import { licenceHash } from '../payload.js'
import type { ECPairInterface } from 'ecpair'
import { ECPair } from './keys.js'

export const REGTEST_BITS = 0x207fffff
/** Blocks before a coinbase may be spent (consensus). */
export const COINBASE_MATURITY = 100
/** Regtest halves the subsidy every 150 blocks. */
const HALVING_INTERVAL = 150
const INITIAL_SUBSIDY = 5_000_000_000n
/** Fee of every devnet spend, in sats. */
export const DEVNET_FEE_SATS = 1_000n
/** Blocks mined at creation: one coinbase is mature and spendable. */
export const DEVNET_INITIAL_BLOCKS = COINBASE_MATURITY + 1

const GENESIS_SCRIPT_SIG = '04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73'
const GENESIS_OUTPUT = '4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac'
/** Bitcoin Core's regtest genesis hash; `RegtestChain` reproduces it byte for byte. */
export const REGTEST_GENESIS_HASH = '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206'

export interface PaymentOutput { address?: string, script?: Uint8Array, sats: bigint }
export interface SendOptions {
  /** Each entry becomes one OP_RETURN output carrying those pushes. */
  opReturns?: Uint8Array[][]
}
export interface HistoryEntry { tx_hash: string, height: number, fee?: number }

interface Utxo { txid: string, vout: number, value: bigint, script: Uint8Array, coinbaseHeight: number | null }
interface Located { tx: Transaction, height: number, pos: number }

/** A chain as `RegtestChain.saved()` gives it and `RegtestChain.restore()` takes it back. */
export interface SavedChain {
  /** The miner's private key, WIF: the chain's coins are its. */
  miner: string
  /** Every block from genesis, hex (with witnesses). */
  blocks: string[]
  /** The mempool, hex, in order. */
  mempool: string[]
}

export class RegtestChain {
  readonly blocks: Block[] = []
  readonly mempool: Transaction[] = []
  private readonly confirmed = new Map<string, Located>()
  private readonly byScript = new Map<string, Array<{ txid: string, height: number, pos: number }>>()
  private readonly miner: ECPairInterface
  private readonly minerScript: Uint8Array
  private utxos: Utxo[] = []
  private time = 1_296_688_602
  /** The bits the next blocks are mined to (tests make a chain break the retarget rule with it). */
  bits = REGTEST_BITS
  /** `blocks` as hex, made once per block for `saved()`. */
  private readonly hexes: string[] = []

  constructor (opts: { blocks?: number, miner?: ECPairInterface } = {}) {
    this.miner = opts.miner ?? ECPair.makeRandom({ network: CHAIN_PARAMS.regtest.addresses })
    this.minerScript = payments.p2wpkh({ pubkey: this.miner.publicKey }).output!
    this.addBlock(genesisBlock())
    this.mine(Math.max(0, (opts.blocks ?? DEVNET_INITIAL_BLOCKS) - 1))
  }

  /**
   * The chain of `saved`, its coins and mempool as they were. Throws an `Error` saying what does
   * not fit (a block that does not parse or link to the one before, a foreign genesis).
   */
  static restore (saved: SavedChain): RegtestChain {
    const chain = new RegtestChain({ blocks: 1, miner: ECPair.fromWIF(saved.miner, CHAIN_PARAMS.regtest.addresses) })
    if (saved.blocks[0] !== chain.hexes[0]) throw new Error('block 0 is not the regtest genesis block')
    saved.blocks.slice(1).forEach((hex, i) => {
      const block = Block.fromHex(hex)
      if (!equal(block.prevHash!, chain.blocks[i].getHash())) throw new Error(`block ${i + 1} does not link to block ${i}`)
      chain.addBlock(block)
      chain.time = block.timestamp
      for (const tx of block.transactions!) chain.track(tx, tx.isCoinbase() ? i + 1 : null)
    })
    for (const hex of saved.mempool) {
      const tx = Transaction.fromHex(hex)
      if (chain.confirmed.has(tx.getId())) continue
      chain.track(tx, null)
      chain.mempool.push(tx)
    }
    return chain
  }

  /** Everything `restore()` needs to bring this chain back. */
  saved (): SavedChain {
    return { miner: this.miner.toWIF(), blocks: [...this.hexes], mempool: this.mempool.map(t => t.toHex()) }
  }

  /** Height of the tip. */
  get height (): number { return this.blocks.length - 1 }

  headerHex (height: number): string {
    const b = this.blocks[height]
    if (b === undefined) throw new Error(`no block at height ${height}`)
    return b.toHex(true)
  }

  /** Builds, signs and queues a transaction paying `outputs` (plus OP_RETURNs and change). */
  send (outputs: PaymentOutput[], opts: SendOptions = {}): Transaction {
    const scripts = outputs.map(o => o.script ?? outputScriptFor(o.address!, 'regtest'))
    const need = outputs.reduce((s, o) => s + o.sats, 0n) + DEVNET_FEE_SATS
    const inputs: Utxo[] = []
    let have = 0n
    for (const u of this.spendable()) {
      if (have >= need) break
      inputs.push(u)
      have += u.value
    }
    if (have < need) throw new Error(`the devnet miner has ${have} spendable sats; ${need} needed (mine more blocks)`)
    const tx = new Transaction()
    tx.version = 2
    for (const u of inputs) tx.addInput(displayToHash(u.txid), u.vout, 0xfffffffd)
    outputs.forEach((o, i) => tx.addOutput(scripts[i], o.sats))
    for (const pushes of opts.opReturns ?? []) tx.addOutput(bscript.compile([opcodes.OP_RETURN, ...pushes]), 0n)
    const change = have - need
    if (change > 0n) tx.addOutput(this.minerScript, change)
    const scriptCode = payments.p2pkh({ pubkey: this.miner.publicKey }).output!
    inputs.forEach((u, i) => {
      const hash = tx.hashForWitnessV0(i, scriptCode, u.value, Transaction.SIGHASH_ALL)
      const sig = bscript.signature.encode(this.miner.sign(hash), Transaction.SIGHASH_ALL)
      tx.setWitness(i, [sig, this.miner.publicKey])
    })
    const spent = new Set(inputs.map(u => `${u.txid}:${u.vout}`))
    this.utxos = this.utxos.filter(u => !spent.has(`${u.txid}:${u.vout}`))
    const txid = tx.getId()
    tx.outs.forEach((o, vout) => { if (equal(o.script, this.minerScript)) this.utxos.push({ txid, vout, value: o.value, script: o.script, coinbaseHeight: null }) })
    this.mempool.push(tx)
    return tx
  }

  /** A licence payment: `sats` to `to`, the machine's commitment in an OP_RETURN, then `confirmations` blocks. */
  payLicence (opts: { to: string, sats: bigint, machineId: string, confirmations?: number, extraOpReturns?: Uint8Array[][] }): { txid: string, height: number | null } {
    const tx = this.send([{ address: opts.to, sats: opts.sats }], { opReturns: [...(opts.extraOpReturns ?? []), [licenceHash(opts.machineId)]] })
    const confirmations = opts.confirmations ?? 1
    this.mine(confirmations)
    const txid = tx.getId()
    return { txid, height: this.confirmed.get(txid)?.height ?? null }
  }

  /**
   * `count` payments of `sats` to `to`, mined in one block: a vendor's busy history, built
   * cheaply. One signed fan-out to a P2WSH `OP_TRUE` script, then one spend of each of its
   * outputs (valid without a signature); returns their txids.
   */
  payMany (opts: { to: string, sats: bigint, count: number }): string[] {
    const anyone = payments.p2wsh({ redeem: { output: bscript.compile([opcodes.OP_TRUE]) } })
    const each = opts.sats + DEVNET_FEE_SATS
    const fan = this.send(Array.from({ length: opts.count }, () => ({ script: anyone.output!, sats: each })))
    const fanHash = fan.getHash()
    const to = outputScriptFor(opts.to, 'regtest')
    const ids: string[] = []
    for (let i = 0; i < opts.count; i++) {
      const tx = new Transaction()
      tx.version = 2
      tx.addInput(fanHash, i, 0xfffffffd)
      tx.addOutput(to, opts.sats)
      tx.setWitness(0, [anyone.redeem!.output!])
      this.mempool.push(tx)
      ids.push(tx.getId())
    }
    this.mine(1)
    return ids
  }

  /** Dates the next block `unixS` (each after it 600 s later); tests make headers from the future with it. */
  setTime (unixS: number): void {
    this.time = unixS - 600
  }

  /** Mines `n` blocks, the first one taking the whole mempool. */
  mine (n = 1): Block[] {
    const out: Block[] = []
    for (let i = 0; i < n; i++) {
      const txs = this.mempool.splice(0)
      const block = this.buildBlock(txs)
      this.addBlock(block)
      out.push(block)
    }
    return out
  }

  /**
   * A reorganisation: the blocks from `height` up are replaced by `blocks` new ones (default one
   * more than removed, so the new chain is longer). Their transactions go back to the mempool
   * and into the first new block, except those in `leaveOut`, which stay in the mempool.
   */
  reorg (height: number, opts: { blocks?: number, leaveOut?: string[] } = {}): void {
    if (height < 1 || height > this.height) throw new Error(`cannot reorganise from height ${height}: the tip is ${this.height}`)
    const removed = this.blocks.splice(height)
    this.hexes.splice(height)
    const leaveOut = new Set(opts.leaveOut ?? [])
    const gone = new Set<string>()
    const waiting: Transaction[] = []
    for (const b of removed) {
      for (const tx of b.transactions!) {
        const id = tx.getId()
        this.confirmed.delete(id)
        if (tx.isCoinbase()) gone.add(id)
        else if (leaveOut.has(id)) waiting.push(tx)
        else this.mempool.push(tx)
      }
    }
    for (const [sh, list] of this.byScript) this.byScript.set(sh, list.filter(e => e.height < height))
    this.utxos = this.utxos.filter(u => !gone.has(u.txid))
    this.mine(opts.blocks ?? removed.length + 1)
    this.mempool.push(...waiting)
  }

  /** This chain's checkpoints as the Electrum wallet ships them: the last hash of every complete period. */
  checkpoints (interval = 2016): { interval: number, hashes: string[] } {
    const hashes: string[] = []
    for (let h = interval - 1; h <= this.height; h += interval) hashes.push(hashToDisplay(this.blocks[h].getHash()))
    return { interval, hashes }
  }

  // ---- lookups for the Electrum server ----

  rawTx (txid: string): string | undefined {
    const found = this.confirmed.get(txid)?.tx ?? this.mempool.find(t => t.getId() === txid)
    return found?.toHex()
  }

  /** Confirmed entries by (height, position), then the mempool (height 0, or -1 with unconfirmed parents). */
  history (scripthash: string): HistoryEntry[] {
    const out: HistoryEntry[] = (this.byScript.get(scripthash) ?? []).map(e => ({ tx_hash: e.txid, height: e.height }))
    const mempoolIds = new Set(this.mempool.map(t => t.getId()))
    for (const tx of this.mempool) {
      if (!this.scriptsOf(tx).includes(scripthash)) continue
      const unconfirmedParent = tx.ins.some(i => mempoolIds.has(hashToDisplay(i.hash)))
      out.push({ tx_hash: tx.getId(), height: unconfirmedParent ? -1 : 0, fee: Number(DEVNET_FEE_SATS) })
    }
    return out
  }

  /** `blockchain.transaction.get_merkle`: the branch of `txid` in the block at `height`. */
  merkle (txid: string, height: number): { block_height: number, merkle: string[], pos: number } | undefined {
    const at = this.confirmed.get(txid)
    if (at === undefined || at.height !== height) return undefined
    const hashes = this.blocks[height].transactions!.map(t => t.getHash())
    return { block_height: height, merkle: merkleBranchFor(hashes, at.pos), pos: at.pos }
  }

  /** Where a confirmed transaction is. */
  locate (txid: string): { height: number, pos: number } | undefined {
    const at = this.confirmed.get(txid)
    return at === undefined ? undefined : { height: at.height, pos: at.pos }
  }

  // ---- internals ----

  private spendable (): Utxo[] {
    const tip = this.height
    // Mature coinbases oldest first, then change.
    return this.utxos.filter(u => u.coinbaseHeight === null || tip + 1 - u.coinbaseHeight >= COINBASE_MATURITY)
      .sort((a, b) => (a.coinbaseHeight ?? Infinity) - (b.coinbaseHeight ?? Infinity))
  }

  private buildBlock (txs: Transaction[]): Block {
    const height = this.blocks.length
    const fees = BigInt(txs.length) * DEVNET_FEE_SATS
    const cb = new Transaction()
    cb.version = 2
    // BIP34: the height first in the coinbase script; a few random bytes keep coinbases unique.
    cb.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, bscript.compile([bscript.number.encode(height), randomBytes(4)]))
    cb.addOutput(this.minerScript, (INITIAL_SUBSIDY >> BigInt(Math.floor(height / HALVING_INTERVAL))) + fees)
    if (txs.some(t => t.hasWitnesses())) {
      // BIP141 commitment: wtxid merkle root (coinbase wtxid = zeros) with a zero reserved value.
      const reserved = new Uint8Array(32)
      const root = merkleRoot([new Uint8Array(32), ...txs.map(t => t.getHash(true))])
      const commitment = sha256d(concat(root, reserved))
      cb.addOutput(bscript.compile([opcodes.OP_RETURN, concat(Uint8Array.from([0xaa, 0x21, 0xa9, 0xed]), commitment)]), 0n)
      cb.setWitness(0, [reserved])
    }
    const all = [cb, ...txs]
    const block = new Block()
    block.version = 0x20000000
    block.prevHash = this.blocks[height - 1].getHash()
    block.merkleRoot = merkleRoot(all.map(t => t.getHash()))
    this.time += 600
    block.timestamp = this.time
    block.bits = this.bits
    block.transactions = all
    mineHeader(block)
    this.utxos.push({ txid: cb.getId(), vout: 0, value: cb.outs[0].value, script: this.minerScript, coinbaseHeight: height })
    return block
  }

  /** The miner's coins after `tx`: its inputs spent, its outputs to the miner added. */
  private track (tx: Transaction, coinbaseHeight: number | null): void {
    if (!tx.isCoinbase()) {
      const spent = new Set(tx.ins.map(i => `${hashToDisplay(i.hash)}:${i.index}`))
      this.utxos = this.utxos.filter(u => !spent.has(`${u.txid}:${u.vout}`))
    }
    const txid = tx.getId()
    tx.outs.forEach((o, vout) => {
      if (equal(o.script, this.minerScript) && (coinbaseHeight === null || vout === 0)) this.utxos.push({ txid, vout, value: o.value, script: o.script, coinbaseHeight })
    })
  }

  private addBlock (block: Block): void {
    const height = this.blocks.length
    this.blocks.push(block)
    this.hexes.push(block.toHex())
    block.transactions!.forEach((tx, pos) => {
      const txid = tx.getId()
      this.confirmed.set(txid, { tx, height, pos })
      for (const sh of this.scriptsOf(tx)) {
        const list = this.byScript.get(sh) ?? []
        list.push({ txid, height, pos })
        this.byScript.set(sh, list)
      }
    })
  }

  /** Script hashes a transaction touches: its outputs and the outputs its inputs spend. */
  private scriptsOf (tx: Transaction): string[] {
    const out = new Set<string>()
    for (const o of tx.outs) out.add(hashToDisplay(sha256(o.script)))
    if (!tx.isCoinbase()) {
      for (const i of tx.ins) {
        const prevId = hashToDisplay(i.hash)
        const prev = this.confirmed.get(prevId)?.tx ?? this.mempool.find(t => t.getId() === prevId)
        const spent = prev?.outs[i.index]
        if (spent !== undefined) out.add(hashToDisplay(sha256(spent.script)))
      }
    }
    return [...out]
  }
}

/** Grinds the nonce until the header's hash meets its bits (about two tries on regtest). */
export function mineHeader (block: Block): void {
  const t = bitsToTarget(block.bits)
  if (!t.ok) throw new Error(t.reason)
  for (let nonce = 0; nonce <= 0xffffffff; nonce++) {
    block.nonce = nonce
    if (hashToBigInt(block.getHash()) <= t.target) return
  }
  throw new Error('no nonce meets the target; change the timestamp')
}

function genesisBlock (): Block {
  const cb = new Transaction()
  cb.version = 1
  cb.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, hexToBytes(GENESIS_SCRIPT_SIG))
  cb.addOutput(hexToBytes(GENESIS_OUTPUT), INITIAL_SUBSIDY)
  const block = new Block()
  block.version = 1
  block.prevHash = new Uint8Array(32)
  block.merkleRoot = cb.getHash()
  block.timestamp = 1_296_688_602
  block.bits = REGTEST_BITS
  block.nonce = 2
  block.transactions = [cb]
  return block
}


function equal (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Regtest address for a script (for messages and the devnet's `status`). */
export function regtestAddress (script: Uint8Array): string {
  return btcAddress.fromOutputScript(script, CHAIN_PARAMS.regtest.addresses)
}
