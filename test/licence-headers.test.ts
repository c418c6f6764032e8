// Headers verified once (issue 13): checkpoints link an old payment by one period of headers
// plus those since the last checkpoint; the verified linkage kept in the home makes a recheck
// fetch only the new headers; a reorganisation is re-verified from the fork point, and one that
// removes the payment's block is not valid. Counted at a real devnet server on 127.0.0.1.
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import {
  RegtestChain, newAddress, readLinkState, shippedCheckpoints, verifyLicence, writeLinkState, CHECKPOINT_INTERVAL, type LicenceTerms
} from '../finance/index.js'
import { kitSuite } from './kit/index.js'
import { SOV } from './kit/daemon.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-headers')
const MACHINE = 'old-box'

function counters (server: { headersServed: number, bytesOut: number, seen: Map<string, number> }): () => { headers: number, bytes: number, requests: number } {
  const start = { headers: server.headersServed, bytes: server.bytesOut, requests: server.seen.get('blockchain.block.headers') ?? 0 }
  return () => ({ headers: server.headersServed - start.headers, bytes: server.bytesOut - start.bytes, requests: (server.seen.get('blockchain.block.headers') ?? 0) - start.requests })
}

test('a payment 20,000 blocks deep: checkpoints link it with one period plus the headers since; a recheck after 3 blocks fetches exactly those 3', async ctx => {
  const chain = new RegtestChain()
  const vendor = newAddress('p2wpkh')
  const { txid, height } = chain.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 1 })
  chain.mine(20_000)
  const checkpoints = chain.checkpoints()
  const lastCheckpoint = checkpoints.hashes.length * CHECKPOINT_INTERVAL - 1
  const e = await startElectrum(ctx, chain)
  const terms: LicenceTerms = { txid, vendorAddress: vendor.address, requiredSats: 10_000n, network: 'regtest', minConf: 6, machineId: MACHINE, height: height! }

  let count = counters(e.server)
  const first = await verifyLicence(terms, [e.tcp], { checkpoints })
  assert.is(first.status, 'valid', JSON.stringify(first.checks.filter(c => !c.ok)))
  assert.is(first.confirmations, chain.height - height! + 1)
  const since = chain.height - lastCheckpoint
  const period = CHECKPOINT_INTERVAL - (height! % CHECKPOINT_INTERVAL)
  assert.is(count().headers, period + since, 'the payment\'s period up to its checkpoint, then the headers since the last one')
  assert.is(first.headersFetched, period + since + 1, 'and the last checkpoint\'s own header, whose bits the retarget rule starts from')
  assert.match(first.checks.find(c => c.name === 'headerChain')!.detail, /with checkpoints \d+→\d+/)

  // Kept in the home, 0600, and read back.
  const file = join(ctx.tmp(), 'licence-headers.json')
  writeLinkState(file, first.link!)
  assert.is(statSync(file).mode & 0o777, 0o600)
  const kept = readLinkState(file)
  assert.is(kept?.tipHeight, chain.height)

  chain.mine(3)
  count = counters(e.server)
  const recheck = await verifyLicence(terms, [e.tcp], { checkpoints, linkState: kept })
  assert.is(recheck.status, 'valid')
  assert.equal(count().headers, 3, 'exactly the 3 new headers')
  assert.is(count().requests, 1)
  assert.match(recheck.checks.find(c => c.name === 'headerChain')!.detail, /^4 headers link block \d+ to the tip \d+ \(with verified /)
  assert.ok(count().bytes < 4096, `a recheck downloads ${count().bytes} bytes`)

  // No new block: no header at all.
  count = counters(e.server)
  assert.is((await verifyLicence(terms, [e.tcp], { checkpoints, linkState: recheck.link })).status, 'valid')
  assert.is(count().headers, 0)

  // Without checkpoints or a kept state the whole 20,000 headers are fetched: there is no cap.
  count = counters(e.server)
  const progress: Array<[number, number]> = []
  assert.is((await verifyLicence(terms, [e.tcp], { checkpoints: null, onProgress: (n, of) => progress.push([n, of]) })).status, 'valid')
  assert.is(count().headers, chain.height - height! + 1)
  // What `sov licence verify` prints on a terminal: one report per reply, up to the whole.
  assert.is(progress.length, Math.ceil(count().headers / 2016))
  assert.equal(progress[progress.length - 1], [count().headers, count().headers])

  // On a terminal (a pty from util-linux `script`), the CLI shows that progress on stderr.
  const cli = ['licence', 'verify', '--home', ctx.tmp(), '--txid', txid, '--vendor', vendor.address, '--sats', '10000', '--network', 'regtest', '--machine-id', MACHINE, '--electrum', e.tcp]
  const shown = await new Promise<string>((resolve, reject) => {
    execFile('script', ['-qec', [process.execPath, SOV, ...cli].join(' '), '/dev/null'], { timeout: 30_000 }, (err, stdout) => { err !== null ? reject(err) : resolve(stdout) })
  })
  assert.match(shown, /Fetching block headers: \d+ of 20\d{3}/)
  assert.match(shown, /Licence VALID/)
})

