/**
 * A small internet in network namespaces (issue 12): a "public" bridge (198.18.0.0/15, RFC 2544's
 * test range) with hosts on it, and private LANs each behind a router namespace that masquerades
 * (nftables) and lets nothing in that its LAN did not start. A LAN host can dial out and nobody can
 * dial it. Needs root, iproute2 and nft; `natUnavailable()` says why not. Removed after the test.
 */
import { execFileSync } from 'node:child_process'
import type { KitContext } from './index.js'
import { addBridgedHost, netnsUnavailable, type Host } from './netns.js'

export interface NatNetwork {
  /** Hosts on the public bridge. */
  publicHosts: Host[]
  /** One host per LAN, each behind its own masquerading router. */
  lanHosts: Host[]
  /** The routers' public addresses, in LAN order. */
  routerIps: string[]
}

function run (cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] })
}
const ip = (...args: string[]): void => { run('ip', args) }

/** Why this network cannot be built here, or null when it can. */
export function natUnavailable (): string | null {
  const ns = netnsUnavailable()
  if (ns !== null) return ns
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' })
  } catch {
    return 'nftables (`nft`) is not installed (.ci/run installs it)'
  }
  return null
}

/** The masquerade and the stateful filter of a home router: out yes, in only replies. */
function routerRules (lan: string, wan: string): string {
  return `
table ip sovnat {
  chain postrouting { type nat hook postrouting priority 100; oifname "${wan}" masquerade; }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "${lan}" oifname "${wan}" accept
  }
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "${wan}" ct state new drop
  }
}
`
}

export function createNatNetwork (ctx: KitContext, publicCount: number, lanCount: number): NatNetwork {
  const tag = String(process.pid % 10_000)
  const bridge = `sovpb${tag}`
  const subnet = `198.18.${(process.pid % 250) + 1}`
  ip('link', 'add', bridge, 'type', 'bridge')
  ctx.defer(() => { try { ip('link', 'del', bridge) } catch {} })
  ip('link', 'set', bridge, 'up')
  let next = 2
  /** A namespace with one veth on the public bridge; returns its host record. */
  const onBridge = (name: string): Host => {
    const ns = `sov${tag}${name}`
    const inside = `pub${tag}${name}`.slice(0, 15)
    const link = `pb${tag}${name}`.slice(0, 15)
    const addr = `${subnet}.${next++}`
    addBridgedHost(ctx, bridge, ns, inside, link, addr)
    return { ns, ip: addr, link: inside }
  }
  const publicHosts = Array.from({ length: publicCount }, (_, i) => onBridge(`p${i}`))
  const lanHosts: Host[] = []
  const routerIps: string[] = []
  for (let i = 0; i < lanCount; i++) {
    const router = onBridge(`r${i}`)
    routerIps.push(router.ip)
    const ns = `sov${tag}l${i}`
    const inside = `lan${tag}h${i}`
    const gw = `lan${tag}g${i}`
    ip('netns', 'add', ns)
    ctx.defer(() => { try { ip('netns', 'del', ns) } catch {} })
    ip('link', 'add', inside, 'type', 'veth', 'peer', 'name', gw)
    ip('link', 'set', inside, 'netns', ns)
    ip('link', 'set', gw, 'netns', router.ns)
    const net = `10.${i + 1}.0`
    ip('-n', router.ns, 'addr', 'add', `${net}.1/24`, 'dev', gw)
    ip('-n', router.ns, 'link', 'set', gw, 'up')
    ip('-n', ns, 'addr', 'add', `${net}.2/24`, 'dev', inside)
    ip('-n', ns, 'link', 'set', inside, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'route', 'add', 'default', 'via', `${net}.1`)
    run('ip', ['netns', 'exec', router.ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    run('ip', ['netns', 'exec', router.ns, 'nft', '-f', '-'], routerRules(gw, router.link))
    lanHosts.push({ ns, ip: `${net}.2`, link: inside })
  }
  return { publicHosts, lanHosts, routerIps }
}
