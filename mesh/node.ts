/**
 * The libp2p node of the dark mesh (DESIGN §7): TCP → our PSK protector → Noise → Yamux, with
 * identify, ping, a private Kad-DHT, AutoNAT among members and circuit relay v2 between members
 * (issue 12). Only TCP and relayed TCP: PSK cannot protect QUIC/WebRTC/WebTransport, and there
 * is no mDNS (it would broadcast the PeerId in clear).
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { autoNAT } from '@libp2p/autonat'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { isPrivate } from '@libp2p/utils'
import { LevelDatastore } from 'datastore-level'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { SovError, badRequest, unavailable, type ErrorCode } from '../protocol/index.js'
import { pskProtector } from './psk-protector.js'
import { startBootstrapper } from './bootstrapper.js'
import { planRelay, type ReachabilityMode, type RelayServeOptions } from './relay.js'
import { assertPskOnly } from './pnet-guard.js'
import { walkPacer } from './walk-pacer.js'
import { announceSettings } from './announce.js'
import { LIBP2P_MAX_PENDING_INBOUND, PendingHandshakes } from './pending-handshakes.js'

/** Our DHT protocol: a private DHT that never mixes with the public Amino DHT. */
export const DHT_PROTOCOL = '/sov/kad/1.0.0'
/** Inbound connections per second from one IP (libp2p's default 5 refuses a 20-node join on loopback). */
export const INBOUND_CONNECTIONS_PER_S = 1_000
/** Connections this node keeps at most. */
export const MAX_CONNECTIONS = 1_000

/** Concurrent ping streams per connection and direction (libp2p's default of 1 collides with its monitor). */
export const PING_STREAMS = 8

/** The AutoNAT protocol among members: our prefix keeps it apart from public libp2p networks. */
export const AUTONAT_PROTOCOL_PREFIX = 'sov'

export type MeshServices = { identify: Identify, ping: Ping, dht: KadDHT, identifyPush: unknown, autoNAT?: unknown, walkPacer: unknown, relay?: CircuitRelayService }
export type MeshNode = Libp2p<MeshServices>

/**
 * Largest receive window a Yamux stream grows to (libp2p's default is 16 MiB). A member relay
 * pauses a stream whose other side cannot take more, and a paused stream still receives what
 * its window allows into a read buffer capped at 4 MiB (`maxReadBufferLength`): a larger window
 * would reset relayed connections under load (issue 12). @default 4 MiB
 */
export const YAMUX_MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024

export interface MeshNodeOptions {
  privateKey: PrivateKey
  /** The 32-byte swarm key; there is no public mode. */
  swarmKey: Uint8Array
  /** Listen multiaddrs, e.g. `/ip4/127.0.0.1/tcp/4001`. */
  listen: string[]
  /** Peers to dial at start and re-dial while disconnected. */
  bootstrap?: string[]
  /** Folder of the persistent peer store (and DHT records); in memory when absent. */
  datastorePath?: string
  /**
   * Time a connection has to complete the PSK exchange, in ms. @default PSK_HANDSHAKE_TIMEOUT_MS (2 s)
   * Only tests that run many nodes in one busy process raise it: the deadline runs on the local
   * event loop, so a starved process would drop peers that did answer in time.
   */
  pskHandshakeTimeoutMs?: number
  /** PeerIds refused at the connection gater, checked on every dial and inbound connection. */
  isRevoked?: (peerId: string) => boolean
  /** Serve as a circuit relay for members (issue 12); absent or `false`: do not serve. */
  relayServe?: false | RelayServeOptions
  /** Relays to reserve on: multiaddrs, or `auto` (members that serve). @default 'auto' */
  relayUse?: 'auto' | string[]
  /** `private` reserves relay slots and announces `/p2p-circuit` addresses. @default 'auto' */
  reachability?: ReachabilityMode
  /** Kubo's `Addresses.Announce`: announce exactly these instead of the listen addresses. */
  announce?: string[]
  /** Kubo's `Addresses.AppendAnnounce`: announce these too (e.g. a forwarded public port). */
  appendAnnounce?: string[]
  /** Kubo's `Addresses.NoAnnounce`: never announce these (exact, or `/ip4/NET/ipcidr/BITS`). */
  noAnnounce?: string[]
}

function parseAddrs (addrs: string[], what: string): Multiaddr[] {
  return addrs.map(a => {
    try {
      return multiaddr(a)
    } catch (cause) {
      throw badRequest(`Cannot parse ${what} "${a}": not a multiaddr`, { cause })
    }
  })
}

/**
 * LevelDB sizes for the peer store of a private mesh (tens to hundreds of peers, a few KiB each):
 * classic-level's defaults (8 MiB block cache, 4 MiB write buffer) are sized for databases
 * thousands of times larger (issue 16).
 */
const PEER_STORE_LEVEL_OPTIONS = { cacheSize: 1024 * 1024, writeBufferSize: 1024 * 1024 }

