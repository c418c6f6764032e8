/**
 * Addresses that stay true (issue 12 §3). js-libp2p asks peer routing for a peer only when it
 * holds no address at all (libp2p/js-libp2p#3160): a peer that came back on a new port stays
 * unreachable for as long as its old address sits in the peer store, unless it happens to dial
 * us first. Here a dial whose every stored address failed is followed by an explicit DHT lookup
 * (a FIND_NODE to the members closest to the peer, which are the connected members in a small
 * mesh) and one more dial; addresses that fail `PRUNE_AFTER_FAILURES` whole dials in a row are
 * dropped from the peer store.
 */
import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'

/** Whole failed dials after which a stored address is removed. */
export const PRUNE_AFTER_FAILURES = 3

export interface FindingDialOptions extends AbortOptions {
  runOnLimitedConnection?: boolean
}

/** Failed whole dials per peer and address; reset by a connection over that address. */
const strikes = new WeakMap<Libp2p, Map<string, Map<string, number>>>()

/**
 * `node.dialProtocol(peer, protocol)`, and when that fails without any connection to the peer,
 * a fresh lookup of the peer's addresses and a second dial. Throws the first dial's error when
 * the lookup finds nothing new.
 */
export async function dialProtocolFinding (node: Libp2p, peer: PeerId, protocol: string, options: FindingDialOptions = {}): Promise<Stream> {
  try {
    const stream = await node.dialProtocol(peer, protocol, options)
    forgive(node, peer)
    return stream
  } catch (err) {
    if (options.signal?.aborted === true || node.getConnections(peer).length > 0) throw err
    const tried = await storedAddrs(node, peer)
    await strike(node, peer, tried)
    let found: string[]
    try {
      const info = await node.peerRouting.findPeer(peer, { signal: options.signal, useCache: false } as AbortOptions)
      found = info.multiaddrs.map(a => a.toString())
    } catch {
      throw err
    }
    if (found.every(a => tried.includes(a))) throw err
    const stream = await node.dialProtocol(peer, protocol, options)
    forgive(node, peer)
    return stream
  }
}

async function storedAddrs (node: Libp2p, peer: PeerId): Promise<string[]> {
  try {
    return (await node.peerStore.get(peer)).addresses.map(a => a.multiaddr.toString())
  } catch {
    return []
  }
}

/** Counts one failed whole dial against each address tried; prunes the ones that keep failing. */
async function strike (node: Libp2p, peer: PeerId, addrs: string[]): Promise<void> {
  let byPeer = strikes.get(node)
  if (byPeer === undefined) strikes.set(node, byPeer = new Map())
  const id = peer.toString()
  const counts = byPeer.get(id) ?? new Map<string, number>()
  byPeer.set(id, counts)
  const prune: string[] = []
  for (const a of addrs) {
    const n = (counts.get(a) ?? 0) + 1
    counts.set(a, n)
    if (n >= PRUNE_AFTER_FAILURES) prune.push(a)
  }
  if (prune.length === 0) return
  const keep = (await node.peerStore.get(peer)).addresses.filter(a => !prune.includes(a.multiaddr.toString()))
  await node.peerStore.patch(peer, { multiaddrs: keep.map(a => a.multiaddr) })
  for (const a of prune) counts.delete(a)
}

function forgive (node: Libp2p, peer: PeerId): void {
  strikes.get(node)?.delete(peer.toString())
}
