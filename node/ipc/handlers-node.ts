/**
 * IPC handlers of the node itself: `status`, `peers …`, `token rotate` and `node stop`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  SovError, VERSION, badRequest, forbidden, swarmKeyMismatch, timeout, unavailable,
  type PeerInfo, type RequestType, type StatusResult
} from '../../protocol/index.js'
import { dhtRoutingTableSize, isSwarmKeyMismatch } from '../../mesh/index.js'
import type { NodeComponents } from './components.js'
import { actorOf, type Handler } from './handler.js'

export function nodeHandlers (d: NodeComponents): Partial<Record<RequestType, Handler>> {
  return {
    status: async () => status(d),
    'node.stop': async () => {
      setImmediate(() => { void d.stop() })
      return { stopping: true }
    },
    'peers.list': async () => await listPeers(d),
    'peers.connect': async ({ addr }) => {
      const ma = parseAddr(addr)
      const conn = await d.mesh.dial(ma, { signal: AbortSignal.timeout(10_000) }).catch(translateDialError)
      // A peer that refuses us (its gater, after Noise) lets our side of the dial succeed and then
      // drops the connection: only a round trip over it shows that it really works.
      const rttMs = await d.mesh.services.ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(5_000) }).catch(cause => {
        throw unavailable(`Cannot connect to ${conn.remotePeer.toString()}: it closed the connection right after the handshake (has it revoked this node?)`, { cause })
      })
      return { peerId: conn.remotePeer.toString(), addr: conn.remoteAddr.toString(), rttMs }
    },
    'peers.ping': async ({ peer }) => {
      const target = peer.startsWith('/') ? parseAddr(peer) : parsePeer(peer)
      const rttMs = await d.mesh.services.ping.ping(target as any, { signal: AbortSignal.timeout(10_000) }).catch(translateDialError)
      return { peer, rttMs }
    },
    'peers.revoke': async ({ peer }, { principal }) => {
      const id = parsePeer(peer)
      await d.audit({ type: 'PEER_REVOKED', actor: actorOf(principal), outcome: 'ok', detail: { peer: id.toString() } }, true)
      const added = d.revoked.add(id.toString())
      await d.mesh.hangUp(id).catch(() => {})
      return { peer: id.toString(), revoked: true, alreadyRevoked: !added }
    },
    'token.rotate': async ({}, { principal }) => {
      await d.audit({ type: 'OPERATOR_TOKEN_ROTATED', actor: actorOf(principal), outcome: 'ok', detail: {} }, true)
      return { rotated: true, path: d.rotateOperatorToken() }
    }
  }
}

function status (d: NodeComponents): StatusResult {
  const m = d.mesh
  return {
    peerId: d.peerId,
    addrs: m.getMultiaddrs().map(a => a.toString()),
    connections: m.getConnections().length,
    peers: m.getPeers().length,
    dht: { routingTable: dhtRoutingTableSize(m) },
    mailboxes: d.a2a?.status === 'started' ? d.a2a.mailboxes() : [],
    ...(d.a2a?.status === 'started' ? { outbox: d.a2a.outboxCounts() } : {}),
    licence: d.licence.summary(),
    audit: d.auditLog.head,
    uptimeS: Math.round((Date.now() - d.startedAt) / 1000),
    version: VERSION,
    pid: process.pid,
    a2aHttp: d.tasks?.httpUrl ?? null
  }
}

async function listPeers (d: NodeComponents): Promise<PeerInfo[]> {
  const connected = new Set(d.mesh.getPeers().map(p => p.toString()))
  const out: PeerInfo[] = []
  for (const peer of await d.mesh.peerStore.all()) {
    const id = peer.id.toString()
    if (id === d.peerId) continue
    out.push({ peerId: id, addrs: peer.addresses.map(a => a.multiaddr.toString()), connected: connected.has(id) })
  }
  for (const id of connected) if (!out.some(p => p.peerId === id)) out.push({ peerId: id, addrs: [], connected: true })
  return out.sort((a, b) => Number(b.connected) - Number(a.connected) || a.peerId.localeCompare(b.peerId))
}

function parseAddr (addr: string) {
  try {
    return multiaddr(addr)
  } catch (cause) {
    throw badRequest(`Cannot parse multiaddr "${addr}"`, { cause })
  }
}

function parsePeer (peer: string) {
  try {
    return peerIdFromString(peer)
  } catch (cause) {
    throw badRequest(`Cannot parse PeerId "${peer}"`, { cause })
  }
}

/** libp2p errors → our codes; a PSK mismatch keeps its own code wherever it surfaces. */
function translateDialError (err: any): never {
  if (err instanceof SovError) throw err
  if (isSwarmKeyMismatch(err)) throw swarmKeyMismatch('Cannot connect: the peer uses a different swarm key', { cause: err })
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw timeout(`Cannot connect: ${err.message}`, { cause: err })
  if (err?.name === 'DialDeniedError' || err?.name === 'ConnectionDeniedError') throw forbidden(`Cannot connect: ${err.message}`, { cause: err })
  throw unavailable(`Cannot connect: ${err?.message ?? String(err)}`, { cause: err })
}