/** Creates and starts a mesh node. Stopping it also closes its datastore and bootstrap loop. */
export async function createMeshNode (opts: MeshNodeOptions): Promise<MeshNode> {
  const relay = planRelay({ serve: opts.relayServe, use: opts.relayUse, reachability: opts.reachability })
  const bootstrap = parseAddrs([...opts.bootstrap ?? [], ...relay.keep.filter(a => !(opts.bootstrap ?? []).includes(a))], 'bootstrap or relay address')
  parseAddrs(opts.listen, 'listen address')
  const transports = { tcp: tcp(), circuitRelay: circuitRelayTransport({ reservationCompletionTimeout: 10_000 }) }
  assertPskOnly({ transports: Object.keys(transports), listen: opts.listen, announce: [...opts.announce ?? [], ...opts.appendAnnounce ?? []], swarmKey: opts.swarmKey })
  const announce = announceSettings(opts)
  const revoked = (peer: PeerId): boolean => opts.isRevoked?.(peer.toString()) ?? false
  const pending = new PendingHandshakes()
  const datastore = opts.datastorePath !== undefined ? new LevelDatastore(opts.datastorePath, PEER_STORE_LEVEL_OPTIONS) : undefined
  await datastore?.open().catch(err => {
    // LevelDB says only "Database failed to open"; its cause says why (ENOSPC, a file in the way).
    const why = String((err as Error)?.cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error)?.message)
    throw unavailable(`Cannot open the peer store "${opts.datastorePath as string}": ${why}; free some space or move the path aside (it only caches peer addresses; the node rebuilds it)`, { cause: err })
  })
  let node: MeshNode
  try {
    node = await createLibp2p({
      privateKey: opts.privateKey,
      datastore,
      addresses: { listen: [...opts.listen, ...relay.listen], ...announce },
      transports: Object.values(transports),
      connectionProtector: pskProtector(opts.swarmKey, opts.pskHandshakeTimeoutMs),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW_BYTES } })],
      connectionGater: {
        denyDialPeer: revoked,
        denyInboundConnection: maConn => pending.deny(maConn),
        denyInboundEncryptedConnection: (peer, maConn) => {
          pending.release(maConn)
          return revoked(peer)
        },
        denyOutboundEncryptedConnection: revoked,
        // A revoked peer neither holds a slot on our relay nor reaches anyone through it.
        denyInboundRelayReservation: revoked,
        denyOutboundRelayedConnection: (src, dst) => revoked(src) || revoked(dst),
        denyInboundRelayedConnection: (_relay, remote) => revoked(remote)
      },
      connectionManager: {
        inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_S,
        maxIncomingPendingConnections: LIBP2P_MAX_PENDING_INBOUND,
        maxConnections: MAX_CONNECTIONS
      },
      services: {
        identify: identify(),
        // Every node takes identify pushes; a node that reserves relay slots also sends them
        // when its /p2p-circuit addresses change: without that a relay never learns its clients'
        // addresses (issue 12). Only there: pushing to every connection on each address change
        // races connections being closed (a stray connection and stream resets in
        // test/psk.test.ts's churn).
        identifyPush: identifyPush({ runOnSelfUpdate: relay.listen.length > 0 }),
        // libp2p's connection monitor pings on this protocol too: room for it and for operators.
        ping: ping({ maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
        // The defaults would leave every node a DHT client on private addresses: the DHT would never form.
        // allowQueryWithZeroPeers: by default every lookup first waits for the node's initial
        // self-query (0.7-6 s on a small mesh); callers here retry on their own schedule instead.
        dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true }),
        // Members confirm each other's public addresses (`reachability` in `sov status`).
        ...(runsAutoNat(opts) ? { autoNAT: autoNAT({ protocolPrefix: AUTONAT_PROTOCOL_PREFIX }) } : {}),
        walkPacer: walkPacer(),
        ...(relay.server !== undefined ? { relay: circuitRelayServer(relay.server) } : {})
      }
    })
  } catch (err) {
    await datastore?.close()
    throw explainListenError(err)
  }
  // A slot whose member is gone cannot relay (the relay needs a connection to it for the STOP):
  // dropped at once, as go-libp2p's relay does, not kept for its hour — a revoked (hung up) or
  // stopped member no longer shows in `sov status` nor counts against `relay.maxReservations`
  // (helper finding, stop 30).
  const served = node.services.relay?.reservations
  if (served !== undefined) node.addEventListener('peer:disconnect', evt => { served.delete(evt.detail) })
  const stopBootstrap = startBootstrapper(node, bootstrap)
  node.addEventListener('stop', () => {
    stopBootstrap()
    void datastore?.close()
  }, { once: true })
  return node
}

/**
 * AutoNAT runs where it can learn something: `reachability: auto` and a listen address that is
 * public or unspecified (0.0.0.0, ::). AutoNAT v1 never judges private or loopback addresses, and
 * its client walks the DHT dialing random members while any address is unverified, so a
 * loopback- or LAN-only node would only churn connections for nothing.
 */
function runsAutoNat (opts: MeshNodeOptions): boolean {
  if ((opts.reachability ?? 'auto') !== 'auto') return false
  return opts.listen.some(a => {
    const ma = multiaddr(a)
    const host = ma.getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value
    return host === '0.0.0.0' || host === '::' || (host !== undefined && isPrivate(ma) === false)
  })
}

const LISTEN_FIXES: Record<string, [ErrorCode, string]> = {
  EADDRINUSE: ['CONFLICT', 'the port is already in use (EADDRINUSE); stop what uses it (another sov home?) or choose another port with `--listen` or `listen` in config.json'],
  EADDRNOTAVAIL: ['BAD_REQUEST', 'this host has no such address (EADDRNOTAVAIL); use one of its own addresses, or 0.0.0.0'],
  EACCES: ['FORBIDDEN', 'the port is privileged (EACCES); use a port above 1023']
}

/**
 * libp2p's "Some configured addresses failed to be listened on …" (with Node's stack traces) in
 * our words: the address and the fix (issue 10 §4). Other errors pass through.
 */
function explainListenError (err: unknown): unknown {
  const text = String((err as Error)?.message ?? '')
  const m = /(\/ip[46]\/\S+?):\s+Error: listen (E[A-Z]+)/.exec(text)
  const fix = m === null ? undefined : LISTEN_FIXES[m[2]]
  if (m === null || fix === undefined) return err
  return new SovError(fix[0], `Cannot listen on "${m[1]}": ${fix[1]}`, { cause: err })
}
