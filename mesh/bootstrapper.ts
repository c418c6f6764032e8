/**
 * Keeps this node connected to its bootstrap peers: dials each at start and, while it is not
 * connected, again with exponential backoff (so a restarted peer, or one that comes up later,
 * is found without operator action). Failures are expected and only logged at debug level.
 */
import { setMaxListeners } from 'node:events'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { anySignalWithin } from '../protocol/index.js'

/** First retry delay after a failed bootstrap dial. */
export const BOOTSTRAP_RETRY_MIN_MS = 500
/** Longest delay between bootstrap dials. @default 30 s */
export const BOOTSTRAP_RETRY_MAX_MS = 30_000
/** Deadline of one bootstrap dial. */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 10_000

/** Starts the loop; returns a function that stops it. */
export function startBootstrapper (node: Libp2p, addrs: Multiaddr[]): () => void {
  const stop = new AbortController()
  // Each address's loop listens on it, twice while it dials: more than ten is a long list, not a leak.
  setMaxListeners(0, stop.signal)
  const self = node.peerId.toString()
  for (const addr of addrs) {
    const id = addr.getComponents().find(c => c.name === 'p2p')?.value
    if (id === self) continue
    void keep(node, addr, id, stop.signal)
  }
  return () => { stop.abort() }
}

async function keep (node: Libp2p, addr: Multiaddr, id: string | undefined, signal: AbortSignal): Promise<void> {
  let known: PeerId | undefined
  let delay = BOOTSTRAP_RETRY_MIN_MS
  while (!signal.aborted) {
    const connected = known !== undefined
      ? node.getConnections(known).length > 0
      : id !== undefined && node.getConnections().some(c => c.remotePeer.toString() === id)
    if (!connected) {
      try {
        const conn = await node.dial(addr, { signal: anySignalWithin(BOOTSTRAP_DIAL_TIMEOUT_MS, signal) })
        known = conn.remotePeer
        delay = BOOTSTRAP_RETRY_MIN_MS
      } catch {
        delay = Math.min(delay * 2, BOOTSTRAP_RETRY_MAX_MS)
      }
    }
    await sleep(connected ? BOOTSTRAP_RETRY_MAX_MS / 10 : delay * (0.75 + Math.random() / 2), signal)
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done)
  })
}
