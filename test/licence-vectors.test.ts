// Table-driven vectors for the pure pieces of the licence rule (test/fixtures/licence-vectors.json):
// the payload hash, address → script on four networks, compact bits, header PoW and the network
// floor, merkle branches (block 100000) with the Electrum wallet's refusals, machine-id parsing.
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { Transaction, script as bscript } from 'bitcoinjs-lib'
import {
  ADDRESS_TYPES, CHAIN_PARAMS, RegtestChain, newAddress, parseTx, parsesAsTransaction, pushes, bitsToTarget, displayToHash, hashToDisplay, hexToBytes, licenceHash, licenceOpReturnScript,
  meetsFloor, meetsOwnTarget, merkleRootFromBranch, outputScriptFor, parseHeader, parseIoreg, parseRegQuery,
  readMachineId, scriptType, type NetworkName
} from '../finance/index.js'
import { kitSuite, repoPath } from './kit/index.js'

const test = kitSuite('licence-vectors')
const V = JSON.parse(readFileSync(repoPath('test', 'fixtures', 'licence-vectors.json'), 'utf8'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('licence hash is SHA256("LICENSE" ‖ machine id) in UTF-8, and the OP_RETURN pushes exactly it', () => {
  for (const v of V.payload) {
    assert.is(hex(licenceHash(v.machineId)), v.hash, v.machineId)
    assert.is(hex(licenceOpReturnScript(v.machineId)), v.opReturnScript, v.machineId)
  }
})

test('each address gives its output script on its network; the type is recognised', () => {
  for (const v of V.addresses.valid) {
    const script = outputScriptFor(v.address, v.network as NetworkName)
    assert.is(hex(script), v.script, `${v.network} ${v.address}`)
    assert.is(scriptType(script), v.type, v.address)
  }
})

test('an address of another network or with a bad checksum is refused with BAD_REQUEST', () => {
  for (const v of V.addresses.invalid) {
    try {
      outputScriptFor(v.address, v.network as NetworkName)
      assert.unreachable(`accepted: ${v.why}`)
    } catch (err: any) {
      assert.is(err.code, v.code, v.why)
      assert.match(err.message, /Cannot use vendor address/)
    }
  }
})

test('compact bits decode as Core decodes them; zero, negative and overflowing ones are refused', () => {
  for (const v of V.bits.valid) {
    const r = bitsToTarget(Number.parseInt(v.bits, 16))
    assert.ok(r.ok, v.bits)
    if (r.ok) assert.is(r.target.toString(16).padStart(64, '0'), v.target, v.bits)
  }
  for (const v of V.bits.invalid) {
    const r = bitsToTarget(Number.parseInt(v.bits, 16))
    assert.not.ok(r.ok, v.bits)
    if (!r.ok) assert.match(r.reason, v.reason, v.bits)
  }
})

test('headers: PoW against their own bits, and each network\'s minimum-work floor', () => {
  for (const v of V.headers) {
    const h = parseHeader(hexToBytes(v.hex))
    if (v.id !== undefined) assert.is(h.id, v.id, v.name)
    assert.is(meetsOwnTarget(h).ok, v.pow, `${v.name}: pow`)
    for (const [net, expected] of Object.entries(v.floor)) {
      const p = CHAIN_PARAMS[net as NetworkName]
      assert.is(meetsFloor(h, p.powLimit, p.powLimitBits).ok, expected, `${v.name}: floor on ${net}`)
    }
  }
  assert.throws(() => parseHeader(new Uint8Array(79)), /80 bytes/)
})

test('every transaction of block 100000 hashes up its branch to the block\'s merkle root', () => {
  for (const v of V.merkle.valid) {
    const r = merkleRootFromBranch(displayToHash(v.leaf), v.branch, v.pos)
    assert.ok(r.ok, v.leaf)
    if (r.ok) assert.is(hashToDisplay(r.root), V.merkle.root)
  }
})

test('malformed branches are refused as the Electrum wallet refuses them, naming the check', () => {
  for (const v of V.merkle.invalid) {
    const r = merkleRootFromBranch(displayToHash(v.leaf), v.branch, v.pos)
    assert.not.ok(r.ok, v.name)
    if (!r.ok) assert.is(r.check, v.check, v.name)
  }
})

test('machine id: ioreg and reg query outputs parse; the override wins; an empty override is refused', () => {
  assert.is(parseIoreg(V.machineId.ioreg.output), V.machineId.ioreg.id)
  assert.is(parseRegQuery(V.machineId.reg.output), V.machineId.reg.id)
  assert.is(parseIoreg('no uuid here'), null)
  assert.is(parseRegQuery(''), null)
  assert.equal(readMachineId({ override: '  box-1\n' }), { id: 'box-1', source: 'override' })
  assert.throws(() => readMachineId({ override: ' ' }), /empty/)
  if (process.platform === 'linux') {
    try {
      const m = readMachineId()
      assert.ok(m.id.length > 0 && m.source.endsWith('machine-id'))
    } catch (err: any) {
      assert.is(err.code, 'NOT_FOUND') // containers often lack /etc/machine-id
      assert.match(err.message, /--machine-id/)
    }
  }
})

test('parseTx reads every devnet transaction as bitcoinjs-lib does and refuses any truncation or extra byte', () => {
  const chain = new RegtestChain({ blocks: 110 })
  for (const t of ADDRESS_TYPES) chain.payLicence({ to: newAddress(t).address, sats: 1234n, machineId: t, extraOpReturns: [[new Uint8Array(80)]] })
  const txs = chain.blocks.flatMap(b => b.transactions!)
  assert.ok(txs.some(t => t.hasWitnesses()) && txs.some(t => !t.hasWitnesses()))
  for (const tx of txs) {
    const raw = tx.toBuffer()
    const p = parseTx(raw)
    assert.ok(p !== null, tx.getId())
    assert.is(p!.txid, tx.getId())
    assert.is(p!.inputs, tx.ins.length)
    assert.equal(p!.outputs.map(o => [o.value, hex(o.script)]), tx.outs.map(o => [o.value, hex(o.script)]))
    assert.is(parseTx(raw.subarray(0, raw.length - 1)), null)
    assert.is(parseTx(Buffer.concat([raw, Buffer.from([0])])), null)
  }
  // The 64-byte shapes a merkle node must not take: bitcoinjs-lib agrees they are transactions.
  const node = Buffer.alloc(64)
  node[4] = 1; node.fill(0xff, 42, 46); node[46] = 1; node[55] = 4
  assert.ok(parsesAsTransaction(node))
  assert.is(Transaction.fromBuffer(node).getId(), parseTx(node)!.txid)
  assert.not.ok(parsesAsTransaction(Buffer.alloc(64, 0xab)))
})

test('OP_RETURN pushes are read as bitcoinjs-lib decompiles them, PUSHDATA1/2/4 included; a truncated push carries nothing', () => {
  const c = Buffer.alloc(32, 0xc5)
  const cases = [
    Buffer.concat([Buffer.from([0x6a, 0x20]), c]),
    Buffer.concat([Buffer.from([0x6a, 0x4c, 0x20]), c]),
    Buffer.concat([Buffer.from([0x6a, 0x4d, 0x20, 0x00]), c]),
    Buffer.concat([Buffer.from([0x6a, 0x4e, 0x20, 0, 0, 0]), c]),
    Buffer.concat([Buffer.from([0x6a, 0x51, 0x03, 1, 2, 3, 0x00]), Buffer.from([0x20]), c, Buffer.from([0x60])]),
    Buffer.concat([Buffer.from([0x6a, 0x20]), c.subarray(0, 31)]),
    Buffer.concat([Buffer.from([0x6a, 0x20]), c, Buffer.from([0x4d, 0x01])]),
    Buffer.from([0x6a])
  ]
  for (const script of cases) {
    const ours = pushes(script).filter(p => p.length === 32).map(hex)
    const theirs = (bscript.decompile(script) ?? []).slice(1).filter((p): p is Uint8Array => p instanceof Uint8Array && p.length === 32).map(hex)
    assert.equal(ours, theirs, hex(script))
  }
})

test.run()
