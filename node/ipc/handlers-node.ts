/**
 * IPC handlers of the node itself: `status`, `peers …`, `token rotate` and `node stop`.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  SovError, VERSION, badRequest, forbidden, swarmKeyMismatch, timeout, unavailable,
  type PeerInfo, type RequestType, type StatusResult
} from '../../protocol/index.js'
import { bestConnection, connectionInfo, dhtRoutingTableSize, isSwarmKeyMismatch, reachability, relayReservations } from '../../mesh/index.js'
import type { NodeComponents } from './components.js'
import { actorOf, type Handler } from './handler.js'
import { recordedChange } from './recorded-change.js'

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
      const conn = await d.mesh.dial(ma, { signal: AbortSignal.timeout(10_000) }).catch(err => translateDialError(err, d.peerId))
      // A peer that refuses us (its gater, after Noise) lets our side of the dial succeed and then
      // drops the connection: only a round trip over it shows that it really works.
      const rttMs = await d.mesh.services.ping.ping(conn.remotePeer, { signal: AbortSignal.timeout(5_000) }).catch(cause => {
        throw unavailable(`Cannot connect to ${conn.remotePeer.toString()}: it closed the connection right after the handshake (has it revoked this node?)`, { cause })
      })
      return { peerId: conn.remotePeer.toString(), addr: conn.remoteAddr.toString(), rttMs }
    },
    'peers.ping': async ({ peer }) => {
      const target = peer.startsWith('/') ? parseAddr(peer) : parsePeer(peer)
      if (!peer.startsWith('/') && d.revoked.has(peer)) throw forbidden(`Cannot ping ${peer}: this node has revoked it; allow it again with \`sov peers unrevoke ${peer}\``)
      const rttMs = await d.mesh.services.ping.ping(target as any, { signal: AbortSignal.timeout(10_000) }).catch(err => translateDialError(err, d.peerId))
      return { peer, rttMs }
    },
    'peers.revoke': async ({ peer }, { principal }) => {
      const id = parsePeer(peer)
      if (id.toString() === d.peerId) throw badRequest(`Cannot revoke "${peer}": that is this node itself; to leave the mesh, stop it (\`sov node stop\`)`)
      const release = d.revoked.hold(id.toString())
      let added: boolean
      try {
        await d.audit({ type: 'PEER_REVOKED', actor: actorOf(principal), outcome: 'ok', detail: { peer: id.toString() } }, true)
        added = d.revoked.add(id.toString())
      } finally {
        release()
      }
      await d.mesh.hangUp(id).catch(() => {})
      return { peer: id.toString(), revoked: true, alreadyRevoked: !added }
    },
    'peers.unrevoke': async ({ peer }, { principal }) => {
      const id = parsePeer(peer).toString()
      if (!d.revoked.has(id)) return { peer: id, revoked: false, wasRevoked: false }
      await d.audit({ type: 'PEER_UNREVOKED', actor: actorOf(principal), outcome: 'ok', detail: { peer: id } }, true)
      d.revoked.remove(id)
      return { peer: id, revoked: false, wasRevoked: true }
    },
    'config.reload': async () => await d.reloadConfig(),
    'token.rotate': async ({}, { principal }) => {
      const path = await recordedChange(d.audit, { type: 'OPERATOR_TOKEN_ROTATED', actor: actorOf(principal), outcome: 'ok', detail: {} }, () => d.rotateOperatorToken())
      return { rotated: true, path }
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
    ...mailboxSummary(d),
    ...(d.a2a?.status === 'started' ? { outbox: d.a2a.outboxCounts() } : {}),
    licence: d.licence.summary(),
    audit: d.auditLog.head,
    uptimeS: Math.round((Date.now() - d.startedAt) / 1000),
    version: VERSION,
    pid: process.pid,
    reachability: reachability(m, d.config.reachability),
    relay: { serving: d.config.relay.serve, reservations: relayReservations(m) },
    home: d.home,
    fingerprint: d.fingerprint,
    a2aHttp: d.tasks?.httpUrl ?? null
  }
}

/** Mailboxes `status` lists; the rest are counted (`sov a2a mailboxes` pages through them). */
export const STATUS_MAILBOXES_MAX = 100

function mailboxSummary (d: NodeComponents): Pick<StatusResult, 'mailboxes' | 'mailboxCount'> {
  const all = d.a2a?.status === 'started' ? d.a2a.mailboxes() : []
  return { mailboxes: all.slice(0, STATUS_MAILBOXES_MAX), mailboxCount: all.length }
}

async function listPeers (d: NodeComponents): Promise<PeerInfo[]> {
  const connected = new Set(d.mesh.getPeers().map(p => p.toString()))
  const out: PeerInfo[] = []
  for (const peer of await d.mesh.peerStore.all()) {
    const id = peer.id.toString()
    if (id === d.peerId) continue
    out.push({ peerId: id, addrs: peer.addresses.map(a => a.multiaddr.toString()), connected: connected.has(id), revoked: d.revoked.has(id) })
  }
  for (const id of connected) if (!out.some(p => p.peerId === id)) out.push({ peerId: id, addrs: [], connected: true, revoked: d.revoked.has(id) })
  // Revoked peers stay listed (marked) even once the peer store forgot them (issue 14).
  for (const id of d.revoked.list()) if (!out.some(p => p.peerId === id)) out.push({ peerId: id, addrs: [], connected: false, revoked: true })
  for (const p of out) {
    const conn = p.connected ? bestConnection(d.mesh.getConnections(peerIdFromString(p.peerId))) : undefined
    if (conn !== undefined) p.connection = connectionInfo(conn)
  }
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
function translateDialError (err: any, self: string): never {
  if (err instanceof SovError) throw err
  if (isSwarmKeyMismatch(err)) throw swarmKeyMismatch('Cannot connect: the peer uses a different swarm key', { cause: err })
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw timeout(`Cannot connect: ${err.message}`, { cause: err })
  if (err?.name === 'DialDeniedError' || err?.name === 'ConnectionDeniedError') throw forbidden('Cannot connect: this node has revoked that peer; allow it again with `sov peers unrevoke PEER`', { cause: err })
  if (err?.name === 'NoValidAddressesError') throw unavailable('Cannot connect: no address is known for that peer; dial it once with `sov peers connect MULTIADDR`', { cause: err })
  // The remote gater drops us right after the handshake; libp2p then reports a bare Event.
  const message = typeof err?.message === 'string' && !err.message.startsWith('[object') ? err.message : undefined
  if (message === undefined || /closed|reset/i.test(message)) {
    throw unavailable(`Cannot connect: the peer closed the connection right after the handshake; it may have revoked this node (${self}): its operator can run \`sov peers unrevoke ${self}\`; or it is turning new connections away for a moment (too many still in their handshake): try again shortly`, { cause: err })
  }
  throw unavailable(`Cannot connect: ${message}`, { cause: err })
}
