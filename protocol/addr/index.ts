/**
 * What a member's address must be to be dialled — a bootstrap peer, a relay in `relay.use`, an
 * invite's entry (helper finding, stop 30: `join` wrote QUIC and PeerId-less addresses the rest
 * of the node refused or ignored). One check, used wherever such an address comes in.
 *
 * A sub-entry of its own, not re-exported by `protocol/index.ts`: it loads multiaddr, which
 * every CLI command would otherwise pay for at start (~40 ms).
 */
import { multiaddr } from '@multiformats/multiaddr'

/** Multiaddr protocols whose connections never carry the swarm key (their transports skip or cannot take a protector). */
export const UNPROTECTED_PROTOCOLS = ['quic', 'quic-v1', 'webtransport', 'webrtc', 'webrtc-direct', 'udp', 'ws', 'wss', 'tls', 'http', 'https', 'p2p-webrtc-star', 'p2p-websocket-star']

/** The innermost protocol of `addr` that would not carry the swarm key (quic-v1 rather than its udp), if any. */
export function unprotectedProtocolOf (addr: string): string | undefined {
  return multiaddr(addr).getComponents().map(c => c.name).findLast(n => UNPROTECTED_PROTOCOLS.includes(n))
}

/**
 * Why `addr` cannot name a member to dial, or undefined when it can: it must parse, run over TCP
 * or a relay (`/p2p-circuit`) — the transports whose connections carry the swarm key — and end
 * with `/p2p/<PeerId>`, so the node knows whom it dials. Worded to follow the address:
 * `"ADDR" ${problem}`.
 */
export function memberAddrProblem (addr: string): string | undefined {
  let names: string[]
  try {
    names = multiaddr(addr).getComponents().map(c => c.name)
  } catch {
    return 'is not a multiaddr (e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…)'
  }
  const bad = unprotectedProtocolOf(addr)
  if (bad !== undefined) return `is a ${bad} address: ${bad} connections would not carry the swarm key; use a /tcp address (or a relayed /p2p-circuit one)`
  if (!names.includes('tcp') && !names.includes('p2p-circuit')) return 'names no TCP port (e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…)'
  if (names.at(-1) !== 'p2p') return 'must end with /p2p/<PeerId> so the node knows whom it dials'
  return undefined
}
