/** `sov swarm-key generate|inspect`: offline tools; they print a key only to stdout on request. */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { SovError, badRequest, conflict, swarmKeyInvalid, type StatusResult } from '../../protocol/index.js'
import { durationFlag, emit, type GlobalOptions } from '../output.js'
import { homeDir, withDaemon } from '../ipc-client.js'
import { readPassphrase } from '../passphrase.js'

const ENCODINGS = ['base16', 'base64', 'bin']

export function registerSwarmKeyCommands (program: Command): void {
  const sk = program.command('swarm-key').description('make and inspect swarm keys (Kubo format)')
  sk.command('generate')
    .description('a new random swarm key; to stdout unless --out is given')
    .option('--encoding <encoding>', 'base16 | base64 | bin', 'base16')
    .option('--out <file>', 'write the key to this file (mode 0600)')
    .option('--force', 'overwrite --out if it exists')
    .action(async (o: { encoding: string, out?: string, force?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      if (!ENCODINGS.includes(o.encoding)) throw badRequest(`Cannot generate: unknown --encoding "${o.encoding}"; use base16, base64 or bin`)
      const mesh = await import('../../mesh/index.js')
      const key = mesh.generateSwarmKey()
      const file = mesh.formatSwarmKey(key, o.encoding as 'base16')
      const fingerprint = mesh.swarmKeyFingerprint(key)
      if (o.out === undefined) {
        if (g.json === true) throw badRequest('Cannot generate: --json needs --out (the key itself is never part of JSON output)')
        process.stdout.write(file)
        return
      }
      if (existsSync(o.out) && o.force !== true) throw conflict(`Cannot write "${o.out}": it exists; add --force to overwrite it`)
      mesh.writeSecretFile(o.out, file)
      emit(g, { path: o.out, encoding: o.encoding, fingerprint }, r => `Wrote a new swarm key to ${r.path} (mode 0600)\nFingerprint: ${r.fingerprint}`)
    })
  registerInviteCommand(sk)
  sk.command('inspect').argument('<file>')
    .description('the encoding and Kubo fingerprint of a key file; never the key')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      let bytes: Buffer
      try {
        bytes = readFileSync(file)
      } catch (cause) {
        throw swarmKeyInvalid(`Cannot read swarm key "${file}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause })
      }
      const mesh = await import('../../mesh/index.js')
      let parsed: ReturnType<typeof mesh.parseSwarmKey>
      try {
        parsed = mesh.parseSwarmKey(bytes)
      } catch (err) {
        // Name the file, as `sov init --swarm-key` does (helper finding, stop 29).
        if (err instanceof SovError) err.message = `"${file}": ${err.message}`
        throw err
      }
      const { key, encoding } = parsed
      emit(g, { encoding, fingerprint: mesh.swarmKeyFingerprint(key) }, r => `Encoding:    ${r.encoding}\nFingerprint: ${r.fingerprint}`)
    })
}

/** Invites are for one day unless asked otherwise. */
const INVITE_DEFAULT_EXPIRES = '24h'

function registerInviteCommand (sk: Command): void {
  sk.command('invite')
    .description('one sealed line to paste on another machine: swarm key + this node as bootstrap')
    .option('--expires <duration>', 'how long the invite works, e.g. 2h, 7d', INVITE_DEFAULT_EXPIRES)
    .option('--passphrase-file <file>', 'read the passphrase from the first line of this file (default: ask)')
    .action(async (o: { expires: string, passphraseFile?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const home = homeDir(g.home)
      const expiresMs = durationFlag('--expires', o.expires, { min: 60_000, max: 30 * 86_400_000 })
      const mesh = await import('../../mesh/index.js')
      let keyBytes: Buffer
      try {
        keyBytes = readFileSync(join(home, 'swarm.key'))
      } catch (cause) {
        throw swarmKeyInvalid(`Cannot read "${join(home, 'swarm.key')}": run \`sov init\` or \`sov node start\` first`, { cause })
      }
      const { key } = mesh.parseSwarmKey(keyBytes)
      const bootstrap = await reachableAddrs(g.home, home, mesh.readPeerId)
      const passphrase = await readPassphrase(o.passphraseFile, true)
      const expires = Math.floor((Date.now() + expiresMs) / 1000)
      const fingerprint = mesh.swarmKeyFingerprint(key)
      const invite = await mesh.sealInvite({ key, bootstrap, expires, fingerprint }, passphrase)
      // Shared now: `sov join` must no longer replace this key (see node/init.ts).
      rmSync(join(home, 'swarm.key.unshared'), { force: true })
      const loopbackOnly = bootstrap.every(a => /^\/ip4\/127\.|^\/ip6\/::1\//.test(a))
      emit(g, { invite, fingerprint, bootstrap, expires: new Date(expires * 1000).toISOString(), loopbackOnly }, r => [
        r.invite,
        '',
        `Mesh fingerprint: ${r.fingerprint}; bootstrap: ${r.bootstrap.join(', ')}; expires ${r.expires}.`,
        'On the other machine: `sov join <invite>` with the same passphrase (send the passphrase another way).',
        r.loopbackOnly ? 'Note: these addresses are loopback only; other machines cannot reach them. Listen on a LAN address (e.g. --listen /ip4/0.0.0.0/tcp/4001) to invite other machines.' : ''
      ].filter(Boolean).join('\n'))
    })
}

/** This node's dialable addresses (with /p2p/): from the running daemon, else from config. */
async function reachableAddrs (homeOpt: string | undefined, home: string, readPeerId: (path: string) => string): Promise<string[]> {
  let addrs: string[]
  let peerId: string
  try {
    const s = await withDaemon(homeOpt, async c => await c.request('status', {})) as StatusResult
    addrs = s.addrs
    peerId = s.peerId
  } catch {
    peerId = readPeerId(join(home, 'identity', 'node.key'))
    let listen: string[] = []
    try { listen = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).listen ?? [] } catch {}
    addrs = listen.filter(a => !/\/tcp\/0(\/|$)/.test(a) && !/^\/ip4\/0\.0\.0\.0\/|^\/ip6\/::\//.test(a))
  }
  const out = addrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)
  if (out.length === 0) throw badRequest('Cannot make an invite: no dialable address is known; start the node (`sov node start`) so its listen addresses are known')
  return out
}
