/**
 * The libp2p node of the dark mesh (DESIGN §7): TCP → our PSK protector → Noise → Yamux, with
 * identify, ping and a private Kad-DHT. Only TCP: PSK cannot protect QUIC/WebRTC/WebTransport,
 * and there is no mDNS (it would broadcast the PeerId in clear).
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { LevelDatastore } from 'datastore-level'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { SovError, badRequest, type ErrorCode } from '../protocol/index.js'
import { pskProtector } from './psk-protector.js'
import { startBootstrapper } from './bootstrapper.js'
import { PendingPerAddress } from './pending-per-address.js'

/** Our DHT protocol: a private DHT that never mixes with the public Amino DHT. */
export const DHT_PROTOCOL = '/sov/kad/1.0.0'
/** Inbound connections per second from one IP (libp2p's default 5 refuses a 20-node join on loopback). */
export const INBOUND_CONNECTIONS_PER_S = 1_000
/** Inbound connections still upgrading at once (libp2p's default is 10). */
export const MAX_PENDING_INBOUND = 256
/** Connections this node keeps at most. */
export const MAX_CONNECTIONS = 1_000

/** Concurrent ping streams per connection and direction (libp2p's default of 1 collides with its monitor). */
export const PING_STREAMS = 8

export type MeshServices = { identify: Identify, ping: Ping, dht: KadDHT }
export type MeshNode = Libp2p<MeshServices>

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
  /** PeerIds refused at the connection gater, checked on every dial and inbound connection. */
  isRevoked?: (peerId: string) => boolean
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

/** Creates and starts a mesh node. Stopping it also closes its datastore and bootstrap loop. */
export async function createMeshNode (opts: MeshNodeOptions): Promise<MeshNode> {
  const bootstrap = parseAddrs(opts.bootstrap ?? [], 'bootstrap address')
  parseAddrs(opts.listen, 'listen address')
  const revoked = (peer: PeerId): boolean => opts.isRevoked?.(peer.toString()) ?? false
  const pending = new PendingPerAddress()
  const datastore = opts.datastorePath !== undefined ? new LevelDatastore(opts.datastorePath) : undefined
  await datastore?.open()
  let node: MeshNode
  try {
    node = await createLibp2p({
      privateKey: opts.privateKey,
      datastore,
      addresses: { listen: opts.listen },
      transports: [tcp()],
      connectionProtector: pskProtector(opts.swarmKey),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: revoked,
        denyInboundConnection: maConn => pending.deny(maConn),
        denyInboundEncryptedConnection: (peer, maConn) => {
          pending.release(maConn)
          return revoked(peer)
        },
        denyOutboundEncryptedConnection: revoked
      },
      connectionManager: {
        inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_S,
        maxIncomingPendingConnections: MAX_PENDING_INBOUND,
        maxConnections: MAX_CONNECTIONS
      },
      services: {
        identify: identify(),
        // libp2p's connection monitor pings on this protocol too: room for it and for operators.
        ping: ping({ maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
        // The defaults would leave every node a DHT client on private addresses: the DHT would never form.
        // allowQueryWithZeroPeers: by default every lookup first waits for the node's initial
        // self-query (0.7-6 s on a small mesh); callers here retry on their own schedule instead.
        dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true })
      }
    })
  } catch (err) {
    await datastore?.close()
    throw explainListenError(err)
  }
  const stopBootstrap = startBootstrapper(node, bootstrap)
  node.addEventListener('stop', () => {
    stopBootstrap()
    void datastore?.close()
  }, { once: true })
  return node
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

/** Peers in the DHT routing table (kad-dht keeps it off its public interface). */
export function dhtRoutingTableSize (node: MeshNode): number {
  return (node.services.dht as unknown as { routingTable?: { size?: number } }).routingTable?.size ?? 0
}
