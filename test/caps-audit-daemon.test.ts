// Capabilities and the audit log end to end: real daemon processes from the built `sov`, temp
// homes, the CLI's JSON shapes and exit codes.
import * as assert from 'uvu/assert'
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity, parseSwarmKey } from '../mesh/index.js'
import { signGrant } from '../node/caps/index.js'
import { kitSuite } from './kit/index.js'
import { runDaemonIn, sov, startDaemon, type SovResult } from './kit/daemon.js'

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
  const issued = await sov(a.home, ['agent-token', 'issue', 'w', '--scope', '/a2a/post', '--json'])
  const oldOperator = readFileSync(join(a.home, 'operator.token'), 'utf8').trim()
  assert.is((await sov(a.home, ['token', 'rotate'])).code, 0)
  for (let i = 0; i < 3; i++) await sov(a.home, ['cap', 'grant', 'agent:w', '/a2a/read', '--mailbox', `m${i}`])

  const ok = await sov(a.home, ['audit', 'verify', '--json'])
  assert.is(ok.code, 0, ok.stderr)
  assert.equal([ok.json.ok, ok.json.firstBadSeq], [true, null])
  assert.ok(ok.json.rows >= 7)
  const cp = await sov(a.home, ['audit', 'checkpoint', '--json'])
  assert.equal(Object.keys(cp.json).sort(), ['hash', 'seq', 'sig', 'ts'])
  const rows = await auditRows(a.home)
  assert.ok(rows.some(r => r.type === 'IPC_AUTH_FAILED' && r.detail.tokenPrefix === `${badToken.slice(0, 6)}…`), 'a bad token is audited by its prefix only')
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

test.run()
