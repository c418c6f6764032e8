// The licence rule end to end: a regtest chain built with bitcoinjs-lib, served by a real
// Electrum-protocol server over TCP on 127.0.0.1, verified by verifyLicence().
import * as assert from 'uvu/assert'
import {
  ADDRESS_TYPES, RegtestChain, hexToBytes, licenceHash, newAddress, outputScriptFor, verifyEvidence, verifyLicence,
  type LicenceReport, type LicenceTerms
} from '../finance/index.js'
import { kitSuite } from './kit/index.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-verify')
const SATS = 50_000n
const MACHINE = 'machine-7f3a'

function terms (txid: string, vendorAddress: string, more: Partial<LicenceTerms> = {}): LicenceTerms {
  return { txid, vendorAddress, requiredSats: SATS, network: 'regtest', minConf: 1, machineId: MACHINE, ...more }
}

function failed (v: LicenceReport): string[] {
  return v.checks.filter(c => !c.ok).map(c => c.name)
}

test('a licence paid to each of the five address types verifies as valid, listing every check', async ctx => {
  const e = await startElectrum(ctx)
  for (const type of ADDRESS_TYPES) {
    const vendor = newAddress(type)
    const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, confirmations: 2 })
    const v = await verifyLicence(terms(txid, vendor.address, { minConf: 2 }), [e.tcp])
    assert.is(v.status, 'valid', `${type}: ${JSON.stringify(failed(v))}`)
    assert.is(v.checks.length, 12)
    assert.ok(v.checks.every(c => c.ok && c.detail.length > 0), type)
    assert.is(v.confirmations, 2)
    assert.is(v.requiredSats, '50000')
    assert.is(v.machineIdHash, Buffer.from(licenceHash(MACHINE)).toString('hex'))
  }
})

test('a payment one satoshi short is invalid on the payment check alone', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS - 1n, machineId: MACHINE })
  const v = await verifyLicence(terms(txid, vendor.address), [e.tcp])
  assert.is(v.status, 'invalid')
  assert.equal(failed(v), ['payment'])
  assert.match(v.checks[1].detail, /49999 sats; 50000 required/)
  // The exact amount passes (BigInt comparison, no float rounding).
  const ok = await verifyLicence(terms(txid, vendor.address, { requiredSats: SATS - 1n }), [e.tcp])
  assert.is(ok.status, 'valid')
})

test('a payment committing to another machine id is invalid on the OP_RETURN check', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2tr')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: 'some-other-machine' })
  const v = await verifyLicence(terms(txid, vendor.address), [e.tcp])
  assert.is(v.status, 'invalid')
  assert.equal(failed(v), ['opReturn'])
  assert.match(v.checks[2].detail, /wrong machine id/)
})

test('of two OP_RETURN outputs one carrying the commitment is enough; two wrong ones are not', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2pkh')
  const noise = [hexToBytes('534f56'), new Uint8Array(32).fill(7)]
  const good = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, extraOpReturns: [noise] })
  const v = await verifyLicence(terms(good.txid, vendor.address), [e.tcp])
  assert.is(v.status, 'valid')
  assert.match(v.checks[2].detail, /^output 2 carries/)

  const bad = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: 'not-me', extraOpReturns: [noise] })
  const w = await verifyLicence(terms(bad.txid, vendor.address), [e.tcp])
  assert.is(w.status, 'invalid')
  assert.match(w.checks[2].detail, /2 OP_RETURN outputs, none carrying/)
})

test('an unconfirmed payment is pending, then valid once mined', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wsh')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, confirmations: 0 })
  const v = await verifyLicence(terms(txid, vendor.address), [e.tcp])
  assert.is(v.status, 'pending')
  assert.is(v.height, null)
  assert.match(v.checks.find(c => c.name === 'history')!.detail, /mempool/)
  e.chain.mine(1)
  assert.is((await verifyLicence(terms(txid, vendor.address), [e.tcp])).status, 'valid')
})

