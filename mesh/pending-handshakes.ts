/**
 * Inbound connections still in their handshake (issue 10 §3): libp2p limits them only globally
 * (`maxIncomingPendingConnections`) and refuses newcomers when that is full, so silent sockets,
 * which need no key, could turn real peers away. Here they are limited per source (one IPv4
 * address, one IPv6 /64) and, in all, by dropping the **oldest** when a new one comes: a member's
 * handshake takes milliseconds, so a flood from many addresses would have to open
 * `MAX_PENDING_INBOUND` sockets within that time to push it out (helper finding, stop 30: 32
 * addresses × 16 silent sockets kept every member out). A connection counts from the moment the
 * gater sees it until it is encrypted (its peer proved the swarm key) or closes.
 */
import type { MultiaddrConnection } from '@libp2p/interface'

/** Handshakes in progress from one source (IPv4 address, IPv6 /64) at once. @default 16 */
export const MAX_PENDING_PER_ADDRESS = 16
/** Handshakes in progress in all; a new one past this drops the oldest. @default 256 */
export const MAX_PENDING_INBOUND = 256
/**
 * libp2p's own limit, counted until the whole upgrade ends and checked before our gater: set
 * above ours so that it never refuses first (a dropped connection leaves its count a moment late).
 */
export const LIBP2P_MAX_PENDING_INBOUND = 2 * MAX_PENDING_INBOUND

export class PendingHandshakes {
  private readonly bySource = new Map<string, number>()
  /** Pending connections, oldest first (a Map keeps insertion order). */
  private readonly pending = new Map<MultiaddrConnection, string>()

  constructor (private readonly perSource = MAX_PENDING_PER_ADDRESS, private readonly total = MAX_PENDING_INBOUND) {}

  /**
   * For `denyInboundConnection`: true (refuse) when its source already has `perSource` pending;
   * otherwise counts it, dropping the oldest pending connection when `total` are.
   */
  deny (maConn: MultiaddrConnection): boolean {
    const source = sourceOf(maConn)
    if (source === undefined) return false
    const n = this.bySource.get(source) ?? 0
    if (n >= this.perSource) return true
    if (this.pending.size >= this.total) {
      const oldest = this.pending.keys().next().value as MultiaddrConnection
      this.release(oldest)
      oldest.abort(new Error(`dropped: ${this.total} connections were in their handshake and a newer one came`))
    }
    this.bySource.set(source, n + 1)
    this.pending.set(maConn, source)
    maConn.addEventListener('close', () => { this.release(maConn) }, { once: true })
    return false
  }

  /** The handshake is over (encrypted, or closed): its slot is free. Idempotent. */
  release (maConn: MultiaddrConnection): void {
    const source = this.pending.get(maConn)
    if (source === undefined) return
    this.pending.delete(maConn)
    const n = (this.bySource.get(source) ?? 1) - 1
    if (n <= 0) this.bySource.delete(source)
    else this.bySource.set(source, n)
  }

  /** Pending handshakes from `source` (an IPv4 address or an IPv6 /64 prefix), and in all. */
  count (source?: string): number {
    return source === undefined ? this.pending.size : this.bySource.get(source) ?? 0
  }
}

/** The source a connection counts against: its IPv4 address, or the /64 of its IPv6 address. */
export function sourceOf (maConn: Pick<MultiaddrConnection, 'remoteAddr'>): string | undefined {
  for (const c of maConn.remoteAddr.getComponents()) {
    if (c.name === 'ip4' && c.value !== undefined) return c.value
    if (c.name === 'ip6' && c.value !== undefined) return ipv6Prefix64(c.value)
  }
  return undefined
}

/** `2001:db8:1:2:…` → `2001:db8:1:2::/64`; an IPv4-mapped address stays its IPv4 address. */
function ipv6Prefix64 (addr: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)
  if (dotted !== null) return dotted[1]
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(addr)
  if (hex !== null) {
    const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)]
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  const [head, tail] = addr.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return `${groups.slice(0, 4).map(g => String(parseInt(g, 16).toString(16))).join(':')}::/64`
}
