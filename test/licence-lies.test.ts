// Lying Electrum servers: each lie, served over real TCP on 127.0.0.1, never yields a valid
// licence; it gives `invalid` (the proof does not hold) or `error` (no decision), naming the
// check that caught it. The same payment verifies as valid from an honest server.
import * as assert from 'uvu/assert'
import { RegtestChain, newAddress, verifyLicence, type Lie, type LicenceReport, type LicenceTerms } from '../finance/index.js'
import { kitSuite } from './kit/index.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-lies')
const MACHINE = 'lied-to'

/** A chain with a licence 3 blocks deep in a block of several transactions. */
function paidChain (): { chain: RegtestChain, terms: LicenceTerms } {
  const chain = new RegtestChain()
  const vendor = newAddress('p2wpkh')
  for (let i = 0; i < 4; i++) chain.send([{ address: newAddress('p2tr').address, sats: 10_000n }])
  const { txid } = chain.payLicence({ to: vendor.address, sats: 25_000n, machineId: MACHINE, confirmations: 3 })
  return { chain, terms: { txid, vendorAddress: vendor.address, requiredSats: 25_000n, network: 'regtest', minConf: 3, machineId: MACHINE } }
}

const failing = (v: LicenceReport): string[] => v.checks.filter(c => !c.ok).map(c => c.name)

/** The first string in `v` holding a control character (a terminal escape, a newline), if any. */
function controlCharIn (v: unknown): string | undefined {
  if (typeof v === 'string') return /[\u0000-\u001f\u007f-\u009f]/.test(v) ? v : undefined
  if (v === null || typeof v !== 'object') return undefined
  for (const x of Object.values(v)) { const found = controlCharIn(x); if (found !== undefined) return found }
  return undefined
}

