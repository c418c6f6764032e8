// The daemon's licence watcher: real daemon processes with licence terms in config.json and a
// real Electrum server on 127.0.0.1. The check runs in the background after start; `status`,
// `sov licence status` and licence.json (0600) show the verdict.
import * as assert from 'uvu/assert'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newAddress } from '../finance/index.js'
import { kitSuite, waitFor } from './kit/index.js'
import { runDaemonIn, sov, type SovResult } from './kit/daemon.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-daemon')
const MACHINE = 'daemon-box'

/** `sov licence status --json` once its status is `status` (polled for up to 20 s). */
async function licenceStatusIs (home: string, status: string, what: string): Promise<SovResult> {
  return await waitFor(async () => {
    const r = await sov(home, ['licence', 'status', '--json'])
    return r.json?.status === status ? r : undefined
  }, 20_000, what)
}

async function homeWithLicence (ctx: Parameters<Parameters<typeof test>[1]>[0], licence: object): Promise<string> {
  const home = ctx.tmp('sov-home-')
  const init = await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])
  assert.is(init.code, 0, init.stderr)
  const path = join(home, 'config.json')
  const config = JSON.parse(readFileSync(path, 'utf8'))
  writeFileSync(path, JSON.stringify({ ...config, machineId: MACHINE, licence }))
  return home
}

test('the daemon verifies its licence after start: status, licence status and licence.json show the verdict', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2sh')
  const { txid } = e.chain.payLicence({ to: vendor.address, sats: 21_000n, machineId: MACHINE, confirmations: 2 })
  const caFile = join(ctx.tmp(), 'ca.pem')
  writeFileSync(caFile, e.ca)
  const home = await homeWithLicence(ctx, { vendorAddress: vendor.address, requiredSats: 21000, network: 'regtest', minConf: 2, electrum: [e.ssl, e.tcp], electrumCa: caFile, txid })
  await runDaemonIn(ctx, home)

  const status = await waitFor(async () => {
    const r = await sov(home, ['status', '--json'])
    return r.code === 0 && r.json.licence.status !== 'unknown' ? r.json : undefined
  }, 20_000, 'a licence verdict in status')
  assert.is(status.licence.status, 'valid')
  assert.is(status.licence.txid, txid)
  assert.ok(Date.parse(status.licence.checkedAt) > Date.now() - 60_000)

  const [full, human] = await Promise.all([sov(home, ['licence', 'status', '--json']), sov(home, ['status'])])
  assert.is(full.code, 0, full.stderr)
  assert.is(full.json.status, 'valid')
  assert.is(full.json.checks.length, 12)
  assert.match(human.stdout, /Licence: +valid/)
  const file = join(home, 'licence.json')
  assert.is(statSync(file).mode & 0o777, 0o600)
  assert.is(JSON.parse(readFileSync(file, 'utf8')).txid, txid)
})

test('licence config keys are checked by the schema: height and graceS are taken, a misspelt key stops the daemon naming it', async ctx => {
  const terms = { vendorAddress: newAddress('p2wpkh').address, requiredSats: 1, network: 'regtest', electrum: ['tcp://127.0.0.1:1'], txid: 'ab'.repeat(32) }
  const bad = await homeWithLicence(ctx, { ...terms, heigth: 5 })
  const r = await sov(bad, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })
  assert.is.not(r.code, 0)
  assert.match(r.stderr, /unknown key "licence\.heigth"/)
  const wrongType = await homeWithLicence(ctx, { ...terms, graceS: -1 })
  assert.match((await sov(wrongType, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })).stderr, /field "licence\.graceS"/)
  const good = await homeWithLicence(ctx, { ...terms, height: 5, graceS: 60 })
  await runDaemonIn(ctx, good)
})

test('an unreachable Electrum server neither blocks the start nor yields valid: the verdict is error', async ctx => {
  const e = await startElectrum(ctx)
  await e.server.stop()
  const vendor = newAddress('p2wpkh')
  const home = await homeWithLicence(ctx, { vendorAddress: vendor.address, requiredSats: '1', network: 'regtest', electrum: [e.tcp], txid: 'ab'.repeat(32) })
  await runDaemonIn(ctx, home)
  const status = await licenceStatusIs(home, 'error', 'an error verdict')
  assert.is(status.code, 1)
  assert.match(status.json.error.message, /connection refused/)
})

