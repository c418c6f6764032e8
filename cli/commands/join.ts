/** `sov join INVITE`: opens an invite and makes this home a member of that mesh. */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { conflict } from '../../protocol/index.js'
import { emit, type GlobalOptions } from '../output.js'
import { homeDir, withDaemon } from '../ipc-client.js'
import { readPassphrase } from '../passphrase.js'

export function registerJoinCommand (program: Command): void {
  program.command('join').argument('<invite>', 'the sov1… line from `sov swarm-key invite`')
    .description('join a mesh: writes swarm.key (0600) and the bootstrap peers; connects if the node runs')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file (default: ask)')
    .option('--listen <multiaddr>', 'listen address (repeatable), as for `sov init`', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (invite: string, o: { passphraseFile?: string, listen?: string[] }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const home = homeDir(g.home)
      const passphrase = await readPassphrase(o.passphraseFile, false)
      const mesh = await import('../../mesh/index.js')
      const opened = await mesh.openInvite(invite, passphrase)
      const keyPath = join(home, 'swarm.key')
      const { initHome, UNSHARED_SUFFIX } = await import('../../node/index.js')
      // Every check comes before the first write: a refused invite leaves the home untouched.
      const current = existsSync(keyPath) ? mesh.parseSwarmKey(readFileSync(keyPath)).key : undefined
      let replaced: string | undefined
      if (current !== undefined && Buffer.compare(Buffer.from(current), Buffer.from(opened.key)) !== 0 && existsSync(keyPath + UNSHARED_SUFFIX)) {
        // init then join (issue 14): the key `init` generated was never shared; keep it aside.
        const running = await withDaemon(g.home, async c => await c.request('status', {})).then(() => true, () => false)
        if (running) throw conflict(`Cannot join: the daemon runs with this home's own swarm key; stop it (\`sov node stop\`), join, then start it again`)
        replaced = `${keyPath}.replaced-${mesh.swarmKeyFingerprint(current)}`
        renameSync(keyPath, replaced)
        rmSync(keyPath + UNSHARED_SUFFIX, { force: true })
      } else {
        mesh.assertSameMesh(current, opened)
      }
      const init = await initHome({ home, swarmKey: opened.key, bootstrap: opened.bootstrap, listen: o.listen })
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
      emit(g, { home, peerId: init.peerId, fingerprint: opened.fingerprint, bootstrap: opened.bootstrap, daemonRunning: running, connected, failed, ...(replaced !== undefined ? { replacedKey: replaced } : {}) }, r => [
        `Joined mesh ${r.fingerprint} in ${r.home} (this node: ${r.peerId})`,
        ...(r.replacedKey !== undefined ? [`The swarm key \`sov init\` made here was never shared; it is kept at ${r.replacedKey}`] : []),
        `Bootstrap peers: ${r.bootstrap.join(', ')}`,
        r.daemonRunning
          ? (r.connected.length > 0 ? `Connected to ${[...new Set(r.connected)].join(', ')}` : `Could not connect yet: ${r.failed.map(f => f.error).join('; ')}`)
          : 'Start the node with `sov node start`; it dials the bootstrap peers.'
      ].join('\n'))
    })
}
