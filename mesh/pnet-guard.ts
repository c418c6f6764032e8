/**
 * No way around the key (issue 12 §4). js-libp2p lets WebRTC and WebTransport skip the connection
 * protector instead of refusing it, and QUIC has no place for one; go-libp2p refuses such a
 * transport next to a PSK. We do the same at start: every transport and every listen address
 * must be one whose connections pass through the PSK protector, and `LIBP2P_FORCE_PNET=1` (the
 * go-libp2p switch, `core/pnet/env.go`: exactly "1") refuses a node without a swarm key.
 */
import { badRequest, swarmKeyInvalid } from '../protocol/index.js'
import { unprotectedProtocolOf } from '../protocol/addr/index.js'
import { SWARM_KEY_BYTES } from './swarm-key.js'

/** go-libp2p's environment switch (`pnet.EnvKey`). */
export const FORCE_PNET_ENV = 'LIBP2P_FORCE_PNET'

/**
 * Transports whose every connection is handed to libp2p's upgrader without `skipProtection`:
 * TCP, and circuit relay v2 (its `dial()` and `onStop()` call `upgradeOutbound`/`upgradeInbound`
 * on the relayed stream, so the PSK runs end to end inside it).
 */
export const PSK_TRANSPORTS = ['tcp', 'circuitRelay'] as const


/** True when `LIBP2P_FORCE_PNET` asks for a private network (go-libp2p reads exactly "1"). */
export function forcePnet (env: NodeJS.ProcessEnv = process.env): boolean {
  return env[FORCE_PNET_ENV] === '1'
}

/**
 * Throws unless every transport and listen address is PSK-protected and the key is present.
 * @throws BAD_REQUEST naming the transport or address; SWARM_KEY_INVALID without a usable key
 */
export function assertPskOnly (opts: { transports: string[], listen: string[], announce?: string[], swarmKey?: Uint8Array }): void {
  if (opts.swarmKey?.length !== SWARM_KEY_BYTES) {
    const why = forcePnet() ? `${FORCE_PNET_ENV}=1 enforces a private network` : 'there is no public mode'
    throw swarmKeyInvalid(`Cannot start the mesh: no ${SWARM_KEY_BYTES}-byte swarm key; ${why}; give the node its mesh's swarm.key`)
  }
  for (const t of opts.transports) {
    if (!(PSK_TRANSPORTS as readonly string[]).includes(t)) {
      throw badRequest(`Cannot start the mesh: transport "${t}" would not be PSK-protected; only ${PSK_TRANSPORTS.join(', ')} are`)
    }
  }
  const check = (a: string, verb: string): void => {
    const bad = unprotectedProtocolOf(a)
    if (bad !== undefined) {
      throw badRequest(`Cannot ${verb} "${a}": ${bad} connections would not be PSK-protected; use /tcp addresses (relayed /p2p-circuit ones are protected too)`)
    }
  }
  for (const a of opts.listen) check(a, 'listen on')
  for (const a of opts.announce ?? []) check(a, 'announce')
}
