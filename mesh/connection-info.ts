/**
 * How a peer is reached, for `sov peers` and `sov status` (issue 12 §5; DESIGN §13): direct or
 * relayed (through whom), the remote address, RTT, bytes in/out, connected since.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import type { PeerConnection } from '../protocol/index.js'
import { isPrivate } from '@libp2p/utils'
import { pskTraffic } from './psk-protector.js'
import { relayOf, type Reachability, type ReachabilityMode } from './relay.js'

/** How a connected peer is reached: `peers list`'s `connection` (protocol/ipc.ts, DESIGN §13). */
export type ConnectionInfo = PeerConnection

/** Describes one open connection. */
export function connectionInfo (conn: Connection): ConnectionInfo {
  const addr = conn.remoteAddr.toString()
  const relayed = addr.includes('/p2p-circuit')
  const t = pskTraffic(conn.timeline)
  return {
    type: relayed ? 'relayed' : 'direct',
    ...(relayed ? { via: relayOf(addr) } : {}),
    addr,
    rttMs: typeof conn.rtt === 'number' ? Math.round(conn.rtt * 10) / 10 : null,
    bytesIn: t?.bytesIn ?? 0,
    bytesOut: t?.bytesOut ?? 0,
    since: new Date(conn.timeline.open).toISOString()
  }
}

/** The connection `sov peers` reports for a peer: a direct one when there is one, else the oldest. */
export function bestConnection (conns: Connection[]): Connection | undefined {
  const open = conns.filter(c => c.status === 'open')
  return open.find(c => !c.remoteAddr.toString().includes('/p2p-circuit')) ?? open[0]
}

/**
 * This node's reachability. A configured `public`/`private` stands. In `auto`: `private` while the
 * node holds a relay slot or has no direct address at all; `public` once a member's AutoNAT
 * dial-back confirmed a public direct address; otherwise `unknown` (AutoNAT v1 never judges
 * private or loopback addresses, so a LAN-only node stays `unknown`).
 */
export function reachability (node: Libp2p, mode: ReachabilityMode): Reachability {
  if (mode !== 'auto') return mode
  const addrs = node.getMultiaddrs().map(a => a.toString())
  if (addrs.some(a => a.includes('/p2p-circuit'))) return 'private'
  if (!addrs.some(a => !a.includes('/p2p-circuit'))) return 'private'
  const am = (node as any).components?.addressManager
  const meta: Array<{ multiaddr: any, verified: boolean }> = am?.getAddressesWithMetadata?.() ?? []
  if (meta.some(m => m.verified && !m.multiaddr.toString().includes('/p2p-circuit') && isPrivate(m.multiaddr) === false)) return 'public'
  return 'unknown'
}

/** Peers in the DHT routing table of `node` (kad-dht keeps it off its public interface). */
export function dhtRoutingTableSize (node: Libp2p): number {
  return ((node.services as Record<string, unknown>).dht as { routingTable?: { size?: number } } | undefined)?.routingTable?.size ?? 0
}