test('an outage after valid keeps the licence valid and stale, with when it was last verified; a lying server ends it at once; audit rows for each change', async ctx => {
  const e = await startElectrum(ctx)
  const port = Number(e.tcp.split(':').pop())
  const vendor = newAddress('p2wpkh')
  const { txid, height } = e.chain.payLicence({ to: vendor.address, sats: 9_000n, machineId: MACHINE, confirmations: 1 })
  // No height in the terms: the daemon finds it once and keeps it with the verified headers.
  const home = await homeWithLicence(ctx, { vendorAddress: vendor.address, requiredSats: 9000, network: 'regtest', electrum: [e.tcp], txid, graceS: 3600 })
  await runDaemonIn(ctx, home)
  const first = (await licenceStatusIs(home, 'valid', 'a valid verdict')).json
  assert.is(first.stale, false)
  const kept = join(home, 'licence-headers.json')
  assert.is(statSync(kept).mode & 0o777, 0o600)
  assert.is(JSON.parse(readFileSync(kept, 'utf8')).height, height)

  // Every server down: still valid, marked stale, with the time of the last verification.
  await e.server.stop()
  const [down, human] = [await sov(home, ['licence', 'status', '--recheck', '--json']), await sov(home, ['licence', 'status'])]
  assert.is(down.code, 0, down.stdout + down.stderr)
  assert.is(down.json.status, 'valid')
  assert.is(down.json.stale, true)
  assert.is(down.json.lastVerifiedAt, first.checkedAt)
  assert.ok(Date.parse(down.json.graceUntil) - Date.parse(first.checkedAt) === 3600_000)
  assert.match(down.json.error.message, /connection refused/)
  assert.match(human.stdout, /^Licence VALID \(stale\): [0-9a-f]{64} — the last check reached no verdict \(servers could not be reached\); last verified /)
  const status = await sov(home, ['status', '--json'])
  assert.is(status.json.licence.stale, true)

  // A server back at the same address, lying: invalid at once, grace or not.
  await startElectrum(ctx, e.chain, { tcpPort: port, lie: { kind: 'substituteTx' } })
  const lied = await sov(home, ['licence', 'status', '--recheck', '--json'])
  assert.is(lied.code, 3)
  assert.is(lied.json.status, 'invalid')
  assert.not.ok(lied.json.stale)

  const rows = (await sov(home, ['audit', 'tail', '-n', '50', '--json'])).json as any[]
  const changes = rows.filter(r => r.type === 'LICENCE_CHANGED').map(r => r.detail.to)
  assert.equal(changes, [{ status: 'valid', stale: false }, { status: 'valid', stale: true }, { status: 'invalid', stale: false }])
  assert.ok(rows.filter(r => r.type === 'LICENCE_CHECKED').length >= 3)
})

const auditRows = async (home: string): Promise<any[]> => (await sov(home, ['audit', 'tail', '-n', '100', '--json'])).json as any[]
const changesOf = (rows: any[]): any[] => rows.filter(r => r.type === 'LICENCE_CHANGED').map(r => r.detail.to)

test('a check that fails before asking any server (the electrumCa file gone) is shown and audited: stale valid within graceS, error past it', async ctx => {
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const { txid, height } = e.chain.payLicence({ to: vendor.address, sats: 4_000n, machineId: MACHINE, confirmations: 1 })
  const caFile = join(ctx.tmp(), 'ca.pem')
  writeFileSync(caFile, e.ca)
  const terms = { vendorAddress: vendor.address, requiredSats: 4000, network: 'regtest', electrum: [e.ssl], electrumCa: caFile, txid, height }
  const home = await homeWithLicence(ctx, { ...terms, graceS: 3600 })
  const d = await runDaemonIn(ctx, home)
  const first = (await licenceStatusIs(home, 'valid', 'a valid verdict')).json

  // The CA file disappears: the check stops before any server; within the grace, valid and stale, the reason shown.
  rmSync(caFile)
  const [kept, keptHuman] = [await sov(home, ['licence', 'status', '--recheck', '--json']), await sov(home, ['licence', 'status'])]
  assert.is(kept.code, 0, kept.stdout + kept.stderr)
  assert.is(kept.json.status, 'valid')
  assert.is(kept.json.stale, true)
  assert.is(kept.json.lastVerifiedAt, first.checkedAt)
  assert.ok(Date.parse(kept.json.checkedAt) > Date.parse(first.checkedAt), 'a new check time')
  assert.match(kept.json.error.message, /Cannot read the Electrum CA ".*ca\.pem"/)
  assert.match(keptHuman.stdout, /^Licence VALID \(stale\): [0-9a-f]{64} — the last check reached no verdict \(it stopped before asking any server\)/)
  assert.match(keptHuman.stdout, /Last check: Cannot read the Electrum CA/)
  const status = await sov(home, ['status', '--json'])
  assert.is(status.json.licence.stale, true)
  assert.match(status.json.licence.detail, /Cannot read the Electrum CA/)

  // graceS 0 and a restart: error at once, with the reason, in licence status and status alike.
  await d.stop()
  const path = join(home, 'config.json')
  const config = JSON.parse(readFileSync(path, 'utf8'))
  writeFileSync(path, JSON.stringify({ ...config, licence: { ...config.licence, graceS: 0, recheckS: 10 } }))
  await runDaemonIn(ctx, home)
  const failed = await licenceStatusIs(home, 'error', 'an error verdict after the restart')
  assert.is(failed.code, 1)
  assert.is(failed.json.unchecked, true)
  assert.match(failed.json.error.message, /Cannot read the Electrum CA/)
  const [human, again] = await Promise.all([sov(home, ['status']), sov(home, ['licence', 'status', '--recheck'])])
  assert.match(human.stdout, /Licence: +error — Cannot read the Electrum CA/)
  assert.is(again.code, 1)
  assert.match(again.stdout, /^Licence UNDECIDED: [0-9a-f]{64} — Cannot read the Electrum CA/)

  const rows = await auditRows(home)
  assert.equal(changesOf(rows), [{ status: 'valid', stale: false }, { status: 'valid', stale: true }, { status: 'error', stale: false }])
  const checked = rows.filter(r => r.type === 'LICENCE_CHECKED')
  assert.ok(checked.length >= 4, `${checked.length} LICENCE_CHECKED rows`)
  assert.is(checked[checked.length - 1].outcome, 'error')
})

