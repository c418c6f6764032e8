// Addresses that stay true (issue 12 §3): a peer that moved is looked up explicitly, addresses
// that keep failing are pruned, and the announced set follows Kubo's announce / appendAnnounce /
// noAnnounce, with a 0.0.0.0 listener announcing only what other machines can use.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { kitSuite, waitFor } from './kit/index.js'
import { runDaemonIn, sov, type DaemonHandle } from './kit/daemon.js'
import { freePort, grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'
import { startNode } from './kit/mesh.js'
import { announceSettings, dialProtocolFinding, generateSwarmKey, PRUNE_AFTER_FAILURES } from '../mesh/index.js'

const test = kitSuite('reach')

test('C restarts on a new port and does not know A: A\'s queued messages reach C within 10 s of C being back', async ctx => {
  const b = await startA2ADaemon(ctx)
  const key = join(b.home, 'swarm.key')
  // A announces nothing (noAnnounce covers its only address): C can never dial A, so only
  // A's own lookup can bring the messages over (the case that stayed queued, issue 12 §3).
  const a = await startA2ADaemon(ctx, { swarmKeyFile: key, bootstrap: [b.addr], config: { noAnnounce: ['/ip4/127.0.0.0/ipcidr/8'] } })
  assert.equal((await sov(a.home, ['status', '--json'])).json.addrs, [], 'noAnnounce removed the loopback address')
  let c: DaemonHandle = await startA2ADaemon(ctx, { swarmKeyFile: key, bootstrap: [b.addr] })
  await grantSend(c.home, a.peerId, 'inbox')
  const ca = await ipc(ctx, a.home)
  const first = (await ca.request('a2a.send', { peer: c.peerId, mailbox: 'inbox', message: textMessage('first') })).id
  await waitFor(async () => (await ca.request('a2a.outbox', { status: 'delivered' })).some((r: any) => r.id === first), 15_000, 'first message delivered')
  const oldAddr = c.addr.replace(/\/p2p\/.*$/, '')
  const peersBefore = (await sov(a.home, ['peers', '--json'])).json
  assert.ok(peersBefore.find((p: any) => p.peerId === c.peerId)?.addrs.some((x: string) => x.startsWith(oldAddr)), 'A stores C\'s old address')

  assert.is(await c.stop(), 0)
  // C forgets every peer but its bootstrap B, and moves to a new port.
  rmSync(join(c.home, 'peers'), { recursive: true, force: true })
  const cfgPath = join(c.home, 'config.json')
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'))
  const newPort = await freePort()
  cfg.listen = [`/ip4/127.0.0.1/tcp/${newPort}`]
  writeFileSync(cfgPath, JSON.stringify(cfg))
  const queued = await Promise.all(Array.from({ length: 5 }, async (_, i) => (await ca.request('a2a.send', { peer: c.peerId, mailbox: 'inbox', message: textMessage(`while away ${i}`) })).id))
  await new Promise(resolve => setTimeout(resolve, 1500)) // A's retries fail against the old port meanwhile

  c = await runDaemonIn(ctx, c.home)
  const back = Date.now()
  assert.match(c.addr, `/tcp/${newPort}/`)
  await waitFor(async () => {
    const done = (await ca.request('a2a.outbox', { status: 'delivered' })).filter((r: any) => queued.includes(r.id))
    return done.length === queued.length
  }, 10_000, 'the 5 queued messages delivered within 10 s of C being back', 100)
  const took = Date.now() - back
  const mb = await sov(c.home, ['a2a', 'mailboxes', '--json'])
  assert.equal(mb.json, [{ mailbox: 'inbox', ready: 6, leased: 0, dead: 0 }], 'each message once (the first, kept across the restart, and the 5)')
  console.log(`  delivered ${queued.length} queued messages ${took} ms after C came back on a new port`)
})

test(`an address that fails ${PRUNE_AFTER_FAILURES} whole dials in a row is pruned from the peer store`, async ctx => {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const c = await startNode(ctx, key)
  await c.handle('/test/echo/1.0.0', () => {})
  const addr = c.getMultiaddrs()[0]
  await a.peerStore.merge(c.peerId, { multiaddrs: [addr] })
  await c.stop()
  for (let i = 0; i < PRUNE_AFTER_FAILURES; i++) {
    const before = (await a.peerStore.get(c.peerId)).addresses.length
    assert.is(before, 1, `still stored before failure ${i + 1}`)
    await dialProtocolFinding(a, c.peerId, '/test/echo/1.0.0', { signal: AbortSignal.timeout(5_000) }).then(() => { throw new Error('dial succeeded') }, err => err)
  }
  assert.equal((await a.peerStore.get(c.peerId)).addresses, [], 'the failing address is gone')
})

test('announce replaces, appendAnnounce adds, noAnnounce removes (exact or ipcidr); 0.0.0.0 announces no loopback', async ctx => {
  const key = generateSwarmKey()
  const strip = (n: any): string[] => n.getMultiaddrs().map((m: any) => m.toString().replace(/\/p2p\/[^/]+$/, ''))
  const replaced = await startNode(ctx, key, { announce: ['/ip4/203.0.113.7/tcp/4001'] })
  assert.equal(strip(replaced), ['/ip4/203.0.113.7/tcp/4001'])
  const appended = await startNode(ctx, key, { appendAnnounce: ['/dns4/home.example.org/tcp/4001'] })
  const app = strip(appended)
  assert.ok(app.includes('/dns4/home.example.org/tcp/4001') && app.some(a => a.startsWith('/ip4/127.0.0.1/tcp/')), app.join(' '))
  const port = await freePort()
  const hidden = await startNode(ctx, key, { listen: ['/ip4/127.0.0.1/tcp/0', `/ip4/127.0.0.2/tcp/${port}`, '/ip4/127.0.0.3/tcp/0'], noAnnounce: [`/ip4/127.0.0.2/tcp/${port}`, '/ip4/127.0.0.3/ipcidr/32'] })
  const h = strip(hidden)
  assert.ok(h.length === 1 && h[0].startsWith('/ip4/127.0.0.1/tcp/'), h.join(' '))
  // Tests never listen on 0.0.0.0 (STYLE): the filter a wildcard listener gets, on the addresses
  // libp2p expands 0.0.0.0 / :: into.
  const expanded = ['/ip4/127.0.0.1/tcp/4001', '/ip4/192.168.1.5/tcp/4001', '/ip4/169.254.3.4/tcp/4001', '/ip6/::1/tcp/4001', '/ip6/fe80::1/tcp/4001', '/ip6/2001:db8::5/tcp/4001'].map(a => multiaddr(a))
  const wild = announceSettings({ listen: ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'] }).announceFilter(expanded).map(String)
  assert.equal(wild, ['/ip4/192.168.1.5/tcp/4001', '/ip6/2001:db8::5/tcp/4001'])
  const withLo = announceSettings({ listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/127.0.0.1/tcp/4002'] }).announceFilter(expanded).map(String)
  assert.ok(withLo.includes('/ip4/127.0.0.1/tcp/4001'), 'an explicit loopback listener keeps loopback announced')
  // A range never removes a relayed address (its IP is the relay's); an exact entry does.
  const circuit = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBWUNEkdkR3JrhYLeVe6meKxLp6X6aaKU8gXjUUznaURG/p2p-circuit'
  assert.equal(announceSettings({ listen: [], noAnnounce: ['/ip4/127.0.0.0/ipcidr/8'] }).announceFilter([multiaddr(circuit)]).map(String), [circuit])
  assert.equal(announceSettings({ listen: [], noAnnounce: [circuit] }).announceFilter([multiaddr(circuit)]).map(String), [])
})

test.run()
