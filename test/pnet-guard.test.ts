// No way around the key (issue 12 §4), through the real daemon: a configured address whose
// connections would skip the PSK refuses the start, and LIBP2P_FORCE_PNET=1 (go-libp2p's switch)
// refuses a node that has no swarm key instead of inventing a new mesh.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite } from './kit/index.js'
import { runDaemonIn, sov } from './kit/daemon.js'
import { assertPskOnly, generateSwarmKey } from '../mesh/index.js'

const test = kitSuite('pnet-guard')

function setConfig (home: string, change: (c: any) => void): void {
  const path = join(home, 'config.json')
  const c = JSON.parse(readFileSync(path, 'utf8'))
  change(c)
  writeFileSync(path, JSON.stringify(c))
}

test('a QUIC, WebTransport or WebRTC address in the config refuses the start; TCP starts', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  for (const bad of ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport', '/ip4/127.0.0.1/udp/0/webrtc-direct']) {
    setConfig(home, c => { c.listen = ['/ip4/127.0.0.1/tcp/0', bad] })
    const r = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
    assert.is.not(r.code, 0, `refused ${bad}`)
    assert.match(r.stdout + r.stderr, /error\[BAD_REQUEST\]: Cannot listen on ".*": .* would not be PSK-protected/)
  }
  setConfig(home, c => { c.appendAnnounce = ['/ip4/203.0.113.9/udp/4001/quic-v1'] ; c.listen = ['/ip4/127.0.0.1/tcp/0'] })
  const ann = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
  assert.match(ann.stdout + ann.stderr, /Cannot announce "\/ip4\/203.0.113.9\/udp\/4001\/quic-v1": quic-v1 connections would not be PSK-protected/, 'announcing QUIC is refused too')
  setConfig(home, c => { c.appendAnnounce = [] })
  const d = await runDaemonIn(ctx, home)
  assert.is(await d.stop(), 0)
})

test('LIBP2P_FORCE_PNET=1 refuses a home without a swarm key; with the key, or without the switch, it starts', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const keyPath = join(home, 'swarm.key')
  renameSync(keyPath, join(home, 'swarm.key.away'))
  const r = await sov(home, ['node', 'start', '--foreground'], { env: { LIBP2P_FORCE_PNET: '1' }, timeoutMs: 30_000 })
  assert.is.not(r.code, 0)
  assert.match(r.stdout + r.stderr, /error\[SWARM_KEY_INVALID\]: Cannot start: ".*swarm\.key" is missing and LIBP2P_FORCE_PNET=1 enforces a private network/)
  assert.not.ok(existsSync(keyPath), 'no new swarm key was invented')
  renameSync(join(home, 'swarm.key.away'), keyPath)
  const withKey = await runDaemonIn(ctx, home, { LIBP2P_FORCE_PNET: '1' })
  assert.is(await withKey.stop(), 0)
  // go-libp2p reads exactly "1"; any other value leaves the default (a node always has a key).
  renameSync(keyPath, join(home, 'swarm.key.away'))
  const other = await runDaemonIn(ctx, home, { LIBP2P_FORCE_PNET: 'true' })
  assert.ok(existsSync(keyPath), 'without the switch the daemon makes its key as before')
  assert.is(await other.stop(), 0)
})

test('assertPskOnly: only TCP and circuit relay transports; a key of the wrong size is refused', () => {
  const key = generateSwarmKey()
  assertPskOnly({ transports: ['tcp', 'circuitRelay'], listen: ['/ip4/127.0.0.1/tcp/0', '/p2p-circuit'], swarmKey: key })
  for (const t of ['webRTC', 'webTransport', 'quic', 'webSockets']) {
    assert.throws(() => { assertPskOnly({ transports: ['tcp', t], listen: [], swarmKey: key }) }, new RegExp(`transport "${t}" would not be PSK-protected`))
  }
  assert.throws(() => { assertPskOnly({ transports: ['tcp'], listen: [], swarmKey: new Uint8Array(16) }) }, /no 32-byte swarm key/)
})

test.run()
