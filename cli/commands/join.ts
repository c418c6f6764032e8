/** `sov join INVITE`: opens an invite and makes this home a member of that mesh. */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { emit, type GlobalOptions } from '../output.js'
import { homeDir, withDaemon } from '../ipc-client.js'
import { readPassphrase } from '../passphrase.js'

export function registerJoinCommand (program: Command): void {
  program.command('join').argument('<invite>', 'the sov1… line from `sov swarm-key invite`')
    .description('join a mesh: writes swarm.key (0600) and the bootstrap peers; connects if the node runs')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file (default: ask)')
    .action(async (invite: string, o: { passphraseFile?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const home = homeDir(g.home)
      const passphrase = await readPassphrase(o.passphraseFile, false)
      const mesh = await import('../../mesh/index.js')
      const opened = await mesh.openInvite(invite, passphrase)
      const keyPath = join(home, 'swarm.key')
      // Every check comes before the first write: a refused invite leaves the home untouched.
      mesh.assertSameMesh(existsSync(keyPath) ? mesh.parseSwarmKey(readFileSync(keyPath)).key : undefined, opened)
      const { initHome } = await import('../../node/index.js')
      const init = await initHome({ home, swarmKey: opened.key, bootstrap: opened.bootstrap })
      const connected: string[] = []
      const failed: Array<{ addr: string, error: string }> = []
      let running = true
      try {
        await withDaemon(g.home, async c => {
          for (const addr of opened.bootstrap) {
            try {
              const r = await c.request('peers.connect', { addr })
              connected.push(r.peerId)
            } catch (err) {
              failed.push({ addr, error: (err as Error).message })
            }
          }
        })
      } catch {
        running = false
      }
      emit(g, { home, peerId: init.peerId, fingerprint: opened.fingerprint, bootstrap: opened.bootstrap, daemonRunning: running, connected, failed }, r => [
        `Joined mesh ${r.fingerprint} in ${r.home} (this node: ${r.peerId})`,
        `Bootstrap peers: ${r.bootstrap.join(', ')}`,
        r.daemonRunning
          ? (r.connected.length > 0 ? `Connected to ${[...new Set(r.connected)].join(', ')}` : `Could not connect yet: ${r.failed.map(f => f.error).join('; ')}`)
          : 'Start the node with `sov node start`; it dials the bootstrap peers.'
      ].join('\n'))
    })
}