test('the shipped checkpoints are Electrum\'s: main block 2015, then one hash per 2016 blocks for main, test and signet', () => {
  const main = shippedCheckpoints('main')!
  assert.is(main.hashes[0], '00000000693067b0e6b440bc51450b9f3850561b07f6d3c021c54fbd6abb9763')
  assert.ok(main.hashes.length >= 473)
  for (const n of ['main', 'test', 'signet'] as const) assert.ok(shippedCheckpoints(n)!.hashes.every(h => /^0{8}[0-9a-f]{56}$/.test(h) || n === 'signet'), n)
  assert.is(shippedCheckpoints('regtest'), null)
})

test('a reorganisation above the payment is re-verified from the fork point; one that removes the payment\'s block is not valid', async ctx => {
  const e = await startElectrum(ctx)
  const chain = e.chain
  const vendor = newAddress('p2wpkh')
  const { txid, height } = chain.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 10 })
  const terms: LicenceTerms = { txid, vendorAddress: vendor.address, requiredSats: 10_000n, network: 'regtest', minConf: 1, machineId: MACHINE, height: height! }
  const first = await verifyLicence(terms, [e.tcp])
  assert.is(first.status, 'valid')

  const fork = chain.height - 2
  chain.reorg(fork + 1)
  let count = counters(e.server)
  const after = await verifyLicence(terms, [e.tcp], { linkState: first.link })
  assert.is(after.status, 'valid', JSON.stringify(after.checks.filter(c => !c.ok)))
  assert.match(after.chainNote!, new RegExp(`reorganised above height ${fork}`))
  assert.match(after.checks.find(c => c.name === 'headerChain')!.detail, new RegExp(`with verified .* ${height}→${fork}\\)`))
  // The new headers tried first, then the kept window from the payment up, compared hash by hash.
  assert.is(count().headers, (chain.height - first.tip!.height) + (chain.height - height! + 1))

  chain.reorg(height!, { leaveOut: [txid] })
  count = counters(e.server)
  const gone = await verifyLicence(terms, [e.tcp], { linkState: after.link })
  assert.is(gone.status, 'invalid')
  assert.match(gone.checks.find(c => c.name === 'merkleBranch')!.detail, /was replaced by [0-9a-f]{64} \(a reorganisation\); the payment is no longer confirmed there/)
  assert.is(gone.link, undefined, 'nothing new to keep')
})

