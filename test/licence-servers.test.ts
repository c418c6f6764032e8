// Every common Electrum server (issue 13): a busy vendor behind a server that refuses long
// histories (electrs, Fulcrum), servers without JSON-RPC batches (Electrum Personal Server,
// esplora-electrs), both `blockchain.block.headers` reply forms, and a txid no server knows.
// Real devnet servers on 127.0.0.1; the CLI as a user runs it.
import * as assert from 'uvu/assert'
import { ElectrumClient, newAddress, verifyLicence, type LicenceTerms } from '../finance/index.js'
import { kitSuite } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-servers')
const MACHINE = 'busy-box'

test('a vendor with 2,000 licences behind a server refusing histories above 500: with --height valid and no history asked; without it a clear error to add the height', async ctx => {
  const home = ctx.tmp()
  const e = await startElectrum(ctx, undefined, { historyLimit: 500 })
  const vendor = newAddress('p2wpkh')
  e.chain.payMany({ to: vendor.address, sats: 50_000n, count: 2000 })
  const { txid, height } = e.chain.payLicence({ to: vendor.address, sats: 50_000n, machineId: MACHINE, confirmations: 3 })
  const common = ['licence', 'verify', '--txid', txid, '--vendor', vendor.address, '--sats', '50000', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', e.tcp]

  const withHeight = await sov(home, [...common, '--height', String(height), '--json'])
  assert.is(withHeight.code, 0, withHeight.stdout + withHeight.stderr)
  assert.is(withHeight.json.status, 'valid')
  assert.match(withHeight.json.checks.find((c: any) => c.name === 'history').detail, /from the licence terms/)
  assert.is(e.server.seen.get('blockchain.scripthash.get_history') ?? 0, 0, 'no history request with a height')

  const without = await sov(home, common)
  assert.is(without.code, 1)
  assert.match(without.stderr, /error\[ELECTRUM_ERROR\]: Cannot find the block of transaction "[0-9a-f]{64}" on tcp:\/\/127\.0\.0\.1:\d+: the server refuses the vendor address's history \(too many txs in history: 2001 > 500/)
  assert.match(without.stderr, /give the payment's block height with --height N or "licence\.height" in config\.json/)

  // A wrong height does not hold the payment: invalid, and the detail says which term to check.
  const wrong = await sov(home, [...common, '--height', String(height! - 1), '--json'])
  assert.is(wrong.code, 3)
  assert.is(wrong.json.status, 'invalid')
  assert.match(wrong.json.checks.find((c: any) => c.name === 'merkleBranch').detail, new RegExp(`the server says the transaction is not in the block at height ${height! - 1} .*check "licence\\.height"`))
})

test('without a height, verify finds it once in the history and prints the value to save', async ctx => {
  const home = ctx.tmp()
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2tr')
  const { txid, height } = e.chain.payLicence({ to: vendor.address, sats: 1_000n, machineId: MACHINE, confirmations: 1 })
  const args = ['licence', 'verify', '--txid', txid, '--vendor', vendor.address, '--sats', '1000', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', e.tcp]
  const [human, json] = await Promise.all([sov(home, args), sov(home, [...args, '--json'])])
  assert.is(human.code, 0, human.stderr)
  assert.match(human.stderr, new RegExp(`The payment is in block ${height}\\. .*--height ${height}, or set "licence\\.height": ${height} in config\\.json`))
  assert.is(json.json.heightFound, height)
})

test('servers without batches (connection dropped, silent, unmatched error) verify valid: the client falls back to single requests for that server', async ctx => {
  const first = await startElectrum(ctx, undefined, { noBatch: 'drop' })
  const chain = first.chain
  const vendor = newAddress('p2wpkh')
  const { txid } = chain.payLicence({ to: vendor.address, sats: 5_000n, machineId: MACHINE, confirmations: 2 })
  const terms: LicenceTerms = { txid, vendorAddress: vendor.address, requiredSats: 5_000n, network: 'regtest', minConf: 2, machineId: MACHINE }
  for (const [mode, protocolMax] of [['drop', '1.6'], ['silent', '1.4'], ['error', '1.6']] as const) {
    const e = mode === 'drop' ? first : await startElectrum(ctx, chain, { noBatch: mode, protocolMax })
    const c = new ElectrumClient(e.tcp, { keepaliveMs: 0, requestTimeoutMs: 1500 })
    ctx.defer(() => { c.close() })
    const started = Date.now()
    const v = await verifyLicence(terms, [c])
    assert.is(v.status, 'valid', `${mode}: ${JSON.stringify(v.attempts)}`)
    assert.is(c.batching, 'no', mode)
    assert.ok(Date.now() - started < 3000, `${mode}: the fallback costs at most one probe`)
    // Known now: the next verification sends no batch at all.
    const seen = e.server.seen.get('blockchain.transaction.get') ?? 0
    assert.is((await verifyLicence(terms, [c])).status, 'valid')
    assert.is(e.server.seen.get('blockchain.transaction.get'), seen + 1, mode)
  }
  // A server that answers batches keeps them.
  const batching = await startElectrum(ctx, chain)
  const c = new ElectrumClient(batching.tcp, { keepaliveMs: 0 })
  ctx.defer(() => { c.close() })
  assert.is((await verifyLicence(terms, [c])).status, 'valid')
  assert.is(c.batching, 'yes')
})

test('sov devnet start --history-limit --batch-refusal behaves as electrs / Electrum Personal Server: with --height valid, without it the error says to add it', async ctx => {
  const home = ctx.tmp()
  ctx.defer(async () => { await sov(home, ['devnet', 'stop']) })
  const start = await sov(home, ['devnet', 'start', '--history-limit', '1', '--batch-refusal', 'drop', '--json'])
  assert.is(start.code, 0, start.stderr)
  const s = start.json
  const pay = async (): Promise<any> => (await sov(home, ['devnet', 'pay', '--to', s.vendorAddress, '--sats', '1000', '--machine-id', MACHINE, '--json'])).json
  await pay()
  const { txid, height } = await pay()
  const args = ['licence', 'verify', '--txid', txid, '--vendor', s.vendorAddress, '--sats', '1000', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', s.tcp]
  const [hinted, bare] = await Promise.all([sov(home, [...args, '--height', String(height)]), sov(home, args)])
  assert.is(hinted.code, 0, hinted.stdout + hinted.stderr)
  assert.is(bare.code, 1)
  assert.match(bare.stderr, /refuses the vendor address's history \(too many txs in history: 2 > 1/)
})

test('a txid no server knows says so, not the server\'s raw DaemonError', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const r = await sov(ctx.tmp(), ['licence', 'verify', '--txid', 'ab'.repeat(32), '--vendor', vendor.address, '--sats', '1', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', e.tcp])
  assert.is(r.code, 1)
  assert.match(r.stderr, /Cannot find transaction "(ab){32}" on tcp:\/\/127\.0\.0\.1:\d+: the server does not know it \(not broadcast yet, or a transaction of another network\?\)/)
  assert.not.match(r.stderr, /DaemonError/)
})

test('a server lying about the block height (history one block up, the proof for the real block): invalid, and no "save this height" advice', async ctx => {
  const home = ctx.tmp()
  const e = await startElectrum(ctx, undefined, { lie: { kind: 'historyHeight' } })
  const vendor = newAddress('p2wpkh')
  const { txid, height } = e.chain.payLicence({ to: vendor.address, sats: 1_000n, machineId: MACHINE, confirmations: 3 })
  const args = ['licence', 'verify', '--txid', txid, '--vendor', vendor.address, '--sats', '1000', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', e.tcp]
  const [human, json] = await Promise.all([sov(home, args), sov(home, [...args, '--json'])])
  assert.is(human.code, 3, human.stdout + human.stderr)
  assert.match(human.stdout, /^Licence INVALID/)
  assert.match(human.stdout, new RegExp(`✓ history: mined in the block at height ${height! + 1}`))
  assert.match(human.stdout, /✗ merkleRoot/)
  assert.not.match(human.stderr, /The payment is in block|licence\.height/)
  assert.is(json.json.status, 'invalid')
  assert.is(json.json.heightFound, undefined)
})

test.run()
