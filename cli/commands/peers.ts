/** `sov peers [list] | connect MULTIADDR | ping PEER | revoke PEER`. */
import type { Command } from 'commander'
import type { PeerInfo } from '../../protocol/index.js'
import { emit, type GlobalOptions } from '../output.js'
import { withDaemon } from '../ipc-client.js'

export function registerPeersCommands (program: Command): void {
  const peers = program.command('peers').description('list, connect, ping and revoke peers')
  const list = async (_o: unknown, cmd: Command): Promise<void> => {
    const g = cmd.optsWithGlobals<GlobalOptions>()
    const r = await withDaemon(g.home, async c => await c.request('peers.list', {})) as PeerInfo[]
    emit(g, r, r => r.length === 0 ? 'No known peers' : r.map(describePeer).join('\n'))
  }
  peers.action(list)
  peers.command('list').description('known peers: ● connected, ○ not, ✗ revoked').action(list)
  peers.command('connect').argument('<multiaddr>').description('dial a peer by address')
    .action(async (addr: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('peers.connect', { addr }))
      emit(g, r, r => `Connected to ${r.peerId}`)
    })
  peers.command('ping').argument('<peer>', 'PeerId or multiaddr').description('measure the round trip to a peer')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('peers.ping', { peer }))
      emit(g, r, r => `${r.peer}: ${r.rttMs} ms`)
    })
  peers.command('revoke').argument('<peer>', 'PeerId').description('refuse a peer from now on (persisted) and drop it')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('peers.revoke', { peer }))
      emit(g, r, r => `Revoked ${r.peer}${r.alreadyRevoked ? ' (it was already revoked)' : ''}`)
    })
  peers.command('unrevoke').argument('<peer>', 'PeerId').description('allow a revoked peer again (audited)')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('peers.unrevoke', { peer }))
      emit(g, r, r => r.wasRevoked === true ? `Allowed ${String(r.peer)} again` : `${String(r.peer)} was not revoked`)
    })
}

/** One line per peer; a connected one says how it is reached (direct, or relayed via whom). */
function describePeer (p: PeerInfo): string {
  if (p.revoked === true) return `✗ ${p.peerId}  REVOKED  ${p.addrs.join(' ')}`
  const c = p.connection
  if (c === undefined) return `${p.connected ? '●' : '○'} ${p.peerId}  ${p.addrs.join(' ')}`
  const how = c.type === 'relayed' ? `relayed via ${c.via ?? '?'}` : 'direct'
  const rtt = c.rttMs === null ? '' : `  ${c.rttMs} ms`
  return `● ${p.peerId}  ${how}  ${c.addr}${rtt}  in ${c.bytesIn} B  out ${c.bytesOut} B  since ${c.since}`
}