const CASES: Array<{ lie: Lie, status: 'invalid' | 'error', caughtBy: string | RegExp }> = [
  { lie: { kind: 'substituteTx' }, status: 'invalid', caughtBy: 'txid' },
  { lie: { kind: 'wrongMerkle' }, status: 'invalid', caughtBy: 'merkleRoot' },
  { lie: { kind: 'innerNodeTx' }, status: 'invalid', caughtBy: 'merkleInnerNodes' },
  { lie: { kind: 'badPow' }, status: 'invalid', caughtBy: 'headerPow' },
  { lie: { kind: 'unlinkedHeader' }, status: 'invalid', caughtBy: 'headerChain' },
  { lie: { kind: 'staleTip', blocks: 5 }, status: 'invalid', caughtBy: 'headerChain' },
  { lie: { kind: 'forkTip' }, status: 'invalid', caughtBy: 'headerChain' },
  { lie: { kind: 'historyHeight' }, status: 'invalid', caughtBy: 'merkleRoot' },
  { lie: { kind: 'noAnswer' }, status: 'error', caughtBy: /TIMEOUT/ },
  { lie: { kind: 'noAnswer', method: 'blockchain.block.headers' }, status: 'error', caughtBy: /TIMEOUT/ },
  { lie: { kind: 'garbage' }, status: 'error', caughtBy: /not JSON/ },
  { lie: { kind: 'endlessLine' }, status: 'error', caughtBy: /exceeds/ },
  { lie: { kind: 'disconnectMidReply', method: 'blockchain.transaction.get_merkle' }, status: 'error', caughtBy: /closed before the reply/ },
  // Helper findings, stop 30: each of these killed the process, drew on the terminal, or held gigabytes.
  { lie: { kind: 'deepJson' }, status: 'error', caughtBy: /unfit to use: the value at \$(\[0\]){64} is nested deeper than 64/ },
  { lie: { kind: 'escapes' }, status: 'error', caughtBy: /\\u001b\[1A\\u001b\[2K\\u000aLicence VALID/ },
  { lie: { kind: 'farTip', blocks: 1_000_000 }, status: 'error', caughtBy: /would take 1000\d{3} headers, more than the 201600 a check fetches; the server's tip height is implausible/ }
]

test('every lie of a single server is caught: invalid or error, never valid', async ctx => {
  const { chain, terms } = paidChain()
  const e = await startElectrum(ctx, chain)
  assert.is((await verifyLicence(terms, [e.tcp])).status, 'valid', 'the honest server proves the licence')
  for (const c of CASES) {
    e.server.lie = c.lie
    // A short deadline only where the lie is silence; honest answers get the default, so a busy
    // machine cannot turn a data lie into a timeout.
    const v = await verifyLicence(terms, [e.tcp], { requestTimeoutMs: c.lie.kind === 'noAnswer' ? 400 : undefined, maxLineBytes: 256 * 1024 })
    const name = `${c.lie.kind}${c.lie.method !== undefined ? ` on ${c.lie.method}` : ''}`
    assert.is.not(v.status, 'valid', name)
    assert.is(v.status, c.status, `${name}: ${JSON.stringify(failing(v))} ${v.error?.message ?? ''}`)
    if (typeof c.caughtBy === 'string') assert.ok(failing(v).includes(c.caughtBy), `${name} caught by ${c.caughtBy}: ${JSON.stringify(failing(v))}`)
    else assert.match(`${v.error?.code ?? ''} ${v.error?.message ?? ''}`, c.caughtBy, name)
    assert.is(controlCharIn(v), undefined, `${name}: no server control character reaches the report`)
  }
})

test('a server claiming a tip 50,000 blocks ahead with junk headers is refused after the first replies, not after downloading them all (helper finding, stop 30: 10M claimed, 5 GB, out of memory)', async ctx => {
  const { chain, terms } = paidChain()
  const e = await startElectrum(ctx, chain)
  e.server.lie = { kind: 'farTip', blocks: 50_000 }
  const before = e.server.seen.get('blockchain.block.headers') ?? 0
  const v = await verifyLicence(terms, [e.tcp])
  assert.is(v.status, 'invalid')
  const asked = (e.server.seen.get('blockchain.block.headers') ?? 0) - before
  assert.ok(asked <= 4, `${asked} header requests (50,000 headers are 25 of them)`)
  assert.match(v.checks.find(c => c.name === 'headerPow')!.detail, /target/)
})

test('a server whose tip disagrees with another\'s makes the verdict undecided, even with a good proof', async ctx => {
  const { chain, terms } = paidChain()
  const honest = await startElectrum(ctx, chain)
  for (const lie of [{ kind: 'forkTip' }, { kind: 'staleTip', blocks: 1 }] as Lie[]) {
    const liar = await startElectrum(ctx, chain, { lie })
    for (const order of [[honest.tcp, liar.tcp], [liar.tcp, honest.tcp]]) {
      const v = await verifyLicence(terms, order)
      assert.is(v.status, 'error', `${lie.kind}: ${JSON.stringify(failing(v))}`)
      assert.ok(failing(v).includes('tipAgreement'), lie.kind)
      assert.match(v.error!.message, /disagree on the tip/)
    }
  }
})

test('with two servers configured and one down, the single tip is not enough: undecided, marked as an outage (the grace applies); what the reachable one disproves stands', async ctx => {
  const { chain, terms } = paidChain()
  const up = await startElectrum(ctx, chain)
  const gone = await startElectrum(ctx, chain)
  await gone.server.stop()
  for (const order of [[up.tcp, gone.tcp], [gone.tcp, up.tcp]]) {
    const v = await verifyLicence(terms, order, { reconnectMinMs: 10 })
    assert.is(v.status, 'error')
    assert.is(v.unreachable, true, 'an outage, not evidence')
    assert.match(v.checks.find(c => c.name === 'tipAgreement')!.detail, /only 1 of 2 servers/)
    assert.match(v.error!.message, /could not be reached/)
  }
  // Evidence from the reachable server is taken as from a single server: a lie is invalid, at once.
  up.server.lie = { kind: 'wrongMerkle' }
  const lied = await verifyLicence(terms, [up.tcp, gone.tcp], { reconnectMinMs: 10 })
  assert.is(lied.status, 'invalid')
  assert.not.ok(lied.unreachable)
  // Not enough confirmations: pending.
  up.server.lie = null
  const pending = await verifyLicence({ ...terms, minConf: 10 }, [up.tcp, gone.tcp], { reconnectMinMs: 10 })
  assert.is(pending.status, 'pending')
})

test('a lying first server does not hide a licence an honest second server proves', async ctx => {
  const { chain, terms } = paidChain()
  const liar = await startElectrum(ctx, chain, { lie: { kind: 'wrongMerkle' } })
  const honest = await startElectrum(ctx, chain)
  const v = await verifyLicence(terms, [liar.tcp, honest.tcp])
  assert.is(v.status, 'valid')
  assert.equal(v.attempts.map(a => a.status), ['invalid', 'valid'])
})

test.run()
