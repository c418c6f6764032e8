/** `sov swarm-key generate|inspect`: offline tools; they print a key only to stdout on request. */
import { existsSync, readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { badRequest, conflict, swarmKeyInvalid } from '../../protocol/index.js'
import { emit, type GlobalOptions } from '../output.js'

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
      const { key, encoding } = mesh.parseSwarmKey(bytes)
      emit(g, { encoding, fingerprint: mesh.swarmKeyFingerprint(key) }, r => `Encoding:    ${r.encoding}\nFingerprint: ${r.fingerprint}`)
    })
}
