/**
 * The IPC dispatcher: checks the caller's authority for each request, then runs its handler.
 * Handlers translate foreign errors (libp2p by `err.name`) into `SovError`s at this boundary.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  SovError, VERSION, badRequest, forbidden, swarmKeyMismatch, timeout, unavailable,
  type PeerInfo, type RequestType, type StatusResult
} from '../protocol/index.js'
import { bestConnection, connectionInfo, dhtRoutingTableSize, isSwarmKeyMismatch, reachability, relayReservations } from '../mesh/index.js'
import type { Daemon } from './daemon.js'
import type { Principal } from './ipc-server.js'
import { authorizeAgent, capsHandlers } from './handlers-caps.js'
import { licenceHandlers } from './handlers-licence.js'
import { newOperatorToken } from './tokens.js'
import { a2aHandlers } from './handlers-a2a.js'

export type { AuditEvent } from './audit-row.js'

export type Handler = (params: any, ctx: { principal: Principal, signal: AbortSignal }) => Promise<unknown>

export function actorOf (p: Principal): string {
  return p.kind === 'operator' ? 'operator' : `agent:${p.name}`
}

/** Builds the dispatch function the IPC server calls for every validated request. */
export function createDispatcher (d: Daemon) {
  const handlers: Partial<Record<RequestType, Handler>> = {
    ...licenceHandlers(d),
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
      d.operatorToken = newOperatorToken(d.paths.operatorToken)
      return { rotated: true, path: d.paths.operatorToken }
    },
    'agentToken.list': async () => d.agents.list().map(r => ({ name: r.name, scopes: r.scopes, expires: r.expires, tokenPrefix: r.prefix })),
    ...capsHandlers(d),
    ...a2aHandlers(d)
  }

  return async (principal: Principal, type: RequestType, params: any, signal: AbortSignal): Promise<unknown> => {
    if (principal.kind === 'agent') await authorizeAgent(d, principal.name, type, params)
    const handler = handlers[type]
    if (handler === undefined) throw unavailable(`Cannot run ${type}: this node does not serve it yet`)
    return await handler(params, { principal, signal })
  }
}

function status (d: Daemon): StatusResult {
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
    reachability: reachability(m, d.config.reachability),
    relay: { serving: d.config.relay.serve, reservations: relayReservations(m) }
  }
}

async function listPeers (d: Daemon): Promise<PeerInfo[]> {
  const connected = new Set(d.mesh.getPeers().map(p => p.toString()))
  const out: PeerInfo[] = []
  for (const peer of await d.mesh.peerStore.all()) {
    const id = peer.id.toString()
    if (id === d.peerId) continue
    out.push({ peerId: id, addrs: peer.addresses.map(a => a.multiaddr.toString()), connected: connected.has(id) })
  }
  for (const id of connected) if (!out.some(p => p.peerId === id)) out.push({ peerId: id, addrs: [], connected: true })
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
function translateDialError (err: any): never {
  if (err instanceof SovError) throw err
  if (isSwarmKeyMismatch(err)) throw swarmKeyMismatch('Cannot connect: the peer uses a different swarm key', { cause: err })
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') throw timeout(`Cannot connect: ${err.message}`, { cause: err })
  if (err?.name === 'DialDeniedError' || err?.name === 'ConnectionDeniedError') throw forbidden(`Cannot connect: ${err.message}`, { cause: err })
  throw unavailable(`Cannot connect: ${err?.message ?? String(err)}`, { cause: err })
}
