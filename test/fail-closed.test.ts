// Nothing fails open (issue 10 §2), through real daemons and the built `sov`: secret files that
// are empty, short or unreadable stop the start; rotating the operator token or revoking an agent
// token ends the sessions that used the old secret; grants that could never mean anything, and
// revoking this node itself, are BAD_REQUEST.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { kitSuite, waitFor } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { ipc, startA2ADaemon } from './kit/a2a.js'

const test = kitSuite('fail-closed')

for (const [what, content] of [['empty', ''], ['whitespace-only', '  \n\t\n'], ['short', 'abc123\n']] as const) {
  test(`an ${what} operator.token stops the start with an error naming the file, never its content`, async ctx => {
    const home = ctx.tmp('sov-home-')
    assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
    writeFileSync(join(home, 'operator.token'), content, { mode: 0o600 })
    const r = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })
    assert.is.not(r.code, 0, 'the daemon must not start')
    assert.match(r.stderr, /error\[BAD_REQUEST\]: Cannot use operator token ".*operator\.token": it (is empty|holds only whitespace|holds 6 characters).*run `sov init`/)
    assert.not.match(r.stderr, /abc123/)
  })
}

test('an unreadable operator.token or a damaged agents.json stops the start (root can read anything: the mode part is skipped)', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  writeFileSync(join(home, 'agents.json'), '', { mode: 0o600 })
  const r = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })
  assert.is.not(r.code, 0)
  assert.match(r.stderr, /error\[INTERNAL\]: Cannot read agent tokens ".*agents\.json"/)
  if (process.getuid?.() !== 0) {
    writeFileSync(join(home, 'agents.json'), '{"agents":[]}\n', { mode: 0o600 })
    chmodSync(join(home, 'operator.token'), 0o000)
    const u = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })
    assert.is.not(u.code, 0)
    assert.match(u.stderr, /operator token ".*operator\.token"/)
  }
})

test('token rotate and agent-token revoke end every session that used the old secret, the caller\'s after its answer', async ctx => {
  const d = await startA2ADaemon(ctx)
  const old = await ipc(ctx, d.home)
  const idle = await ipc(ctx, d.home)
  assert.ok((await old.request('status', {})).peerId)
  const issued = await sov(d.home, ['agent-token', 'issue', 'bot', '--scope', '/a2a/read:inbox', '--json'])
  assert.is(issued.code, 0, issued.stderr)
  const bot = await ipc(ctx, d.home, issued.json.token)
  assert.equal(await bot.request('a2a.mailboxes', {}), [])
  const polling = bot.request('a2a.receive', { mailbox: 'inbox', waitMs: 20_000 }, 25_000).catch(err => err)

  const rotated = await old.request('token.rotate', {})
  assert.is(rotated.rotated, true, 'the caller still gets its answer')
  for (const c of [old, idle]) {
    const err: any = await waitFor(async () => await c.request('status', {}).then(() => undefined, e => e), 5000, 'the old session to end')
    assert.is(err.code, 'UNAUTHENTICATED')
  }
  const fresh = await ipc(ctx, d.home)
  assert.ok((await fresh.request('status', {})).peerId, 'the new token works')

  const revoked = await sov(d.home, ['agent-token', 'revoke', 'bot'])
  assert.is(revoked.code, 0, revoked.stderr)
  const ended: any = await polling
  assert.is(ended?.code, 'UNAUTHENTICATED', 'the long poll of the revoked agent ended')
  const again: any = await bot.request('a2a.mailboxes', {}).catch(e => e)
  assert.is(again.code, 'UNAUTHENTICATED')
})

test('grants that can never mean anything, and revoking this node, are BAD_REQUEST naming why', async ctx => {
  const d = await startA2ADaemon(ctx)
  const remote = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  for (const [args, why] of [
    [['cap', 'grant', 'agent:bot', '/a2a/send', '--mailbox', 'inbox'], /an agent sends with \/a2a\/post/],
    [['cap', 'grant', remote, '/a2a/read', '--mailbox', 'inbox'], /only agents \(agent:NAME\) make/],
    [['cap', 'grant', remote, '/cap/admin'], /only agents \(agent:NAME\) make/],
    [['cap', 'grant', d.peerId, '/a2a/send', '--mailbox', 'inbox'], /this node itself/],
    [['agent-token', 'issue', 'bot', '--scope', '/a2a/send:inbox'], /an agent sends with \/a2a\/post/],
    [['peers', 'revoke', d.peerId], /that is this node itself/]
  ] as const) {
    const r = await sov(d.home, [...args])
    assert.is.not(r.code, 0, `${args.join(' ')} must be refused`)
    assert.match(r.stderr, /error\[BAD_REQUEST\]/)
    assert.match(r.stderr, why)
  }
  assert.equal((await sov(d.home, ['cap', 'list', '--json'])).json, [], 'nothing was stored')
  assert.equal((await sov(d.home, ['agent-token', 'list', '--json'])).json, [])
  assert.not.match(readFileSync(join(d.home, 'peers', 'revoked.json'), { encoding: 'utf8', flag: 'a+' }), new RegExp(d.peerId))
})

test.run()