test('a payment short of minConf confirmations is pending with the count', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2sh')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, confirmations: 2 })
  const v = await verifyLicence(terms(txid, vendor.address, { minConf: 6 }), [e.tcp])
  assert.is(v.status, 'pending')
  assert.equal(failed(v), ['confirmations'])
  assert.is(v.checks[11].detail, '2 of 6 required')
  e.chain.mine(4)
  assert.is((await verifyLicence(terms(txid, vendor.address, { minConf: 6 }), [e.tcp])).status, 'valid')
})

test('over TLS with the server certificate trusted, and from two agreeing servers, the licence is valid', async ctx => {
  const chain = new RegtestChain()
  const a = await startElectrum(ctx, chain)
  const b = await startElectrum(ctx, chain, { protocolMax: '1.4' }) // the `hex` form of block.headers
  const vendor = newAddress('p2wpkh')
  const { txid } = chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, confirmations: 3 })
  const v = await verifyLicence(terms(txid, vendor.address, { minConf: 3 }), [a.ssl, b.tcp], { ca: a.ca })
  assert.is(v.status, 'valid', JSON.stringify(failed(v)))
  assert.match(v.checks.find(c => c.name === 'tipAgreement')!.detail, /^2 servers agree/)
  const fromOld = await verifyLicence(terms(txid, vendor.address, { minConf: 3 }), [b.tcp])
  assert.is(fromOld.status, 'valid', 'protocol 1.4 headers (hex form)')
})

test('a payment 2100 blocks deep is linked to the tip through headers fetched in chunks of 2016', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: SATS, machineId: MACHINE, confirmations: 2100 })
  const v = await verifyLicence(terms(txid, vendor.address, { minConf: 100 }), [e.tcp])
  assert.is(v.status, 'valid', JSON.stringify(failed(v)))
  assert.is(v.confirmations, 2100)
  assert.is(e.server.seen.get('blockchain.block.headers'), 2)
})

test('a regtest proof is refused under mainnet terms by the minimum-work floor', async ctx => {
  const e = await startElectrum(ctx)
  const mainVendor = newAddress('p2wpkh', 'main')
  const tx = e.chain.send([{ script: outputScriptFor(mainVendor.address, 'main'), sats: SATS }], { opReturns: [[licenceHash(MACHINE)]] })
  e.chain.mine(1)
  // Without checkpoints, to show the floor on its own.
  const v = await verifyLicence(terms(tx.getId(), mainVendor.address, { network: 'main' }), [e.tcp], { checkpoints: null })
  assert.is(v.status, 'invalid')
  assert.equal(failed(v), ['headerMinWork', 'confirmations'])
  assert.match(v.checks.find(c => c.name === 'headerMinWork')!.detail, /easier than the network's limit 0x1d00ffff/)
  // With mainnet's shipped checkpoints, its tip is not even above the last of them.
  const shipped = await verifyLicence(terms(tx.getId(), mainVendor.address, { network: 'main' }), [e.tcp])
  assert.is(shipped.status, 'invalid')
  assert.match(shipped.checks.find(c => c.name === 'headerChain')!.detail, /is not above the last checkpoint \(height 953567\)/)
})

test('verifyEvidence refuses unusable terms with BAD_REQUEST naming the problem', () => {
  const ev = { rawTx: '', height: null, merkle: null, headers: [], tips: [], serversConfigured: 1 }
  const base = terms('ab'.repeat(32), newAddress('p2wpkh').address)
  for (const [bad, pattern] of [
    [{ txid: 'xyz' }, /64 hex digits/],
    [{ minConf: 0 }, /minConf must be an integer ≥ 1/],
    [{ vendorAddress: newAddress('p2wpkh', 'main').address }, /not a valid regtest address/],
    [{ network: 'mainnet' as any }, /unknown|network "mainnet"/]
  ] as const) {
    try {
      verifyEvidence({ ...base, ...bad } as LicenceTerms, ev)
      assert.unreachable(`accepted ${JSON.stringify(bad)}`)
    } catch (err: any) {
      assert.is(err.code, 'BAD_REQUEST')
      assert.match(err.message, pattern)
    }
  }
})

test.run()
