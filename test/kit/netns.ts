/**
 * Test hosts in network namespaces: N namespaces, each with one veth into a bridge in the root
 * namespace, addresses from 198.18.0.0/15 (RFC 2544's range for test networks) and no route
 * anywhere else. Needs root and iproute2; `netnsUnavailable()` says why when they are missing, so
 * a test can skip loudly instead of passing silently. Everything is removed after the test.
 */
import { execFileSync } from 'node:child_process'
import type { KitContext } from './index.js'

export interface Host {
  /** Namespace name, for `ip netns exec`. */
  ns: string
  /** This host's address on the test network. */
  ip: string
  /** The bridge-side end of its veth: setting it down cuts the host off. */
  link: string
}

export interface TestNetwork {
  hosts: Host[]
  /** Cuts a host off the network (its link goes down); `restore` brings it back. */
  cut: (host: Host) => void
  restore: (host: Host) => void
}

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable (): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'iproute2 (`ip`) is not installed'
  }
  const probe = `sovprobe${process.pid}`
  try {
    ip('netns', 'add', probe)
    ip('netns', 'del', probe)
  } catch (err) {
    return `cannot create a network namespace: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`
  }
  return null
}

/**
 * Namespace `ns` (removed after the test) with a veth pair: `inside` in the namespace holding
 * `addr`/24, up with its loopback; `link` in the root namespace, enslaved to `bridge` and up.
 */
export function addBridgedHost (ctx: KitContext, bridge: string, ns: string, inside: string, link: string, addr: string): void {
  ip('netns', 'add', ns)
  ctx.defer(() => { try { ip('netns', 'del', ns) } catch {} })
  ip('link', 'add', inside, 'type', 'veth', 'peer', 'name', link)
  ip('link', 'set', inside, 'netns', ns)
  ip('link', 'set', link, 'master', bridge)
  ip('link', 'set', link, 'up')
  ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', inside)
  ip('-n', ns, 'link', 'set', inside, 'up')
  ip('-n', ns, 'link', 'set', 'lo', 'up')
}

export function createTestNetwork (ctx: KitContext, count: number): TestNetwork {
  const tag = String(process.pid % 100_000)
  const bridge = `sovbr${tag}`
  const subnet = `198.18.${(process.pid % 250) + 1}`
  ip('link', 'add', bridge, 'type', 'bridge')
  ctx.defer(() => { try { ip('link', 'del', bridge) } catch {} })
  ip('link', 'set', bridge, 'up')
  const hosts: Host[] = []
  for (let i = 0; i < count; i++) {
    const ns = `sov${tag}h${i}`
    const inside = `sv${tag}h${i}`
    const link = `sv${tag}b${i}`
    const addr = `${subnet}.${i + 2}`
    addBridgedHost(ctx, bridge, ns, inside, link, addr)
    hosts.push({ ns, ip: addr, link })
  }
  return {
    hosts,
    cut: host => { ip('link', 'set', host.link, 'down') },
    restore: host => { ip('link', 'set', host.link, 'up') }
  }
}
