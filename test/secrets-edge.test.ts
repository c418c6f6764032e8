// Secrets never leave, and nothing unverifiable gets in (issue 10 §5), through real daemons and
// the built `sov`: a swarm key file without its header lines is described, never quoted, on
// stderr, in `sov node start`'s report and in daemon.log; lone surrogates are refused at the IPC
// edge, at the envelope edge (a remote member), and by jcs; the audit log stays verifiable.
import { jcs } from '../protocol/index.js'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { v7 as uuidv7 } from 'uuid'
import { parseSwarmKey } from '../mesh/index.js'
import { kitSuite, type KitContext } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'
import { startNode } from './kit/mesh.js'

const test = kitSuite('secrets-edge')

/** Every 8-hex-digit window of the key: none may appear anywhere. */
function leaks (text: string, keyHex: string): string[] {
  const out: string[] = []
  for (let i = 0; i + 8 <= keyHex.length; i += 4) if (text.toLowerCase().includes(keyHex.slice(i, i + 8))) out.push(keyHex.slice(i, i + 8))
  return out
}

test('a bare hex swarm key (openssl rand -hex 32) is described, never quoted: init, foreground and background start, daemon.log', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const keyHex = parseSwarmKey(readFileSync(join(home, 'swarm.key'))).key
  const hex = Buffer.from(keyHex).toString('hex')
  writeFileSync(join(home, 'swarm.key'), hex + '\n', { mode: 0o600 })
  const fg = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 20_000 })
  assert.is.not(fg.code, 0)
  assert.match(fg.stderr, /error\[SWARM_KEY_INVALID\]: .*line 1 is a bare hex key \(64 characters, not shown\); add the two header lines/)
  const bg = await sov(home, ['node', 'start'], { timeoutMs: 30_000 })
  assert.is.not(bg.code, 0, 'the background start reports the failure')
  const log = existsSync(join(home, 'daemon.log')) ? readFileSync(join(home, 'daemon.log'), 'utf8') : ''
  assert.match(log + bg.stderr, /bare hex key/)
  const other = ctx.tmp('sov-home-')
  const keyFile = join(ctx.tmp(), 'bare.key')
  writeFileSync(keyFile, `/key/swarm/psk/1.0.0/\n${hex}\n`, { mode: 0o600 })
  const init = await sov(other, ['init', '--swarm-key', keyFile])
  assert.is.not(init.code, 0)
  assert.match(init.stderr, /line 2 is a bare hex key/)
  for (const [where, text] of [['foreground stderr', fg.stdout + fg.stderr], ['background report', bg.stdout + bg.stderr], ['daemon.log', log], ['init stderr', init.stdout + init.stderr]]) {
    assert.equal(leaks(text, hex), [], `${where} quotes the key`)
  }
})

test('lone surrogates are BAD_REQUEST at the IPC edge and the envelope edge, and jcs refuses them; the audit log still verifies', async ctx => {
  assert.throws(() => jcs({ a: 'x\ud800' }), /lone UTF-16 surrogate/)
  assert.throws(() => jcs({ ['\udc00']: 1 }), /lone UTF-16 surrogate/)
  assert.is(jcs({ a: '\ud83d\ude00' }), '{"a":"😀"}', 'a pair is fine')

  const b = await startA2ADaemon(ctx)
  const c = await ipc(ctx, b.home)
  const err: any = await c.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: textMessage('bad \ud800') }).catch(e => e)
  assert.is(err.code, 'BAD_REQUEST')
  assert.match(err.message, /\$\.message\.parts\[0\]\.text holds a lone UTF-16 surrogate/)
  const grant: any = await c.request('cap.grant', { aud: 'agent:x', cmd: '/a2a/read', mailbox: '*', expiresS: 60, note: '\udfff' } as any).catch(e => e)
  assert.is(grant.code, 'BAD_REQUEST')

  // A remote member with a grant sends envelopes whose strings hold lone surrogates.
  const { s, lp } = await memberStream(ctx, b)
  const bad = [
    { v: 1, id: uuidv7(), mailbox: 'inbox', ts: Date.now(), ttl: 60_000, message: textMessage('evil \ud800') },
    { v: 1, id: `\ud800${uuidv7()}`, mailbox: 'inbox', ts: Date.now(), ttl: 60_000, message: textMessage('ok') }
  ]
  for (const env of bad) {
    await lp.write(new TextEncoder().encode(JSON.stringify(env)))
    const r = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
    assert.equal([r.status, r.code], ['rejected', 'BAD_REQUEST'])
    assert.match(r.reason, /lone UTF-16 surrogate/)
  }
  await s.close()
  assert.equal((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json, [], 'nothing was accepted')
  const verify = await sov(b.home, ['audit', 'verify', '--json'])
  assert.is(verify.json?.ok, true, verify.stdout + verify.stderr)
  assert.is(await b.stop(), 0)
  const rows = readFileSync(join(b.home, 'audit', 'events.jsonl'), 'utf8')
  assert.match(rows, /A2A_REJECTED/, 'the refusal is in the log')
  assert.not.match(rows, /\\ud[89a-f][0-9a-f]{2}/i, 'no surrogate escape in any row')
})