test('the link must pass the last checkpoint: a chain that does not (a chain of the server\'s own) is never valid, wherever the payment and the tip lie; the real chain is (helper finding, stop 30: a forged signet licence was VALID)', async ctx => {
  const chain = new RegtestChain()
  const vendor = newAddress('p2wpkh')
  chain.mine(900)
  const low = chain.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 1 })
  chain.mine(1200)
  const high = chain.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 1 })
  chain.mine(20)
  const e = await startElectrum(ctx, chain)
  const real = chain.checkpoints()
  assert.is(real.hashes.length, 1, 'one checkpoint, at 2015: one payment below it (its period is the last), one above')
  const other = { interval: real.interval, hashes: ['11'.repeat(32)] }
  const ahead = { interval: real.interval, hashes: [...real.hashes, '22'.repeat(32), '33'.repeat(32)] }
  const terms = (p: { txid: string, height: number | null }): LicenceTerms => ({ txid: p.txid, vendorAddress: vendor.address, requiredSats: 10_000n, network: 'regtest', minConf: 1, machineId: MACHINE, height: p.height! })
  for (const [name, p] of [['below the last checkpoint', low], ['above it', high]] as const) {
    const ok = await verifyLicence(terms(p), [e.tcp], { checkpoints: real })
    assert.is(ok.status, 'valid', `${name}, real checkpoints: ${JSON.stringify(ok.checks.filter(c => !c.ok))}`)
    // A recheck from the linkage kept in the home walks from the payment it verified.
    const recheck = await verifyLicence(terms(p), [e.tcp], { checkpoints: real, linkState: ok.link })
    assert.is(recheck.status, 'valid', `${name}, recheck from the kept linkage: ${JSON.stringify(recheck.checks.filter(c => !c.ok))}`)
    assert.match(recheck.checks.find(c => c.name === 'headerChain')!.detail, /with verified /, name)
    const forged = await verifyLicence(terms(p), [e.tcp], { checkpoints: other })
    assert.is(forged.status, 'invalid', `${name}, a chain not through the checkpoint`)
    assert.match(forged.checks.find(c => c.name === 'headerChain')!.detail, /not the checkpoint 1111|cannot link the last checkpoint \(height 2015\)/, name)
    const behind = await verifyLicence(terms(p), [e.tcp], { checkpoints: ahead })
    assert.is(behind.status, 'invalid', `${name}, a tip below the last checkpoint`)
    assert.match(behind.checks.find(c => c.name === 'headerChain')!.detail, /the tip \(height \d+\) is not above the last checkpoint \(height 6047\)/, name)
  }
})

test('the retarget rule holds above the trusted block: a difficulty change inside a period, an easing of more than 4× at a retarget, or a header dated more than 2 hours ahead is invalid (helper finding, stop 30: a chain made up from a checkpoint at the floor would link)', async ctx => {
  const vendor = newAddress('p2wpkh')
  const paid = (): { chain: RegtestChain, terms: LicenceTerms } => {
    const chain = new RegtestChain()
    const { txid, height } = chain.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 1 })
    return { chain, terms: { txid, vendorAddress: vendor.address, requiredSats: 10_000n, network: 'regtest', minConf: 1, machineId: MACHINE, height: height! } }
  }
  const verdictOf = async (chain: RegtestChain, terms: LicenceTerms): Promise<string> => {
    const e = await startElectrum(ctx, chain)
    const v = await verifyLicence(terms, [e.tcp], { checkpoints: null })
    return v.status === 'valid' ? 'valid' : `${v.status}: ${v.checks.find(c => c.name === 'headerMinWork')!.detail}`
  }

  const inside = paid()
  inside.chain.mine(5)
  inside.chain.bits = 0x1f7fffff
  inside.chain.mine(3)
  assert.match(await verdictOf(inside.chain, inside.terms), /^invalid: the header at height \d+ changes the difficulty \(bits 0x207fffff → 0x1f7fffff\) inside a period/)

  const boundary = new RegtestChain()
  boundary.bits = 0x1f7fffff
  boundary.mine(1000)
  const b = boundary.payLicence({ to: vendor.address, sats: 10_000n, machineId: MACHINE, confirmations: 1 })
  boundary.mine(2015 - boundary.height)
  const bTerms: LicenceTerms = { txid: b.txid, vendorAddress: vendor.address, requiredSats: 10_000n, network: 'regtest', minConf: 1, machineId: MACHINE, height: b.height! }
  assert.is(await verdictOf(boundary, bTerms), 'valid', 'harder bits kept through the period')
  boundary.bits = 0x207fffff
  boundary.mine(2)
  assert.match(await verdictOf(boundary, bTerms), /^invalid: the header at height 2016 changes the target more than 4× at one retarget \(bits 0x1f7fffff → 0x207fffff\)/)

  const future = paid()
  future.chain.setTime(Math.floor(Date.now() / 1000) + 86_400)
  future.chain.mine(2)
  assert.match(await verdictOf(future.chain, future.terms), /^invalid: the header at height \d+ is dated .+, more than 2 hours ahead of this machine's clock/)
})

test.run()
