/**
 * The dark mesh: Kubo-format swarm keys, a PSK connection protector on libsodium that fails fast
 * on a wrong key, the node's stable identity, and the libp2p node factory
 * (TCP → PSK → Noise → Yamux, identify, ping, private Kad-DHT).
 */
import type { MeshNode, MeshNodeOptions } from './node.js'

export {
  parseSwarmKey, formatSwarmKey, generateSwarmKey, swarmKeyFingerprint,
  SWARM_KEY_BYTES, SWARM_KEY_ENCODINGS, type SwarmKey, type SwarmKeyEncoding
} from './swarm-key.js'
export { pskProtector, isSwarmKeyMismatch, NONCE_BYTES, PSK_HANDSHAKE_TIMEOUT_MS } from './psk-protector.js'
export { MAX_PENDING_INBOUND, MAX_PENDING_PER_ADDRESS, sourceOf } from './pending-handshakes.js'
export { loadOrCreateIdentity, readPeerId } from './identity.js'
export { sealInvite, openInvite, assertSameMesh, weakPassphraseReason, INVITE_PREFIX, type InvitePayload, type SealOptions } from './invite.js'
export { writeSecretFile } from './secret-file.js'
export type { MeshNode, MeshNodeOptions, MeshServices } from './node.js'
export { relayReservations, relayOf, type Reachability, type ReachabilityMode, type RelayServeOptions, type RelayReservationInfo } from './relay.js'
export { assertPskOnly, forcePnet, FORCE_PNET_ENV, PSK_TRANSPORTS } from './pnet-guard.js'
export { connectionInfo, bestConnection, reachability, dhtRoutingTableSize, type ConnectionInfo } from './connection-info.js'
export { dialProtocolFinding, PRUNE_AFTER_FAILURES } from './peer-finder.js'
export { lengthPrefixed, lengthDecoder } from './length-prefixed.js'
export { announceSettings, type AnnounceOptions } from './announce.js'

/**
 * Creates the libp2p node (`node.ts`): loaded on this call, so that what needs only keys and
 * files (`sov init`, `sov join`, `sov swarm-key`) never loads libp2p's services (~0.6 s).
 */
export async function createMeshNode (opts: MeshNodeOptions): Promise<MeshNode> {
  const { createMeshNode } = await import('./node.js')
  return await createMeshNode(opts)
}