test('JSON nested past 64 levels is BAD_REQUEST at the IPC edge and the envelope edge (5,000 deep, which JSON.parse takes and JSON.stringify overflows on), and jcs refuses it; the node keeps running', async ctx => {
  const nest = (n: number): unknown => { let v: unknown = 1; for (let i = 0; i < n; i++) v = { a: v }; return v }
  assert.throws(() => jcs(nest(100)), /nested deeper than 64 levels/)
  assert.is(jcs(nest(60)).length, 60 * 6 + 1, '60 levels are fine')

  const b = await startA2ADaemon(ctx)
  const c = await ipc(ctx, b.home)
  const err: any = await c.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: { ...textMessage('deep'), metadata: nest(100) } }).catch(e => e)
  assert.is(err.code, 'BAD_REQUEST')
  assert.match(err.message, /^Cannot parse request: the value at \$\.message\.metadata(\.a)+ is nested deeper than 64 levels/, err.message)

  const { s, lp } = await memberStream(ctx, b)
  const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
  const env = JSON.stringify({ v: 1, id: uuidv7(), mailbox: 'inbox', ts: Date.now(), ttl: 60_000, message: { ...textMessage('deep'), metadata: '@' } }).replace('"@"', deep)
  await lp.write(new TextEncoder().encode(env))
  const r = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
  assert.equal([r.status, r.code], ['rejected', 'BAD_REQUEST'])
  assert.match(r.reason, /nested deeper than 64 levels/)
  assert.ok(r.reason.length < 1100, 'the reason is bounded')
  await s.close()
  assert.equal((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json, [], 'nothing was accepted')
  assert.is((await sov(b.home, ['audit', 'verify', '--json'])).json?.ok, true)
})

/** A remote member of `b`'s mesh, granted /a2a/send on "inbox", with a raw mailbox stream to it. */
async function memberStream (ctx: KitContext, b: { home: string, addr: string, peerId: string }): Promise<{ s: Stream, lp: ReturnType<typeof lpStream> }> {
  const { key } = parseSwarmKey(readFileSync(join(b.home, 'swarm.key')))
  const member = await startNode(ctx, key)
  await member.dial(multiaddr(b.addr))
  await grantSend(b.home, member.peerId.toString(), 'inbox')
  const s = await member.dialProtocol(peerIdFromString(b.peerId), '/sov/a2a/1.0.0', { signal: AbortSignal.timeout(5000) })
  return { s, lp: lpStream(s) }
}


test('an agent that passes its own token, or part of the operator token, where a mailbox name belongs: the refusal row holds no part of either; an agent URL\'s query and password stay out of rows and messages', async ctx => {
  const a = await startA2ADaemon(ctx)
  const issued = await sov(a.home, ['agent-token', 'issue', 'reader', '--scope', '/a2a/read:builder', '--json'])
  const token: string = issued.json.token
  const operator = readFileSync(join(a.home, 'operator.token'), 'utf8').trim()
  const agent = await ipc(ctx, a.home, token)
  // The helper's case: 59 of the token's 64 hex digits (a mailbox name is at most 64 characters).
  for (const mailbox of [token.slice(0, 64), operator.slice(0, 40), `x${operator.slice(8, 32)}y`]) {
    await agent.request('a2a.receive', { mailbox, waitMs: 0 }).then(() => assert.unreachable('refused'), (err: any) => { assert.is(err.code, 'FORBIDDEN') })
  }
  const added = await sov(a.home, ['agent', 'add', 'pw', '--url', 'http://user:secretpw@127.0.0.1:1/'])
  assert.is(added.code, 2, added.stderr)
  assert.match(added.stderr, /its URL carries a user name or password; give the URL without them \(http:\/\/127\.0\.0\.1:1\/\)/)
  const queried = await sov(a.home, ['agent', 'add', 'q', '--url', 'http://127.0.0.1:1/a2a?token=SECRETQ'])
  assert.is(queried.code, 1, queried.stderr)
  assert.match(queried.stderr, /cannot fetch its card from http:\/\/127\.0\.0\.1:1\/a2a\/\.well-known\/agent-card\.json\?…/, queried.stderr)
  assert.is((await sov(a.home, ['audit', 'verify'])).code, 0)
  await a.stop() // the refusals counted after the first are written as the log closes, with sample reasons
  const events = readFileSync(join(a.home, 'audit', 'events.jsonl'), 'utf8')
  const rows = events.trim().split('\n').map(l => JSON.parse(l))
  assert.ok(rows.filter(r => r.type === 'IPC_FORBIDDEN').length >= 2, 'the refusals are recorded, then counted')
  assert.not.match(events, /sova_[0-9a-f]/, 'no agent token digits')
  assert.equal(leaks(events, token.slice(5)), [], 'no 8-digit piece of the agent token')
  for (let i = 0; i + 16 <= operator.length; i++) assert.not.ok(events.includes(operator.slice(i, i + 16)), `no 16-digit piece of the operator token (at ${i})`)
  assert.not.match(events + added.stderr + queried.stderr, /secretpw|SECRETQ/)
})

test.run()
