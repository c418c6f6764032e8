// The control plane end to end: real daemon processes from the built `sov`, temp homes, loopback.
import * as assert from 'uvu/assert'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IpcClient } from '../cli/index.js'
import type { SovError } from '../protocol/index.js'
import { kitSuite, waitFor } from './kit/index.js'
import { daemonRequest, runDaemonIn, sov, startDaemon } from './kit/daemon.js'

const test = kitSuite('daemon')

test('three daemons form a mesh; status, peers and ping see it; a revoked peer stays out after restarts', async ctx => {
  const a = await startDaemon(ctx)
  const keyFile = join(a.home, 'swarm.key')
  const b = await startDaemon(ctx, { bootstrap: [a.addr], swarmKeyFile: keyFile })
  const c = await startDaemon(ctx, { bootstrap: [a.addr], swarmKeyFile: keyFile })

  const status = await waitFor(async () => {
    const r = await sov(a.home, ['status', '--json'])
    return r.code === 0 && r.json.peers >= 2 ? r.json : undefined
  }, 20_000, 'A to see B and C')
  assert.is(status.peerId, a.peerId)
  assert.ok(status.addrs.length > 0)
  assert.ok(status.connections >= 2)
  assert.type(status.dht.routingTable, 'number')
  assert.type(status.uptimeS, 'number')
  assert.type(status.version, 'string')

  const peers = await sov(a.home, ['peers', 'list', '--json'])
  assert.is(peers.code, 0)
  const ids = peers.json.filter((p: any) => p.connected).map((p: any) => p.peerId).sort()
  assert.equal(ids, [b.peerId, c.peerId].sort())

  const ping = await sov(b.home, ['peers', 'ping', a.peerId, '--json'])
  assert.is(ping.code, 0, ping.stderr)
  assert.type(ping.json.rttMs, 'number')

  const revoke = await sov(a.home, ['peers', 'revoke', c.peerId, '--json'])
  assert.is(revoke.code, 0, revoke.stderr)
  await waitFor(async () => {
    const r = await sov(a.home, ['peers', 'list', '--json'])
    return !r.json.some((p: any) => p.peerId === c.peerId && p.connected)
  }, 10_000, 'C to be dropped')
  const refused = await sov(c.home, ['peers', 'connect', a.addr, '--json'])
  assert.is.not(refused.code, 0, 'C cannot connect to A after revoke')
  // C's messages to A wait in its outbox, which says why in words (not UnexpectedEOFError).
  assert.is((await sov(c.home, ['a2a', 'send', a.peerId, 'inbox', 'still there?'])).code, 0)
  const why = await waitFor(async () => (await sov(c.home, ['a2a', 'outbox', '--json'])).json[0]?.lastError, 20_000, 'the outbox to say why')
  assert.match(why, /^the peer closed the connection as it opened \(it may have revoked this node/, why)

  // Both restart: the revocation is persisted and C still cannot get in.
  assert.is(await a.stop(), 0)
  assert.is(await c.stop(), 0)
  const a2 = await runDaemonIn(ctx, a.home)
  const c2 = await runDaemonIn(ctx, c.home)
  assert.is(a2.peerId, a.peerId)
  const again = await sov(c2.home, ['peers', 'connect', a2.addr, '--json'])
  assert.is.not(again.code, 0, 'C is still refused after both restarted')
  const st = await sov(a2.home, ['peers', 'list', '--json'])
  assert.not.ok(st.json.some((p: any) => p.peerId === c.peerId && p.connected))
})

test('a daemon with another swarm key cannot join: SWARM_KEY_MISMATCH, fast, every time', async ctx => {
  const a = await startDaemon(ctx)
  const x = await startDaemon(ctx)
  const started = Date.now()
  const r = await sov(x.home, ['peers', 'connect', a.addr, '--json'])
  const took = Date.now() - started
  assert.is(r.code, 1)
  assert.is(r.json.error.code, 'SWARM_KEY_MISMATCH')
  assert.ok(took < 5000, `failed in ${took} ms, well under the 6 s dial timeout`)
  // The reason must survive every race between the two sides' closes (once, 1 dial in 15 came
  // back as a bare "Encryption failed" or "write EPIPE").
  const c = await IpcClient.open(x.home)
  ctx.defer(() => { c.close() })
  const codes: string[] = []
  for (let i = 0; i < 40; i++) {
    codes.push(await c.request('peers.connect', { addr: a.addr }).then(() => 'connected', (err: SovError) => `${err.code}: ${err.message}`))
  }
  assert.equal(codes.filter(x => !x.startsWith('SWARM_KEY_MISMATCH')), [])
})

test('tokens: bad token refused, agent scopes enforced, revoked agent refused, operator token rotation', async ctx => {
  const a = await startDaemon(ctx)
  const bad = await sov(a.home, ['status', '--json'], { env: { SOV_TOKEN: 'f'.repeat(64) } })
  assert.is(bad.code, 1)
  assert.is(bad.json.error.code, 'UNAUTHENTICATED')

  const issued = await sov(a.home, ['agent-token', 'issue', 'builder', '--scope', '/a2a/read:builder', '--json'])
  assert.is(issued.code, 0, issued.stderr)
  const token: string = issued.json.token
  assert.match(token, /^sova_[0-9a-f]{64}$/)
  const asAgent = { env: { SOV_TOKEN: token } }
  const st = await sov(a.home, ['status', '--json'], asAgent)
  assert.is(st.code, 0, 'status needs only authentication')
  const forbidden = await sov(a.home, ['peers', 'list', '--json'], asAgent)
  assert.is(forbidden.json.error.code, 'FORBIDDEN')
  const list = await sov(a.home, ['agent-token', 'list', '--json'])
  assert.is(list.json[0].name, 'builder')
  assert.not.ok(list.stdout.includes(token), 'list never shows the secret')

  assert.is((await sov(a.home, ['agent-token', 'revoke', 'builder'])).code, 0)
  const revoked = await sov(a.home, ['status', '--json'], asAgent)
  assert.is(revoked.json.error.code, 'UNAUTHENTICATED')

  const { readFileSync } = await import('node:fs')
  const old = readFileSync(join(a.home, 'operator.token'), 'utf8').trim()
  assert.is((await sov(a.home, ['token', 'rotate'])).code, 0)
  const fresh = readFileSync(join(a.home, 'operator.token'), 'utf8').trim()
  assert.is.not(fresh, old)
  const withOld = await sov(a.home, ['status', '--json'], { env: { SOV_TOKEN: old } })
  assert.is(withOld.json.error.code, 'UNAUTHENTICATED')
  assert.is((await sov(a.home, ['status', '--json'])).code, 0, 'the new token works')
})

test('a group-readable node key is refused with the fix named; a second daemon on one home is refused', async ctx => {
  const a = await startDaemon(ctx)
  const second = await sov(a.home, ['node', 'start', '--foreground', '--json'])
  assert.is(second.code, 1)
  assert.is(second.json.error.code, 'CONFLICT')
  const bg = await sov(a.home, ['node', 'start'])
  assert.is(bg.code, 1)
  assert.match(bg.stderr, /already runs/)
  await a.stop()

  const key = join(a.home, 'identity', 'node.key')
  chmodSync(key, 0o640)
  const r = await sov(a.home, ['node', 'start', '--foreground'])
  assert.is(r.code, 1)
  assert.match(r.stderr, /error\[FORBIDDEN\]/)
  assert.ok(r.stderr.includes(`chmod 600 ${key}`), r.stderr)
})

test('a node refuses to start without a valid swarm key: there is no public mode', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  writeFileSync(join(home, 'swarm.key'), '/key/swarm/psk/1.0.0/\n/base16/\nnot-a-key\n', { mode: 0o600 })
  const r = await sov(home, ['node', 'start', '--foreground'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /^error\[SWARM_KEY_INVALID\]: Cannot parse swarm key: line 3 is not base16/)
  assert.not.ok(existsSync(join(home, 'sov.sock')), 'nothing listens')
})

test('SIGKILL then restart on the same home: same PeerId, peers reconnect', async ctx => {
  const a = await startDaemon(ctx)
  const b = await startDaemon(ctx, { bootstrap: [a.addr], swarmKeyFile: join(a.home, 'swarm.key') })
  await waitFor(async () => (await daemonRequest(a.home, 'status', {})).peers >= 1, 15_000, 'B to join A')
  await b.kill()
  assert.ok(existsSync(join(b.home, 'daemon.pid')), 'the stale pid file is left behind by SIGKILL')
  const b2 = await runDaemonIn(ctx, b.home)
  assert.is(b2.peerId, b.peerId)
  await waitFor(async () => {
    const r = await sov(a.home, ['peers', 'list', '--json'])
    return r.json?.some((p: any) => p.peerId === b.peerId && p.connected)
  }, 20_000, 'B to reconnect to A')
})

test('node start in the background returns once the socket answers; node stop waits for exit', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const started = await sov(home, ['node', 'start', '--json'])
  ctx.defer(async () => { await sov(home, ['node', 'stop']) })
  assert.is(started.code, 0, started.stderr)
  assert.match(started.json.peerId, /^12D3KooW/)
  const st = await sov(home, ['status', '--json'])
  assert.is(st.json.peerId, started.json.peerId)
  const stopped = await sov(home, ['node', 'stop', '--json'])
  assert.is(stopped.code, 0, stopped.stderr)
  const after = await sov(home, ['status', '--json'])
  assert.is(after.code, 1)
  assert.is(after.json.error.code, 'UNAVAILABLE')
})

test.run()
