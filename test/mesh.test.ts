// The mesh node: a private DHT that forms on loopback, and an identity and peer store that
// survive restarts.
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { dhtRoutingTableSize, generateSwarmKey, loadOrCreateIdentity } from '../mesh/index.js'
import { assertRejects, kitSuite, waitFor, withDeadline } from './kit/index.js'
import { startNode } from './kit/mesh.js'
import { statSync } from 'node:fs'

const test = kitSuite('mesh')
const bareAddr = (a: { toString: () => string }): string => a.toString().replace(/\/p2p\/[^/]+$/, '')

test('10 nodes and one bootstrap: every node finds every other by PeerId through the DHT', async ctx => {
  const key = generateSwarmKey()
  // Eleven nodes in one process dial each other at once: on a loaded 2-core machine the event
  // loop can stall past the 2 s PSK deadline, which then drops peers that did answer (this test
  // failed so under CPU load before and after issue 15's PSK change). The DHT is under test here.
  const psk = { pskHandshakeTimeoutMs: 10_000 }
  const boot = await startNode(ctx, key, psk)
  const bootAddr = boot.getMultiaddrs()[0].toString()
  const nodes = await Promise.all(Array.from({ length: 10 }, async () => await startNode(ctx, key, { ...psk, bootstrap: [bootAddr] })))
  await waitFor(() => dhtRoutingTableSize(boot) >= 10, 20_000, 'the bootstrap routing table to hold all 10')
  await withDeadline(Promise.all(nodes.map(async node => {
    for (const other of nodes) {
      if (other === node) continue
      const found = await node.peerRouting.findPeer(other.peerId, { signal: AbortSignal.timeout(15_000) })
      assert.ok(found.id.equals(other.peerId))
      const want = other.getMultiaddrs().map(bareAddr)
      assert.ok(found.multiaddrs.some(a => want.includes(bareAddr(a))), `found ${String(found.multiaddrs)} for ${String(want)}`)
    }
  })), 60_000, '90 DHT lookups')
  // And the addresses found are real: a node can reach a peer it only learned through the DHT.
  const rtt = await nodes[0].services.ping.ping(nodes[9].peerId, { signal: AbortSignal.timeout(10_000) })
  assert.type(rtt, 'number')
})

test('a node started twice on one home keeps its PeerId and the peers it knew', async ctx => {
  const key = generateSwarmKey()
  const home = ctx.tmp()
  const keyPath = join(home, 'identity', 'node.key')
  const store = join(home, 'peers', 'store')
  const other = await startNode(ctx, key)
  const first = await startNode(ctx, key, { privateKey: await loadOrCreateIdentity(keyPath), datastorePath: store })
  assert.is(statSync(keyPath).mode & 0o777, 0o600, 'node.key is 0600')
  await first.dial(other.getMultiaddrs()[0])
  await waitFor(async () => (await first.peerStore.all()).some(p => p.id.equals(other.peerId) && p.addresses.length > 0), 10_000, 'the peer store to learn the other node')
  const id = first.peerId.toString()
  await first.stop()

  const second = await startNode(ctx, key, { privateKey: await loadOrCreateIdentity(keyPath), datastorePath: store })
  assert.is(second.peerId.toString(), id)
  const known = await second.peerStore.get(other.peerId)
  assert.ok(known.addresses.length > 0, 'the persisted peer store still has the other node and its address')
  await second.dial(other.peerId)
})

test('a revoked PeerId is refused by the connection gater, inbound and outbound', async ctx => {
  const key = generateSwarmKey()
  const revoked = new Set<string>()
  const a = await startNode(ctx, key, { isRevoked: id => revoked.has(id) })
  const b = await startNode(ctx, key)
  await b.dial(a.getMultiaddrs()[0])
  await b.hangUp(a.peerId)
  revoked.add(b.peerId.toString())
  await assertRejects(async () => await a.dial(b.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) }))
  await assertRejects(async () => { await b.dial(a.getMultiaddrs()[0].decapsulate('/p2p'), { signal: AbortSignal.timeout(5000) }); await b.services.ping.ping(a.peerId, { signal: AbortSignal.timeout(5000) }) })
  assert.is(a.getConnections(b.peerId).length, 0)
})

test.run()
