// Capabilities and the audit log end to end: real daemon processes from the built `sov`, temp
// homes, the CLI's JSON shapes and exit codes.
import * as assert from 'uvu/assert'
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity, parseSwarmKey } from '../mesh/index.js'
import { signGrant } from '../node/caps/index.js'
import { prepareEvent, sealRow, type AuditEvent } from '../node/audit/index.js'
import { kitSuite } from './kit/index.js'
import { runDaemonIn, sov, startDaemon, type SovResult } from './kit/daemon.js'
import { ipc } from './kit/a2a.js'

const test = kitSuite('caps-audit-daemon')
const errorCode = (r: SovResult): string | undefined => r.json?.error?.code

async function auditRows (home: string, n = 200): Promise<any[]> {
  const r = await sov(home, ['audit', 'tail', '-n', String(n), '--json'])
  assert.is(r.code, 0, r.stderr)
  return r.json
}

/** Every file under audit/ and capabilities/ holds none of the home's secrets nor `extra`. */
function assertNoSecrets (home: string, extra: string[]): void {
  const key = parseSwarmKey(readFileSync(join(home, 'swarm.key'))).key
  const nodeKey = readFileSync(join(home, 'identity', 'node.key'))
  const secrets = [readFileSync(join(home, 'operator.token'), 'utf8').trim(), ...extra]
  for (const bytes of [Buffer.from(key), nodeKey, nodeKey.subarray(-64), nodeKey.subarray(-64, -32)]) {
    secrets.push(bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'))
  }
  let files = 0
  for (const dir of ['audit', 'capabilities']) {
    for (const name of readdirSync(join(home, dir))) {
      const raw = readFileSync(join(home, dir, name))
      const text = raw.toString('utf8')
      files++
      for (const s of secrets) assert.not.ok(text.includes(s) || raw.includes(Buffer.from(s, 'utf8')), `${dir}/${name} contains a secret (${s.slice(0, 6)}…)`)
      assert.not.ok(raw.includes(Buffer.from(key)), `${dir}/${name} contains the raw swarm key`)
      assert.not.ok(raw.includes(nodeKey.subarray(-64, -32)), `${dir}/${name} contains the raw private key`)
    }
  }
  assert.ok(files >= 4, 'the scan saw the audit and capability files')
}

test('cap grant, list and revoke through the CLI: documented shapes, audited, status shows the audit head', async ctx => {
  const a = await startDaemon(ctx)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const g = await sov(a.home, ['cap', 'grant', peer, '/a2a/send', '--mailbox', 'builder', '--json'])
  assert.is(g.code, 0, g.stderr)
  assert.match(g.json.id, /^[0-9a-f]{64}$/)
  assert.equal([g.json.grant.v, g.json.grant.iss, g.json.grant.aud, g.json.grant.cmd, g.json.grant.with], [1, a.peerId, peer, '/a2a/send', 'mailbox:builder'])
  assert.is(g.json.grant.exp - g.json.grant.nbf, 7 * 86400, 'the CLI default lifetime is 7 days')

  const unknown = await sov(a.home, ['cap', 'grant', peer, '/a2a/delete', '--json'])
  assert.is(unknown.code, 2)
  assert.is(errorCode(unknown), 'BAD_REQUEST')
  assert.match(unknown.stdout, /unknown command/)

  const list = await sov(a.home, ['cap', 'list', '--json'])
  assert.equal(list.json.map((x: any) => [x.id, x.aud, x.cmd, x.with, x.exp, x.revoked]), [[g.json.id, peer, '/a2a/send', 'mailbox:builder', g.json.grant.exp, false]])
  const rev = await sov(a.home, ['cap', 'revoke', g.json.id, '--json'])
  assert.equal(rev.json, { id: g.json.id, revoked: true, alreadyRevoked: false })
  assert.is((await sov(a.home, ['cap', 'list', '--json'])).json[0].revoked, true)
  const missing = await sov(a.home, ['cap', 'revoke', 'ab'.repeat(32), '--json'])
  assert.is(errorCode(missing), 'NOT_FOUND')

  const rows = await auditRows(a.home)
  assert.equal(rows[0].type, 'NODE_STARTED')
  const granted = rows.find(r => r.type === 'CAP_GRANTED')
  assert.equal([granted.actor, granted.detail.id, granted.detail.with], ['operator', g.json.id, 'mailbox:builder'])
  assert.ok(rows.some(r => r.type === 'CAP_REVOKED' && r.detail.id === g.json.id))
  const st = await sov(a.home, ['status', '--json'])
  const last = (await auditRows(a.home, 1))[0]
  assert.equal(st.json.audit, { seq: last.seq, hash: last.hash })
})

test('an agent token with /a2a/read on one mailbox cannot touch another; refusals are audited with their reason', async ctx => {
  const a = await startDaemon(ctx)
  const issued = await sov(a.home, ['agent-token', 'issue', 'reader', '--scope', '/a2a/read:builder', '--scope', '/audit/read', '--json'])
  assert.is(issued.code, 0, issued.stderr)
  assert.is(issued.json.grants.length, 2)
  const grants = (await sov(a.home, ['cap', 'list', '--json'])).json
  assert.equal(grants.map((x: any) => [x.aud, x.cmd, x.with]), [['agent:reader', '/a2a/read', 'mailbox:builder'], ['agent:reader', '/audit/read', 'mailbox:*']])
  const asAgent = { env: { SOV_TOKEN: issued.json.token } }

  const other = await sov(a.home, ['a2a', 'ack', 'payroll', 'some-id', '--json'], asAgent)
  assert.is(errorCode(other), 'FORBIDDEN')
  assert.match(other.stdout, /no grant of \/a2a\/read to agent:reader covers mailbox \\"payroll\\"/)
  const own = await sov(a.home, ['a2a', 'ack', 'builder', 'some-id', '--json'], asAgent)
  assert.is.not(errorCode(own), 'FORBIDDEN', 'its own mailbox passes the capability check')
  const operatorOnly = await sov(a.home, ['peers', 'list', '--json'], asAgent)
  assert.is(errorCode(operatorOnly), 'FORBIDDEN')
  const tail = await sov(a.home, ['audit', 'tail', '-n', '50', '--json'], asAgent)
  assert.is(tail.code, 0, '/audit/read lets the agent read the log')
  const refusals = tail.json.filter((r: any) => r.type === 'IPC_FORBIDDEN')
  assert.equal(refusals.map((r: any) => [r.actor, r.outcome, r.detail.request, r.detail.mailbox]), [['agent:reader', 'denied', 'a2a.ack', 'payroll'], ['agent:reader', 'denied', 'peers.list', null]])
  assert.match(refusals[0].detail.reason, /covers mailbox "payroll"/)
  assert.match(refusals[1].detail.reason, /for the operator only/)

  // The same refusal again and again is counted, not written each time: 300 pipelined refusals
  // add no row now, and one row with their count when the window closes (at the latest, at stop).
  const agent = await ipc(ctx, a.home, issued.json.token)
  const many = await Promise.allSettled(Array.from({ length: 300 }, async () => await agent.request('a2a.ack', { mailbox: 'payroll', leases: ['x.1'] })))
  assert.ok(many.every(r => r.status === 'rejected' && r.reason.code === 'FORBIDDEN'), 'every one is refused')
  const after = (await sov(a.home, ['audit', 'tail', '-n', '50', '--json'])).json.filter((r: any) => r.type === 'IPC_FORBIDDEN')
  assert.is(after.length, 2, 'no row per repeat')
  assert.is(await a.stop(), 0)
  const b = await runDaemonIn(ctx, a.home)
  const counted = (await auditRows(b.home)).filter(r => r.type === 'IPC_FORBIDDEN' && r.detail.aggregated === true)
  assert.equal(counted.map(r => [r.detail.mailbox, r.detail.count]), [['payroll', 300]], 'the repeats are one row with their count')

  assert.is((await sov(a.home, ['agent-token', 'revoke', 'reader'])).code, 0)
  assert.ok((await sov(a.home, ['cap', 'list', '--json'])).json.every((x: any) => x.revoked), 'revoking the token revokes its grants')
  assert.is(errorCode(await sov(a.home, ['audit', 'tail', '--json'], asAgent)), 'UNAUTHENTICATED')
  assertNoSecrets(a.home, [issued.json.token])
})

test('forged, tampered, not-yet-valid, expired and revoked grants are refused, each with its reason in the audit log', async ctx => {
  const a = await startDaemon(ctx)
  const issued = await sov(a.home, ['agent-token', 'issue', 'bot', '--scope', '/audit/read', '--json'])
  const asBot = { env: { SOV_TOKEN: issued.json.token } }
  // Revoked: granted and revoked through the daemon.
  const g = await sov(a.home, ['cap', 'grant', 'agent:bot', '/a2a/read', '--mailbox', 'rev', '--json'])
  assert.is((await sov(a.home, ['cap', 'revoke', g.json.id])).code, 0)
  assert.is(await a.stop(), 0)

  // Lines written into grants.jsonl behind the daemon's back, read at the next start.
  const nodeKey = await loadOrCreateIdentity(join(a.home, 'identity', 'node.key'))
  const other = await generateKeyPair('Ed25519')
  const now = Math.floor(Date.now() / 1000)
  const forged = await signGrant(other, { iss: a.peerId, aud: 'agent:bot', cmd: '/cap/admin' })
  const honest = await signGrant(nodeKey, { iss: a.peerId, aud: 'agent:bot', cmd: '/a2a/read', mailbox: 'inbox', nbf: now - 7200, expiresS: 60 })
  const tampered = { ...honest.grant, exp: null }
  const early = await signGrant(nodeKey, { iss: a.peerId, aud: 'agent:bot', cmd: '/a2a/post', nbf: now + 3600 })
  const expired = await signGrant(nodeKey, { iss: a.peerId, aud: 'agent:bot', cmd: '/a2a/read', mailbox: 'old', nbf: now - 7200, expiresS: 3600 })
  appendFileSync(join(a.home, 'capabilities', 'grants.jsonl'), [forged.grant, tampered, early.grant, expired.grant].map(x => JSON.stringify(x) + '\n').join(''))
  await runDaemonIn(ctx, a.home)

  const cases: Array<[string, string[], RegExp]> = [
    ['forged', ['cap', 'list'], /its signature does not verify/],
    ['tampered', ['a2a', 'ack', 'inbox', 'x'], /is not honoured: its signature does not verify/],
    ['not yet valid', ['a2a', 'outbox'], /is not valid before/],
    ['expired', ['a2a', 'ack', 'old', 'x'], /expired at/],
    ['revoked', ['a2a', 'ack', 'rev', 'x'], /is revoked/]
  ]
  for (const [what, args, reason] of cases) {
    const r = await sov(a.home, [...args, '--json'], asBot)
    assert.is(errorCode(r), 'FORBIDDEN', `${what}: ${r.stderr}`)
    assert.match(r.stdout, reason, what)
  }
  const rows = await auditRows(a.home)
  const refusals = rows.filter(r => r.type === 'IPC_FORBIDDEN').slice(-5)
  cases.forEach(([what, , reason], i) => { assert.match(refusals[i].detail.reason, reason, `the audit row of the ${what} refusal`) })
  const ignored = rows.filter(r => r.type === 'CAP_LINE_IGNORED')
  assert.equal(ignored.map(r => r.detail.id), [forged.id, (await import('../node/caps/index.js')).grantId(tampered)], 'unsigned lines are reported at load')
  assert.not.ok((await sov(a.home, ['cap', 'list', '--json'])).json.some((x: any) => x.id === forged.id), 'cap list shows only what the node signed')
  assertNoSecrets(a.home, [issued.json.token])
})

test('audit verify, checkpoint and purge through the CLI; a tampered row makes verify exit 3 naming its seq', async ctx => {
  const a = await startDaemon(ctx)
  const badToken = randomBytes(32).toString('hex')
  assert.is(errorCode(await sov(a.home, ['status', '--json'], { env: { SOV_TOKEN: badToken } })), 'UNAUTHENTICATED')
  const oldOperator = readFileSync(join(a.home, 'operator.token'), 'utf8').trim()
  // A near miss of the real token: its refusal must not record any part of it (it gave 6 characters).
  const nearMiss = oldOperator.slice(0, -1) + (oldOperator.endsWith('0') ? '1' : '0')
  assert.is(errorCode(await sov(a.home, ['status', '--json'], { env: { SOV_TOKEN: nearMiss } })), 'UNAUTHENTICATED')
  const issued = await sov(a.home, ['agent-token', 'issue', 'w', '--scope', '/a2a/post', '--json'])
  assert.is((await sov(a.home, ['agent-token', 'list', '--json'])).json[0].tokenPrefix, 'sova_…', 'the list shows the kind of token, no character of it')
  assert.is((await sov(a.home, ['token', 'rotate'])).code, 0)
  for (let i = 0; i < 3; i++) await sov(a.home, ['cap', 'grant', 'agent:w', '/a2a/read', '--mailbox', `m${i}`])

  const ok = await sov(a.home, ['audit', 'verify', '--json'])
  assert.is(ok.code, 0, ok.stderr)
  assert.equal([ok.json.ok, ok.json.firstBadSeq], [true, null])
  assert.ok(ok.json.rows >= 7)
  const cp = await sov(a.home, ['audit', 'checkpoint', '--json'])
  assert.equal(Object.keys(cp.json).sort(), ['hash', 'seq', 'sig', 'ts'])
  const rows = await auditRows(a.home)
  // The second refusal of the same reason is counted into the window's closing row.
  const refused = rows.filter(r => r.type === 'IPC_AUTH_FAILED')
  assert.is(refused.length, 1, 'the first refused token is audited at once')
  assert.equal(refused[0].detail, { count: 1, reason: 'bad token' }, 'by the reason only')
  assert.not.ok('tokenPrefix' in rows.find(r => r.type === 'AGENT_TOKEN_ISSUED').detail, 'an issued token is recorded without any part of it')
  // No 8-character piece of any token anywhere in the log (past the public `sova_`).
  const auditText = readFileSync(join(a.home, 'audit', 'events.jsonl'), 'utf8')
  for (const t of [badToken, nearMiss, oldOperator, issued.json.token.slice(5)]) {
    for (let i = 0; i + 8 <= t.length; i += 2) assert.not.ok(auditText.includes(t.slice(i, i + 8)), `the audit log holds part of a token (${t.slice(i, i + 2)}… at ${i})`)
  }
  assert.ok(rows.some(r => r.type === 'OPERATOR_TOKEN_ROTATED') && rows.some(r => r.type === 'AGENT_TOKEN_ISSUED'))

  // Purge the rows up to the agent token issue: the chain still verifies and the purge row anchors the cut.
  const issuedRow = rows.find(r => r.type === 'AGENT_TOKEN_ISSUED')
  const before = new Date(Date.parse(issuedRow.ts) + 1).toISOString()
  const purge = await sov(a.home, ['audit', 'purge', '--before', before, '--yes', '--json'])
  assert.is(purge.code, 0, purge.stderr)
  assert.is(purge.json.throughSeq, issuedRow.seq)
  const after = await auditRows(a.home)
  assert.is(after[0].seq, issuedRow.seq + 1)
  assert.ok(after.some(r => r.type === 'AUDIT_PURGED' && r.detail.anchor === issuedRow.hash))
  const still = await sov(a.home, ['audit', 'verify', '--json'])
  assert.equal([still.code, still.json.ok], [0, true], still.stdout)

  // Flip one byte in the third row of the file under the running daemon.
  const path = join(a.home, 'audit', 'events.jsonl')
  const bytes = readFileSync(path)
  let nl = -1
  for (let i = 0; i < 2; i++) nl = bytes.indexOf(0x0a, nl + 1)
  bytes[nl + 20] ^= 0x01
  writeFileSync(path, bytes)
  const broken = await sov(a.home, ['audit', 'verify', '--json'])
  assert.is(broken.code, 3)
  assert.equal([broken.json.ok, broken.json.firstBadSeq], [false, after[2].seq], broken.json.reason)
  const human = await sov(a.home, ['audit', 'verify'])
  assert.is(human.code, 3)
  assert.match(human.stderr, new RegExp(`error\\[AUDIT_BROKEN\\]: .*seq ${after[2].seq}`))
  assertNoSecrets(a.home, [issued.json.token, oldOperator, badToken])
})

test('agent tokens: one issue per name at a time, no grant outlives its token, a change the disk refuses is recorded as failed (helper findings, issue 15 stop 25)', async ctx => {
  const a = await startDaemon(ctx)
  const c = await ipc(ctx, a.home)
  const grantsTo = async (name: string): Promise<any[]> => (await sov(a.home, ['cap', 'list', '--json'])).json.filter((g: any) => g.aud === `agent:${name}` && g.revoked === false)

  // Two issues of one name at once: one wins, the other is CONFLICT and leaves nothing behind
  // (it stored its grants and an ok row, and its /cap/admin grant went to the winner's token).
  const both = await Promise.allSettled([
    c.request('agentToken.issue', { name: 'racer', scopes: ['/a2a/read:inbox'] }),
    c.request('agentToken.issue', { name: 'racer', scopes: ['/cap/admin'] })
  ])
  assert.equal(both.map(r => r.status).sort(), ['fulfilled', 'rejected'])
  assert.is((both.find(r => r.status === 'rejected') as PromiseRejectedResult).reason.code, 'CONFLICT')
  const won = (both.find(r => r.status === 'fulfilled') as PromiseFulfilledResult<any>).value
  assert.equal((await grantsTo('racer')).map(g => g.id), won.grants, 'only the winner\'s grants are live')
  let rows = await auditRows(a.home)
  assert.is(rows.filter(r => r.type === 'AGENT_TOKEN_ISSUED' && r.detail.agent === 'racer').length, 1, 'one issued row')

  // A grant to the name racing its issue: either the issue sweeps it (and says so), or it comes
  // after the token and its row says so; never a right the log puts before the token unswept.
  for (let i = 0; i < 5; i++) {
    const name = `race${i}`
    const [g, t]: any[] = await Promise.all([
      c.request('cap.grant', { aud: `agent:${name}`, cmd: '/cap/admin', mailbox: '*', expiresS: 3600 }),
      c.request('agentToken.issue', { name, scopes: ['/audit/read'] })
    ])
    const log = await auditRows(a.home)
    const grantRow = log.find(r => r.type === 'CAP_GRANTED' && r.detail.id === g.id)
    const issueRow = log.find(r => r.type === 'AGENT_TOKEN_ISSUED' && r.detail.agent === name)
    const swept = (issueRow.detail.revoked ?? []).includes(g.id)
    assert.ok(swept || grantRow.seq > issueRow.seq, `${name}: grant at ${String(grantRow.seq)}, issue at ${String(issueRow.seq)}, swept ${String(swept)}`)
    if (swept) assert.is(((await grantsTo(name)).map(x => x.id)).includes(g.id), false)
    assert.ok(t.grants.length === 1)
  }

  // A grant added to the agent with cap grant goes with its token: the next token of the name starts clean.
  assert.is((await sov(a.home, ['cap', 'grant', 'agent:racer', '/audit/read'])).code, 0)
  const revoked = await sov(a.home, ['agent-token', 'revoke', 'racer', '--json'])
  assert.is(revoked.code, 0, revoked.stderr)
  assert.equal(await grantsTo('racer'), [], 'revoke takes every grant to agent:racer')
  // One granted before a token exists is revoked when the token is issued (and said in its row).
  const early = await sov(a.home, ['cap', 'grant', 'agent:racer', '/a2a/read', '--mailbox', 'secret', '--json'])
  const again = await sov(a.home, ['agent-token', 'issue', 'racer', '--scope', '/licence/verify', '--json'])
  assert.is(again.code, 0, again.stderr)
  assert.equal((await grantsTo('racer')).map(g => g.id), again.json.grants)
  rows = await auditRows(a.home)
  assert.equal(rows.filter(r => r.type === 'AGENT_TOKEN_ISSUED' && r.detail.agent === 'racer').at(-1).detail.revoked, [early.json.id])
  const refused: any = await (await ipc(ctx, a.home, again.json.token)).request('a2a.receive', { mailbox: 'secret', max: 1 }).catch(e => e)
  assert.is(refused.code, 'FORBIDDEN', 'the new token did not inherit the old grant')

  // agents.json cannot be written (a directory in its place): the issue is refused naming the
  // file, nothing authenticates, a CHANGE_FAILED row follows its ok row, no temp file is left,
  // and the next issue of the name revokes the grants the failed one stored.
  const agentsFile = join(a.home, 'agents.json')
  rmSync(agentsFile, { force: true })
  mkdirSync(agentsFile)
  const failed = await sov(a.home, ['agent-token', 'issue', 'ghost', '--scope', '/cap/admin', '--json'])
  assert.is(errorCode(failed), 'UNAVAILABLE', failed.stdout + failed.stderr)
  assert.match(failed.json.error.message, /cannot write ".*agents\.json": a directory stands where the file should be/)
  rows = await auditRows(a.home)
  const ok = rows.findLast(r => r.type === 'AGENT_TOKEN_ISSUED')
  assert.is(ok.detail.agent, 'ghost')
  const change = rows.find(r => r.type === 'CHANGE_FAILED' && r.seq > ok.seq)
  assert.ok(change !== undefined, 'a CHANGE_FAILED row follows')
  assert.equal([change.outcome, change.detail.change, change.detail.agent], ['error', 'AGENT_TOKEN_ISSUED', 'ghost'])
  assert.not.ok((await sov(a.home, ['agent-token', 'list', '--json'])).json.some((r: any) => r.name === 'ghost'), 'the failed agent is not listed')
  assert.equal(readdirSync(a.home).filter(f => f.includes('.tmp-')), [], 'no temp file left')
  rmSync(agentsFile, { recursive: true })
  const orphans = (await grantsTo('ghost')).map(g => g.id)
  assert.is(orphans.length, 1, 'the failed issue stored its grant')
  const ghost = await sov(a.home, ['agent-token', 'issue', 'ghost', '--scope', '/audit/read', '--json'])
  assert.is(ghost.code, 0, ghost.stderr)
  assert.equal((await grantsTo('ghost')).map(g => g.id), ghost.json.grants, 'the orphan grant is revoked at the next issue')

  // operator.token cannot be replaced: rotate is refused naming it, the old token still works,
  // and the ok row is followed by CHANGE_FAILED.
  const tokenFile = join(a.home, 'operator.token')
  const token = readFileSync(tokenFile, 'utf8').trim()
  rmSync(tokenFile)
  mkdirSync(tokenFile)
  const rotate = await sov(a.home, ['token', 'rotate', '--json'], { env: { SOV_TOKEN: token } })
  assert.is(errorCode(rotate), 'UNAVAILABLE', rotate.stderr)
  assert.match(rotate.json.error.message, /operator\.token/)
  rmSync(tokenFile, { recursive: true })
  writeFileSync(tokenFile, token + '\n', { mode: 0o600 })
  assert.is((await sov(a.home, ['status', '--json'])).code, 0, 'the old operator token still works')
  rows = await auditRows(a.home)
  assert.equal(rows.slice(-2).map(r => [r.type, r.outcome]), [['OPERATOR_TOKEN_ROTATED', 'ok'], ['CHANGE_FAILED', 'error']])
  assert.equal(readdirSync(a.home).filter(f => f.includes('.tmp-')), [], 'no temp file left')

  // Sixteen clients at once are normal: the daemon warns of no listener leak (it did past ten).
  await Promise.all(Array.from({ length: 16 }, async () => await (await ipc(ctx, a.home)).request('status', {})))
  assert.not.match(a.output(), /MaxListenersExceeded/)

  // The daemon itself refuses a purge date in the future or not a date, whoever asks (the CLI did).
  const head = (await auditRows(a.home, 1))[0].seq
  for (const before of ['9999-01-01', '1']) {
    const err: any = await c.request('audit.purge', { before }).catch(e => e)
    assert.is(err.code, 'BAD_REQUEST', before)
  }
  assert.is((await auditRows(a.home, 1))[0].seq, head, 'nothing written')
})

test('changes the log recorded but a crash kept from the files are settled at the next start: revocations carried out, grants and tokens never stored said failed (helper finding: kill -9 under load left revoked grants live)', async ctx => {
  const a = await startDaemon(ctx)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const kept = await sov(a.home, ['cap', 'grant', peer, '/a2a/send', '--mailbox', 'jobs', '--json'])
  const gone = await sov(a.home, ['agent-token', 'issue', 'gone', '--scope', '/audit/read', '--json'])
  assert.is(gone.code, 0, gone.stderr)
  assert.is(await a.stop(), 0)

  // The rows a killed daemon had made durable before its stores: appended as it would have.
  const events = join(a.home, 'audit', 'events.jsonl')
  const last = JSON.parse(readFileSync(events, 'utf8').trim().split('\n').at(-1) as string)
  let prev = { seq: last.seq as number, hash: last.hash as string }
  const append = (ev: AuditEvent): number => {
    const { row, line } = sealRow(prev.seq + 1, new Date().toISOString(), ev, prepareEvent(ev), prev.hash)
    appendFileSync(events, line)
    prev = { seq: row.seq, hash: row.hash }
    return row.seq
  }
  const neverStored = 'f'.repeat(64)
  const revokedSeq = append({ type: 'CAP_REVOKED', actor: 'operator', outcome: 'ok', detail: { id: kept.json.id } })
  const grantedSeq = append({ type: 'CAP_GRANTED', actor: 'operator', outcome: 'ok', detail: { id: neverStored, aud: peer, cmd: '/a2a/send', with: 'mailbox:x', nbf: 0, exp: null } })
  const tokenSeq = append({ type: 'AGENT_TOKEN_REVOKED', actor: 'operator', outcome: 'ok', detail: { agent: 'gone', grants: gone.json.grants } })

  const b = await runDaemonIn(ctx, a.home)
  const list = (await sov(b.home, ['cap', 'list', '--json'])).json
  assert.ok(list.find((g: any) => g.id === kept.json.id).revoked, 'the recorded revocation is carried out')
  assert.ok(gone.json.grants.every((id: string) => list.find((g: any) => g.id === id).revoked), 'and the token\'s grants')
  assert.equal((await sov(b.home, ['agent-token', 'list', '--json'])).json, [], 'the revoked token is gone')
  assert.is(errorCode(await sov(b.home, ['audit', 'tail', '--json'], { env: { SOV_TOKEN: gone.json.token } })), 'UNAUTHENTICATED')
  const rows = await auditRows(b.home)
  const follow = rows.filter(r => r.type === 'CHANGE_RECOVERED' || r.type === 'CHANGE_FAILED').map(r => [r.type, r.detail.change, r.detail.seq])
  assert.equal(follow, [['CHANGE_RECOVERED', 'CAP_REVOKED', revokedSeq], ['CHANGE_FAILED', 'CAP_GRANTED', grantedSeq], ['CHANGE_RECOVERED', 'AGENT_TOKEN_REVOKED', tokenSeq]])
  assert.is((await sov(b.home, ['audit', 'verify', '--json'])).json.ok, true)

  // Settled once: the next start writes nothing more.
  assert.is(await b.stop(), 0)
  const c = await runDaemonIn(ctx, a.home)
  assert.is((await auditRows(c.home)).filter(r => r.type === 'CHANGE_RECOVERED' || r.type === 'CHANGE_FAILED').length, 3)
})

test.run()