test('two servers, one unreachable: an outage (valid and stale within graceS, exit 0), not evidence; a reachable server lying about the tip still ends valid at once', async ctx => {
  const a = await startElectrum(ctx)
  const b = await startElectrum(ctx, a.chain)
  const portB = Number(b.tcp.split(':').pop())
  const vendor = newAddress('p2wpkh')
  const { txid, height } = a.chain.payLicence({ to: vendor.address, sats: 6_000n, machineId: MACHINE, confirmations: 1 })
  const home = await homeWithLicence(ctx, { vendorAddress: vendor.address, requiredSats: '6000', network: 'regtest', electrum: [a.tcp, b.tcp], txid, height, graceS: 3600 })
  await runDaemonIn(ctx, home)
  const first = (await licenceStatusIs(home, 'valid', 'a valid verdict')).json
  assert.match(first.checks.find((c: any) => c.name === 'tipAgreement').detail, /2 servers agree/)

  // Either server down, in either order: the other still proves the payment; the verdict is kept, stale.
  await b.server.stop()
  const down = await sov(home, ['licence', 'status', '--recheck', '--json'])
  assert.is(down.code, 0, down.stdout + down.stderr)
  assert.is(down.json.status, 'valid')
  assert.is(down.json.stale, true)
  assert.is(down.json.lastVerifiedAt, first.checkedAt)
  assert.match(down.json.error.message, new RegExp(`${b.tcp.replace(/[/.]/g, '\\$&')} could not be reached \\(.*connection refused.*\\); only 1 of 2 servers reported a tip`))
  const human = await sov(home, ['status'])
  assert.match(human.stdout, /Licence: +valid \(stale: the last check reached no verdict; kept through the grace\) — Cannot verify the licence: tcp:\/\/127\.0\.0\.1:\d+ could not be reached/)

  // The server back, lying about the tip: reachable servers disagree — evidence, error at once, no grace.
  await startElectrum(ctx, a.chain, { tcpPort: portB, lie: { kind: 'forkTip' } })
  const lied = await sov(home, ['licence', 'status', '--recheck', '--json'])
  assert.is(lied.code, 1)
  assert.is(lied.json.status, 'error')
  assert.not.ok(lied.json.stale)
  assert.not.ok(lied.json.unreachable)
  assert.match(lied.json.error.message, /disagree on the tip/)
  assert.equal(changesOf(await auditRows(home)), [{ status: 'valid', stale: false }, { status: 'valid', stale: true }, { status: 'error', stale: false }])
})

test('a licence section written key by key is unconfigured, naming what is missing, not an error', async ctx => {
  const home = await homeWithLicence(ctx, { vendorAddress: newAddress('p2wpkh').address, network: 'regtest' })
  await runDaemonIn(ctx, home)
  const r = await licenceStatusIs(home, 'unconfigured', 'an unconfigured licence')
  assert.match(r.json.detail, /the "licence" section in config\.json has no "txid", "requiredSats", "electrum"; set each with `sov config set licence\.KEY VALUE`/)
  const status = await sov(home, ['status', '--json'])
  assert.is(status.json.licence.status, 'unconfigured')
})

test.run()
