// `sov licence` and `sov devnet` as a user runs them: the built CLI in child processes, a real
// Electrum server on 127.0.0.1, exit codes and --json for every verdict.
import * as assert from 'uvu/assert'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newAddress } from '../finance/index.js'
import { kitSuite } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-cli')
const MACHINE = 'cli-box'

test('licence verify: exit 0 valid, 3 invalid, 3 pending, 1 undecided, with --json verdicts and ✓/✗ lines', async ctx => {
  const home = ctx.tmp()
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const paid = e.chain.payLicence({ to: vendor.address, sats: 50_000n, machineId: MACHINE, confirmations: 1 })
  const short = e.chain.payLicence({ to: vendor.address, sats: 49_999n, machineId: MACHINE, confirmations: 1 })
  const waiting = e.chain.payLicence({ to: vendor.address, sats: 50_000n, machineId: MACHINE, confirmations: 0 })
  const common = ['--vendor', vendor.address, '--sats', '50000', '--network', 'regtest', '--machine-id', MACHINE]
  const tls = ['--electrum', e.ssl, '--electrum-ca', join(home, 'ca.pem')]
  writeFileSync(join(home, 'ca.pem'), e.ca)

  const cases = [
    { txid: paid.txid, servers: tls, code: 0, status: 'valid' },
    { txid: short.txid, servers: ['--electrum', e.tcp], code: 3, status: 'invalid' },
    { txid: waiting.txid, servers: ['--electrum', e.tcp], code: 3, status: 'pending' },
    { txid: paid.txid, servers: ['--electrum', 'tcp://127.0.0.1:1'], code: 1, status: 'error' }
  ]
  const [human, ...runs] = await Promise.all([
    sov(home, ['licence', 'verify', '--txid', short.txid, ...common, '--electrum', e.tcp]),
    ...cases.map(async c => await sov(home, ['licence', 'verify', '--txid', c.txid, ...common, ...c.servers, '--json']))
  ])
  runs.forEach((r, i) => {
    const c = cases[i]
    assert.is(r.code, c.code, `${c.status}: ${r.stderr}`)
    assert.is(r.json?.status, c.status, r.stdout)
    assert.is(r.json.txid, c.txid)
    assert.is(r.json.checks.length, 12)
    assert.ok(r.json.checks.every((k: any) => typeof k.name === 'string' && typeof k.ok === 'boolean' && typeof k.detail === 'string'))
  })
  assert.match(runs[3].json.error.message, /connection refused/)
  assert.is(human.code, 3)
  assert.match(human.stdout, /^Licence INVALID/)
  assert.match(human.stdout, /✓ txid: computed/)
  assert.match(human.stdout, /✗ payment: .*49999 sats; 50000 required/)
})

test('licence verify falls back to config.json terms; without them it is a usage error (exit 2)', async ctx => {
  const [bare, home] = [ctx.tmp(), ctx.tmp()]
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2tr')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: 7_000n, machineId: MACHINE, confirmations: 2 })
  writeFileSync(join(home, 'config.json'), JSON.stringify({
    machineId: MACHINE,
    licence: { vendorAddress: vendor.address, requiredSats: '7000', network: 'regtest', minConf: 2, electrum: [e.tcp], txid }
  }))
  const [missing, fromConfig, stricter] = await Promise.all([
    sov(bare, ['licence', 'verify', '--txid', txid]),
    sov(home, ['licence', 'verify', '--json']),
    sov(home, ['licence', 'verify', '--min-conf', '3', '--json'])
  ])
  assert.is(missing.code, 2)
  assert.match(missing.stderr, /error\[BAD_REQUEST\]: Cannot verify the licence: no vendor address; pass --vendor/)
  assert.is(fromConfig.code, 0, fromConfig.stderr)
  assert.is(fromConfig.json.status, 'valid')
  assert.is(stricter.code, 3)
  assert.is(stricter.json.status, 'pending')
})

test('licence payload prints the machine id source, the 32-byte hash and the OP_RETURN script', async ctx => {
  const home = ctx.tmp()
  const [r, human] = await Promise.all([
    sov(home, ['licence', 'payload', '--machine-id', 'demo', '--json']),
    sov(home, ['licence', 'payload', '--machine-id', 'demo'])
  ])
  assert.is(r.code, 0, r.stderr)
  assert.equal(r.json, {
    machineId: 'demo',
    source: 'override',
    hash: 'b895856859af0becc3a4a8e39abde2f546e5019b6602934a3e794aa7539252ea',
    opReturnScript: '6a20b895856859af0becc3a4a8e39abde2f546e5019b6602934a3e794aa7539252ea'
  })
  assert.match(human.stdout, /OP_RETURN hex: +6a20b8958568/)
  assert.match(human.stdout, /sov licence verify --txid/)
})

