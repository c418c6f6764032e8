/**
 * Inbound connections still in their handshake, counted per source address (issue 10 §3):
 * libp2p limits them only globally (`maxIncomingPendingConnections`), so one host with silent
 * sockets could fill every slot and turn real peers away. A connection counts from the moment
 * the gater sees it until it is encrypted (its peer proved the swarm key) or closes.
 */
import type { MultiaddrConnection } from '@libp2p/interface'

/** Handshakes in progress from one IP address at once. @default 16 */
export const MAX_PENDING_PER_ADDRESS = 16

export class PendingPerAddress {
  private readonly byHost = new Map<string, number>()
  private readonly counted = new WeakMap<MultiaddrConnection, string>()

  constructor (private readonly max = MAX_PENDING_PER_ADDRESS) {}

  /** For `denyInboundConnection`: true (refuse) when its address already has `max` pending. */
  deny (maConn: MultiaddrConnection): boolean {
    const host = hostOf(maConn)
    if (host === undefined) return false
    const n = this.byHost.get(host) ?? 0
    if (n >= this.max) return true
    this.byHost.set(host, n + 1)
    this.counted.set(maConn, host)
    maConn.addEventListener('close', () => { this.release(maConn) }, { once: true })
    return false
  }

  /** The handshake is over (encrypted, or closed): its slot is free. Idempotent. */
  release (maConn: MultiaddrConnection): void {
    const host = this.counted.get(maConn)
    if (host === undefined) return
    this.counted.delete(maConn)
    const n = (this.byHost.get(host) ?? 1) - 1
    if (n <= 0) this.byHost.delete(host)
    else this.byHost.set(host, n)
  }

  /** Pending handshakes from `host` (for tests and status). */
  pending (host: string): number {
    return this.byHost.get(host) ?? 0
  }
}

function hostOf (maConn: MultiaddrConnection): string | undefined {
  for (const c of maConn.remoteAddr.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) return c.value
  }
  return undefined
}
