/**
 * What this node tells others about its addresses (issue 12 §3), with Kubo's three settings:
 * `announce` replaces the announced set (port-forwarded hosts name their public address),
 * `appendAnnounce` adds to it, `noAnnounce` removes from it — an exact multiaddr or a whole
 * range as `/ip4/10.0.0.0/ipcidr/8` (Kubo `Addresses.NoAnnounce`; a range never removes a
 * relayed `/p2p-circuit` address, whose IP is the relay's). A node listening on an
 * unspecified address (0.0.0.0, ::) announces only what other machines can use: no loopback
 * or link-local address, unless it also listens on loopback explicitly.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { isLinkLocal, isLoopback } from '@libp2p/utils'
import { badRequest } from '../protocol/index.js'

export interface AnnounceOptions {
  listen: string[]
  announce?: string[]
  appendAnnounce?: string[]
  noAnnounce?: string[]
}

/** libp2p `addresses` settings for the options, with our filter; checks every address given. */
export function announceSettings (opts: AnnounceOptions): { announce: string[], appendAnnounce: string[], announceFilter: (addrs: Multiaddr[]) => Multiaddr[] } {
  for (const a of [...opts.announce ?? [], ...opts.appendAnnounce ?? [], ...opts.noAnnounce ?? []]) parse(a)
  const rules = (opts.noAnnounce ?? []).map(rule)
  const hosts = opts.listen.map(a => parse(a).getComponents().find(c => c.name === 'ip4' || c.name === 'ip6')?.value)
  const wildcard = hosts.some(h => h === '0.0.0.0' || h === '::')
  const loopbackAsked = opts.listen.some(a => { const ma = parse(a); return isLoopback(ma) })
  return {
    announce: opts.announce ?? [],
    appendAnnounce: opts.appendAnnounce ?? [],
    announceFilter: addrs => addrs.filter(ma => {
      // A relayed address carries the relay's IP, not ours: only an exact entry removes it.
      if (ma.toString().includes('/p2p-circuit')) return !rules.some(r => r.exact && r(ma))
      if (rules.some(r => r(ma))) return false
      if (isLinkLocal(ma)) return false
      if (wildcard && !loopbackAsked && isLoopback(ma)) return false
      return true
    })
  }
}

function parse (a: string): Multiaddr {
  try {
    return multiaddr(a)
  } catch (cause) {
    throw badRequest(`Cannot parse announce address "${a}": not a multiaddr`, { cause })
  }
}

/** One `noAnnounce` entry as a predicate: an `/ipcidr/N` range or an exact address (without /p2p). */
function rule (entry: string): ((ma: Multiaddr) => boolean) & { exact: boolean } {
  const parts = parse(entry).getComponents()
  const cidr = parts.find(c => c.name === 'ipcidr')
  const ip = parts.find(c => c.name === 'ip4' || c.name === 'ip6')
  if (cidr !== undefined && ip !== undefined) {
    const bits = Number(cidr.value)
    return Object.assign((ma: Multiaddr) => {
      const host = ma.getComponents().find(c => c.name === ip.name)?.value
      return host !== undefined && inRange(host, ip.value ?? '', bits, ip.name === 'ip4')
    }, { exact: false })
  }
  const exact = withoutPeer(entry)
  return Object.assign((ma: Multiaddr) => withoutPeer(ma.toString()) === exact, { exact: true })
}

function withoutPeer (a: string): string {
  return a.replace(/\/p2p\/[^/]+$/, '')
}

function inRange (host: string, net: string, bits: number, v4: boolean): boolean {
  const a = toBits(host, v4)
  const b = toBits(net, v4)
  return a !== undefined && b !== undefined && a.slice(0, bits) === b.slice(0, bits)
}

function toBits (ip: string, v4: boolean): string | undefined {
  if (v4) {
    const o = ip.split('.').map(Number)
    return o.length === 4 ? o.map(n => n.toString(2).padStart(8, '0')).join('') : undefined
  }
  const [head, tail = ''] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  if (!ip.includes('::') && h.length !== 8) return undefined
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  return groups.map(g => parseInt(g, 16).toString(2).padStart(16, '0')).join('')
}