test('devnet start, pay, verify over TLS with its CA, stop: the round trip a new user makes', async ctx => {
  const home = ctx.tmp()
  // In case an assertion fails midway: stop the devnet this test started.
  ctx.defer(async () => { if (existsSync(join(home, 'devnet', 'devnet.json'))) await sov(home, ['devnet', 'stop']) })
  const start = await sov(home, ['devnet', 'start', '--json'])
  assert.is(start.code, 0, start.stderr)
  const s = start.json
  assert.match(s.tcp, /^tcp:\/\/127\.0\.0\.1:\d+$/)
  assert.match(s.ssl, /^ssl:\/\/127\.0\.0\.1:\d+$/)
  assert.ok(existsSync(s.caFile))
  assert.match(s.vendorAddress, /^bcrt1q/)
  // The machine id read as verify reads it (trimmed, never empty): padded, it commits to the same id.
  const [again, pay, empty, blank] = await Promise.all([
    sov(home, ['devnet', 'start']),
    sov(home, ['devnet', 'pay', '--to', s.vendorAddress, '--sats', '50000', '--machine-id', ` ${MACHINE} `, '--confirmations', '2']),
    sov(home, ['devnet', 'pay', '--to', s.vendorAddress, '--sats', '50000', '--machine-id', '']),
    sov(home, ['devnet', 'pay', '--to', s.vendorAddress, '--sats', '50000', '--machine-id', '  '])
  ])
  for (const r of [empty, blank]) {
    assert.is(r.code, 2, r.stdout + r.stderr)
    assert.match(r.stderr, /^error\[BAD_REQUEST\]: Cannot use --machine-id " *": it is empty/)
  }
  const verifyBlank = await sov(home, ['licence', 'verify', '--txid', 'ab'.repeat(32), '--vendor', s.vendorAddress, '--sats', '1', '--network', 'regtest', '--electrum', s.tcp, '--machine-id', ' '])
  assert.is(verifyBlank.code, 2, 'verify refuses it alike')
  assert.match(verifyBlank.stderr, /^error\[BAD_REQUEST\]: Cannot use the machine id " ": it is empty/)
  assert.is(again.code, 1, 'a second start is refused')
  assert.match(again.stderr, /error\[CONFLICT\]: Cannot start the devnet: one already runs/)
  assert.is(pay.code, 0, pay.stderr)
  const txid = pay.stdout.trim()
  assert.match(txid, /^[0-9a-f]{64}$/)

  const verify = await sov(home, ['licence', 'verify', '--txid', txid, '--vendor', s.vendorAddress, '--sats', '50000', '--network', 'regtest',
    '--electrum', s.ssl, '--electrum-ca', s.caFile, '--electrum', s.tcp, '--min-conf', '2', '--machine-id', MACHINE])
  assert.is(verify.code, 0, verify.stdout + verify.stderr)
  assert.match(verify.stdout, /^Licence VALID: [0-9a-f]{64} \(2 confirmations\)/)
  assert.match(verify.stdout, /✓ tipAgreement: 2 servers agree/)

  const stop = await sov(home, ['devnet', 'stop', '--json'])
  assert.is(stop.code, 0, stop.stderr)
  assert.is(stop.json.pid, s.pid)
  assert.not.ok(existsSync(join(home, 'devnet', 'devnet.json')))
  assert.throws(() => process.kill(s.pid, 0), 'the devnet process is gone')
  const after = await sov(home, ['devnet', 'pay', '--to', s.vendorAddress, '--sats', '1', '--machine-id', 'x'])
  assert.is(after.code, 1)
  assert.match(after.stderr, /no devnet is running/)
})

test('config set refuses licence terms the check would refuse, and takes the section key by key on a fresh home', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const set = async (key: string, value: string): Promise<Awaited<ReturnType<typeof sov>>> => await sov(home, ['config', 'set', key, value])
  const regtest = newAddress('p2wpkh').address
  const mainnet = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'
  const refused = async (key: string, value: string, message: RegExp): Promise<void> => {
    const r = await set(key, value)
    assert.is(r.code, 2, `${key} ${value}: ${r.stdout} ${r.stderr}`)
    assert.match(r.stderr, /^error\[BAD_REQUEST\]: Cannot change config ".*config\.json": field "/, r.stderr)
    assert.match(r.stderr, message, `${key} ${value}`)
  }
  // A regtest address before the network is said: the network is main until then, and the message says so.
  await refused('licence.vendorAddress', regtest, /field "licence\.vendorAddress": Cannot use vendor address "bcrt1.*not a valid main address.*set that first/)
  // Key by key, in any order otherwise (each was refused for want of the others).
  for (const [key, value] of [['licence.network', 'regtest'], ['licence.vendorAddress', regtest], ['licence.requiredSats', '"50000"'], ['licence.electrum', '["tcp://127.0.0.1:50001"]'], ['licence.txid', 'ab'.repeat(32)]]) {
    const r = await set(key, value)
    assert.is(r.code, 0, `${key}: ${r.stderr}`)
  }
  await refused('licence.vendorAddress', mainnet, /field "licence\.vendorAddress": .*not a valid regtest address/)
  await refused('licence.network', 'main', /field "licence\.vendorAddress": .*not a valid main address/)
  await refused('licence.electrum', '["http://127.0.0.1:50001"]', /field "licence\.electrum\.0": Cannot use Electrum server "http:\/\/127\.0\.0\.1:50001": expected tcp:\/\/host:port or ssl:\/\/host:port/)
  await refused('licence.txid', 'zz', /field "licence\.txid": "zz" is not a txid: a txid is 64 hex digits/)
  await refused('licence.requiredSats', '-1', /field "licence\.requiredSats": Cannot use "-1" as an amount/)
  await refused('licence.requiredSats', '"5e4"', /field "licence\.requiredSats": Cannot use "5e4" as an amount/)
  await refused('licence.electrumCa', join(home, 'missing.pem'), /field "licence\.electrumCa": Cannot read the Electrum CA ".*missing\.pem"/)
  await refused('machineId', '" "', /field "machineId": Cannot use the machine id " ": it is empty/)
  await refused('licence', JSON.stringify({ vendorAddress: regtest, requiredSats: 1, network: 'regtest', electrum: ['ssl://127.0.0.1'] }), /field "licence\.electrum\.0"/)
  // What was accepted is what the check takes: the file holds the whole section.
  const kept = await sov(home, ['config', 'get', 'licence', '--json'])
  assert.equal({ ...kept.json.value }, { network: 'regtest', vendorAddress: regtest, requiredSats: '50000', electrum: ['tcp://127.0.0.1:50001'], txid: 'ab'.repeat(32), minConf: 1, recheckS: 3600, graceS: 604800 })
})

test.run()
