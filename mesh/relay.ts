/**
 * Member relays (issue 12): circuit relay v2 between members of one mesh. A relay is reachable
 * only through the PSK, and a relayed connection is upgraded like any other (libp2p's upgrader
 * runs the connection protector on the relayed stream: `upgrader.js` `_performUpgrade`, no
 * `skipProtection` from `@libp2p/circuit-relay-v2`'s `dial()`/`onStop()`), so the relay forwards
 * bytes that are PSK-encrypted and then Noise-encrypted end to end. That is why relayed
 * connections between members carry no libp2p "limited" cap (2 min / 128 KiB) by default.
 */
import type { CircuitRelayService, CircuitRelayServerInit } from '@libp2p/circuit-relay-v2'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

/** Reservations a serving relay holds at once (libp2p's default of 15 is for strangers). */
export const RELAY_MAX_RESERVATIONS = 128
/** How long a reservation lasts before the client refreshes it. @default 1 hour */
export const RELAY_RESERVATION_TTL_S = 3600
/** Relays a private node reserves a slot on at once when it searches (`relay.use: auto`). */
export const RELAY_SEARCH_SLOTS = 1

/** Limits of a serving relay; absent limits mean an unlimited (not "limited") relayed connection. */
export interface RelayServeOptions {
  /** Reservations held at once. @default RELAY_MAX_RESERVATIONS */
  maxReservations?: number
  /** Seconds one relayed connection may stay open; absent = no limit. */
  durationLimitS?: number
  /** Bytes (both directions together) one relayed connection may carry; absent = no limit. */
  dataLimitBytes?: number
}

/** How this node reaches others and is reached (DESIGN §13 config keys). */
export type Reachability = 'public' | 'private' | 'unknown'
export type ReachabilityMode = 'auto' | 'public' | 'private'

export interface RelayPlan {
  /** Extra listen addresses: `/p2p-circuit` asks the relay transport for a reservation. */
  listen: string[]
  /** Relays to keep a connection to (the bootstrapper redials them). */
  keep: string[]
  /** Serve as a relay with these settings (`circuitRelayServer`); absent: do not serve. */
  server?: CircuitRelayServerInit
}

/**
 * Decides what the node does with relays. A node reserves slots when it is `private`, or when
 * it is `auto` and names its relays (`use` multiaddrs); `auto` + `use: auto` reserves nothing
 * until configured (js-libp2p's AutoNAT v1 never judges private addresses, so it cannot tell a
 * node behind NAT from one on a LAN). A `public` node never reserves.
 */
export function planRelay (opts: { serve?: false | RelayServeOptions, use?: 'auto' | string[], reachability?: ReachabilityMode }): RelayPlan {
  const use = opts.use ?? 'auto'
  const mode = opts.reachability ?? 'auto'
  const reserve = mode === 'private' || (mode === 'auto' && use !== 'auto' && use.length > 0)
  const slots = use === 'auto' ? RELAY_SEARCH_SLOTS : Math.max(1, use.length)
  const serve = opts.serve
  return {
    // Search mode (`/p2p-circuit`) rather than one fixed relay address: the transport then
    // re-reserves on whichever relay member comes back after a restart, and a fixed address
    // that is down at start would fail the whole start.
    listen: reserve ? Array.from({ length: slots }, () => '/p2p-circuit') : [],
    keep: use === 'auto' ? [] : use,
    server: serve === undefined || serve === false
      ? undefined
      : {
        reservations: {
          maxReservations: serve.maxReservations ?? RELAY_MAX_RESERVATIONS,
          reservationTtl: RELAY_RESERVATION_TTL_S * 1000,
          applyDefaultLimit: serve.durationLimitS !== undefined || serve.dataLimitBytes !== undefined,
          defaultDurationLimit: serve.durationLimitS !== undefined ? serve.durationLimitS * 1000 : 2 ** 31 - 1,
          defaultDataLimit: serve.dataLimitBytes !== undefined ? BigInt(serve.dataLimitBytes) : 2n ** 62n
        }
      }
  }
}

export interface RelayReservationInfo {
  /** `client`: a slot we hold on a relay; `server`: a slot a member holds on us. */
  role: 'client' | 'server'
  peerId: string
  /** The relayed address this slot gives (client), or the member's address as we see it (server). */
  addr: string
  /** ISO time the slot expires. */
  expires: string
}

/** Reservations this node holds on relays and serves to members, for `sov status`. */
export function relayReservations (node: Libp2p<{ relay?: CircuitRelayService }>): RelayReservationInfo[] {
  const out: RelayReservationInfo[] = []
  const own = node.getMultiaddrs().map(a => a.toString()).filter(a => a.includes('/p2p-circuit'))
  for (const addr of own) {
    const relay = relayOf(addr)
    if (relay === undefined) continue
    const store = clientStore(node)
    const r = store?.getReservation?.(peerIdFromString(relay))
    out.push({ role: 'client', peerId: relay, addr, expires: r !== undefined ? new Date(Number(r.expire) * 1000).toISOString() : '' })
  }
  const served = node.services.relay?.reservations
  if (served !== undefined) {
    for (const [peer, r] of served.entries()) {
      out.push({ role: 'server', peerId: peer.toString(), addr: r.addr.toString(), expires: r.expiry.toISOString() })
    }
  }
  return out
}

/** The relay's PeerId of a `/…/p2p/RELAY/p2p-circuit/…` address. */
export function relayOf (addr: string): string | undefined {
  const [before] = addr.split('/p2p-circuit')
  return multiaddr(before).getComponents().findLast(c => c.name === 'p2p')?.value
}

/** The relay transport's client reservation store (kept off libp2p's public interface). */
function clientStore (node: Libp2p): { getReservation?: (peer: unknown) => { expire: bigint } | undefined } | undefined {
  const tm = (node as any).components?.transportManager
  const t = tm?.getTransports?.().find((x: any) => x?.[Symbol.toStringTag] === '@libp2p/circuit-relay-v2-transport')
  return t?.reservationStore
}
