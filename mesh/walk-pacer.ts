/**
 * Paces libp2p's random walk. The relay transport (searching for relays) and AutoNAT walk the
 * DHT in a loop until they find what they need; with `allowQueryWithZeroPeers` a node with no
 * connection gets an empty answer at once, and the loop then never yields to the event loop
 * (seen in issue 12: a private node started before its relay froze, timers and IPC included).
 * libp2p's `peerRouting.getClosestPeers` merges every router's answer and ends when the slowest
 * ends, so a router that answers nothing after `WALK_PACE_MS` bounds the walk's pace. Nothing
 * else calls the merged `getClosestPeers`: kad-dht's own lookups go through the DHT directly.
 */
import { peerRoutingSymbol, type AbortOptions, type PeerInfo, type PeerRouting } from '@libp2p/interface'

/** Shortest time one random-walk step takes. */
export const WALK_PACE_MS = 1_000

class WalkPacer {
  readonly [Symbol.toStringTag] = 'sovereign/walk-pacer'
  readonly [peerRoutingSymbol]: Partial<PeerRouting> = {
    getClosestPeers: async function * (_key: Uint8Array, options?: AbortOptions): AsyncGenerator<PeerInfo> {
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, WALK_PACE_MS)
        function done (): void { clearTimeout(timer); options?.signal?.removeEventListener('abort', done); resolve() }
        options?.signal?.addEventListener('abort', done)
      })
      yield * []
    }
  }
}

/** The service factory for `createLibp2p({ services: { walkPacer: walkPacer() } })`. */
export function walkPacer (): () => WalkPacer {
  return () => new WalkPacer()
}
