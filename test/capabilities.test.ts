// The capability table on real files: signing, the one check and its reasons, lines the node did
// not sign, persistence.
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { appendFileSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { Capabilities, RevokedPeers, grantId, signGrant, signRevocation } from '../node/caps/index.js'
import { assertRejects, kitSuite } from './kit/index.js'

const test = kitSuite('capabilities')

async function openCaps (ctx: any, dir: string, key: PrivateKey): Promise<Capabilities> {
  const caps = await Capabilities.open({ dir, privateKey: key, peerId: peerIdFromPrivateKey(key).toString() })
  ctx.defer(async () => { await caps.close() })
  return caps
}

async function setup (ctx: any): Promise<{ dir: string, key: PrivateKey, self: string, peer: string, caps: Capabilities }> {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-caps-')
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return { dir, key, self: peerIdFromPrivateKey(key).toString(), peer, caps: await openCaps(ctx, dir, key) }
}

test('a grant the node signed is honoured; its id is the SHA-256 of its canonical form without sig', async ctx => {
  const { caps, peer, self } = await setup(ctx)
  const { id, grant } = await caps.sign({ aud: peer, cmd: '/a2a/send', mailbox: 'builder', expiresS: 3600 })
  assert.equal(Object.keys(grant).sort(), ['aud', 'cmd', 'exp', 'iss', 'nbf', 'nonce', 'sig', 'v', 'with'])
  assert.equal([grant.v, grant.iss, grant.aud, grant.cmd, grant.with, grant.exp], [1, self, peer, '/a2a/send', 'mailbox:builder', grant.nbf + 3600])
  assert.match(grant.sig, /^[A-Za-z0-9_-]{86}$/)
  const { sig: _s, ...payload } = grant
  const canonical = `{"aud":"${peer}","cmd":"/a2a/send","exp":${grant.exp},"iss":"${self}","nbf":${grant.nbf},"nonce":"${grant.nonce}","v":1,"with":"mailbox:builder"}`
  assert.is(JSON.stringify(Object.fromEntries(Object.entries(payload).sort(([a], [b]) => a < b ? -1 : 1))), canonical)
  assert.is(id, createHash('sha256').update(canonical).digest('hex'))
  assert.is(grantId(grant), id)

  assert.equal(caps.check({ aud: peer, cmd: '/a2a/send', mailbox: 'builder' }), { ok: false, reason: `no grant of /a2a/send to ${peer}` }, 'not honoured before it is stored')
  await caps.add(id, grant)
  const ok = caps.check({ aud: peer, cmd: '/a2a/send', mailbox: 'builder' })
  assert.ok(ok.ok)
  assert.is(ok.ok && ok.id, id)
  assert.ok(caps.check({ aud: peer, cmd: '/a2a/send' }).ok, 'without a mailbox any grant of the command will do')
})

test('unknown commands, bad audiences, meaningless grants and mailboxes on unscoped commands are refused at grant time', async ctx => {
  const { caps, peer, self } = await setup(ctx)
  for (const [req, msg] of [
    [{ aud: peer, cmd: '/a2a/delete' }, /unknown command/],
    [{ aud: 'not-a-peer', cmd: '/a2a/send' }, /neither a PeerId nor agent:NAME/],
    [{ aud: 'agent:bad name', cmd: '/a2a/read' }, /agent names/],
    [{ aud: 'agent:a', cmd: '/cap/admin', mailbox: 'x' }, /not scoped to mailboxes/],
    [{ aud: 'agent:a', cmd: '/a2a/send', mailbox: 'x' }, /an agent sends with \/a2a\/post/],
    [{ aud: peer, cmd: '/a2a/read', mailbox: 'x' }, /only agents \(agent:NAME\) make/],
    [{ aud: self, cmd: '/a2a/send', mailbox: 'x' }, /this node itself/],
    [{ aud: peer, cmd: '/a2a/send', mailbox: '../etc' }, /mailbox names/]
  ] as const) {
    const err: any = await assertRejects(async () => await caps.sign(req as any), JSON.stringify(req))
    assert.is(err.code, 'BAD_REQUEST')
    assert.match(err.message, msg)
  }
  const { grant } = await caps.sign({ aud: 'agent:builder', cmd: '/audit/read' })
  assert.equal([grant.with, grant.exp], ['mailbox:*', null])
})

test('expired, not-yet-valid, revoked and tampered grants are refused, each with its reason', async ctx => {
  const { caps, peer, key, self, dir } = await setup(ctx)
  const now = Math.floor(Date.now() / 1000)
  const g = await caps.sign({ aud: peer, cmd: '/a2a/send', mailbox: 'inbox', nbf: now, expiresS: 100 })
  await caps.add(g.id, g.grant)
  const q = { aud: peer, cmd: '/a2a/send', mailbox: 'inbox' }
  assert.ok(caps.check({ ...q, now: now + 99 }).ok, 'valid just before exp')
  assert.equal(caps.check({ ...q, now: now + 100 }), { ok: false, reason: `grant ${g.id.slice(0, 16)} expired at ${new Date((now + 100) * 1000).toISOString()}` })
  assert.match((caps.check({ ...q, now: now - 1 }) as any).reason, /is not valid before/)

  const { rev } = await caps.prepareRevocation(g.id)
  await caps.addRevocation(rev)
  assert.equal(caps.check({ ...q, now: now + 10 }), { ok: false, reason: `grant ${g.id.slice(0, 16)} is revoked` })
  assert.is((await caps.prepareRevocation(g.id)).already, true)

  // A grant edited in the file (a wider mailbox) no longer matches its signature.
  const h = await signGrant(key, { iss: self, aud: 'agent:r', cmd: '/a2a/read', mailbox: 'inbox' })
  appendFileSync(join(dir, 'grants.jsonl'), JSON.stringify({ ...h.grant, with: 'mailbox:*' }) + '\n')
  const reopened = await openCaps(ctx, dir, key)
  const r = reopened.check({ aud: 'agent:r', cmd: '/a2a/read', mailbox: 'other' })
  assert.is(r.ok, false)
  assert.match((r as any).reason, /is not honoured: its signature does not verify/)
  assert.is(reopened.ignored.length, 1)
  assert.match(reopened.ignored[0].reason, /signature does not verify/)
  assert.equal(reopened.check({ ...q, now: now + 10 }), { ok: false, reason: `grant ${g.id.slice(0, 16)} is revoked` }, 'the revocation survived the reopen')
})

test('a revocation held while it is recorded refuses the grant at once; released unrecorded, the grant works again; two holds need two releases (helper finding, stop 29)', async ctx => {
  const { caps, peer } = await setup(ctx)
  const g = await caps.sign({ aud: peer, cmd: '/a2a/send', mailbox: 'inbox' })
  await caps.add(g.id, g.grant)
  const q = { aud: peer, cmd: '/a2a/send', mailbox: 'inbox' }
  const first = caps.holdRevocation([g.id])
  const second = caps.holdRevocation([g.id])
  assert.equal(caps.check(q), { ok: false, reason: `grant ${g.id.slice(0, 16)} is revoked` })
  first()
  first()
  assert.is(caps.check(q).ok, false, 'a release counts once')
  second()
  assert.is(caps.check(q).ok, true, 'not recorded: the grant is honoured again')
  const held = caps.holdRevocation([g.id])
  await caps.addRevocation((await caps.prepareRevocation(g.id)).rev)
  held()
  assert.is(caps.check(q).ok, false, 'recorded: the tombstone keeps refusing it')
})

test('a peer held while its revocation is recorded is refused at once; released unrecorded it is not; recorded it stays refused', ctx => {
  const revoked = new RevokedPeers(join(ctx.tmp('sov-peers-'), 'revoked.json'))
  const peer = '12D3KooWGzQ8Yz2Cf6ZyGdUjKwYjDx2NLHhy2JbTTA3MygUbAPDs'
  const release = revoked.hold(peer)
  assert.ok(revoked.has(peer))
  release()
  assert.not.ok(revoked.has(peer))
  const again = revoked.hold(peer)
  revoked.add(peer)
  again()
  assert.ok(revoked.has(peer))
  assert.equal(revoked.list(), [peer], 'only a recorded revocation is listed')
})

test('grant lines and tombstones this node did not sign are not honoured', async ctx => {
  const { caps, peer, key, self, dir } = await setup(ctx)
  const other = await generateKeyPair('Ed25519')
  const otherId = peerIdFromPrivateKey(other).toString()
  // Claims to be from this node but is signed by another key; and one honestly from another node.
  const forged = await signGrant(other, { iss: self, aud: 'agent:x', cmd: '/cap/admin' })
  const foreign = await signGrant(other, { iss: otherId, aud: 'agent:x', cmd: '/audit/read' })
  appendFileSync(join(dir, 'grants.jsonl'), JSON.stringify(forged.grant) + '\n' + JSON.stringify(foreign.grant) + '\n{"v":1,"garbage":true}\n')
  // A tombstone for a real grant, signed by the other key.
  const real = await caps.sign({ aud: peer, cmd: '/a2a/send' })
  await caps.add(real.id, real.grant)
  appendFileSync(join(dir, 'revoked.jsonl'), JSON.stringify(await signRevocation(other, self, real.id)) + '\n')

  const reopened = await openCaps(ctx, dir, key)
  assert.match((reopened.check({ aud: 'agent:x', cmd: '/cap/admin' }) as any).reason, /signature does not verify/)
  assert.match((reopened.check({ aud: 'agent:x', cmd: '/audit/read' }) as any).reason, new RegExp(`issued by ${otherId}, not by this node`))
  assert.ok(reopened.check({ aud: peer, cmd: '/a2a/send' }).ok, 'an unsigned tombstone revokes nothing')
  assert.equal(reopened.ignored.map(i => [i.file, i.line]), [['grants.jsonl', 1], ['grants.jsonl', 2], ['grants.jsonl', 3], ['revoked.jsonl', 1]])
  assert.equal(reopened.list().map(g => g.id), [real.id], 'cap list shows only grants this node honours')
  const err: any = await assertRejects(async () => await reopened.prepareRevocation(forged.id))
  assert.is(err.code, 'NOT_FOUND')
})

test('mailbox scoping: a grant on one mailbox does not cover another; mailbox:* covers all', async ctx => {
  const { caps } = await setup(ctx)
  const one = await caps.sign({ aud: 'agent:reader', cmd: '/a2a/read', mailbox: 'builder' })
  await caps.add(one.id, one.grant)
  assert.ok(caps.check({ aud: 'agent:reader', cmd: '/a2a/read', mailbox: 'builder' }).ok)
  assert.equal(caps.check({ aud: 'agent:reader', cmd: '/a2a/read', mailbox: 'payroll' }), { ok: false, reason: 'no grant of /a2a/read to agent:reader covers mailbox "payroll"' })
  assert.is(caps.check({ aud: 'agent:reader', cmd: '/a2a/post', mailbox: 'builder' }).ok, false, 'another command is not covered')
  assert.is(caps.check({ aud: 'agent:other', cmd: '/a2a/read', mailbox: 'builder' }).ok, false, 'another audience is not covered')
  const all = await caps.sign({ aud: 'agent:reader', cmd: '/a2a/read', mailbox: '*' })
  await caps.add(all.id, all.grant)
  assert.ok(caps.check({ aud: 'agent:reader', cmd: '/a2a/read', mailbox: 'payroll' }).ok)
})

test('grants persist as append-only JSONL; a torn last line is moved aside at open', async ctx => {
  const { caps, peer, key, dir } = await setup(ctx)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const g = await caps.sign({ aud: peer, cmd: '/a2a/send', mailbox: `m${i}` })
    await caps.add(g.id, g.grant)
    ids.push(g.id)
  }
  const text = readFileSync(join(dir, 'grants.jsonl'), 'utf8')
  assert.is(text.split('\n').filter(Boolean).length, 5)
  appendFileSync(join(dir, 'grants.jsonl'), text.slice(0, 40))
  const reopened = await openCaps(ctx, dir, key)
  assert.equal(reopened.list().map(g => g.id), ids)
  assert.is(reopened.torn.length, 1)
  assert.ok(readdirSync(dir).some(f => f.startsWith('grants.jsonl.torn-')))
  const g = await reopened.sign({ aud: peer, cmd: '/a2a/send', mailbox: 'after' })
  await reopened.add(g.id, g.grant)
  const again = await openCaps(ctx, dir, key)
  assert.is(again.list().length, 6)
  assert.is(again.ignored.length, 0, 'the file is whole again')
})

test.run()
