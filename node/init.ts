/**
 * `sov init`: makes a home usable — identity, swarm key, operator token, config — keeping
 * whatever already exists. Secrets are written 0600 inside a 0700 home.
 */
import { existsSync, readFileSync } from 'node:fs'
import { SovError, conflict, swarmKeyInvalid } from '../protocol/index.js'
import { DEFAULT_LISTEN, parseConfig, updateConfig } from './config.js'
import { homePaths } from './home.js'
import { ensureDir, explainFsError, writeFileAtomic } from './files/index.js'

/** Beside `swarm.key` while the key was generated here and never shared by invite. */
export const UNSHARED_SUFFIX = '.unshared'

export interface InitOptions {
  home?: string
  /** A swarm key file to copy in; without it a new key is generated when the home has none. */
  swarmKeyFile?: string
  /** The swarm key itself (from an invite); takes the place of `swarmKeyFile`. */
  swarmKey?: Uint8Array
  listen?: string[]
  bootstrap?: string[]
}

export interface InitResult {
  home: string
  peerId: string
  fingerprint: string
  created: { swarmKey: boolean, identity: boolean, operatorToken: boolean, config: boolean }
}

export async function initHome (opts: InitOptions = {}): Promise<InitResult> {
  try {
    return await init(opts)
  } catch (err) {
    // A read-only, full or foreign-owned home, said with the file and the fix (issue 10 §4).
    throw explainFsError(err, 'init the home')
  }
}

async function init (opts: InitOptions): Promise<InitResult> {
  // Loaded here, not at the top: `node/index.ts` (and so `sov config`) must not load the mesh.
  const [{ formatSwarmKey, generateSwarmKey, loadOrCreateIdentity, parseSwarmKey, swarmKeyFingerprint }, { newOperatorToken }, { peerIdFromPrivateKey }] =
    await Promise.all([import('../mesh/index.js'), import('./caps/index.js'), import('@libp2p/peer-id')])
  const paths = homePaths(opts.home)
  // Every input is checked before anything is created: a refused init leaves no home behind.
  const given = opts.swarmKey ?? (opts.swarmKeyFile !== undefined ? readKeyFile(opts.swarmKeyFile, parseSwarmKey) : undefined)
  parseConfig({ listen: opts.listen ?? DEFAULT_LISTEN, bootstrap: opts.bootstrap ?? [] }, paths.config, 'init')
  ensureDir(paths.root)
  ensureDir(paths.identityDir)
  const created = { swarmKey: false, identity: false, operatorToken: false, config: false }

  if (given !== undefined) {
    if (existsSync(paths.swarmKey)) {
      const { key: current } = parseSwarmKey(readFileSync(paths.swarmKey))
      if (Buffer.compare(Buffer.from(current), Buffer.from(given)) !== 0) {
        throw conflict(`Cannot init: "${paths.swarmKey}" holds another swarm key (fingerprint ${swarmKeyFingerprint(current)}); move it away first`)
      }
    } else {
      writeFileAtomic(paths.swarmKey, formatSwarmKey(given), 0o600)
      created.swarmKey = true
    }
  } else if (!existsSync(paths.swarmKey)) {
    writeFileAtomic(paths.swarmKey, formatSwarmKey(generateSwarmKey()), 0o600)
    // Marks a key nobody else has yet: `sov join` may replace it (init then join, issue 14);
    // `sov swarm-key invite` removes the mark.
    writeFileAtomic(`${paths.swarmKey}${UNSHARED_SUFFIX}`, '', 0o600)
    created.swarmKey = true
  }

  created.identity = !existsSync(paths.nodeKey)
  const privateKey = await loadOrCreateIdentity(paths.nodeKey)

  if (!existsSync(paths.operatorToken)) {
    newOperatorToken(paths.operatorToken)
    created.operatorToken = true
  }

  created.config = !existsSync(paths.config)
  if (created.config || opts.listen?.length || opts.bootstrap?.length) {
    updateConfig(paths.config, raw => {
      if (opts.listen !== undefined && opts.listen.length > 0) raw.listen = opts.listen
      else raw.listen ??= DEFAULT_LISTEN
      raw.bootstrap = [...new Set([...(raw.bootstrap ?? []), ...(opts.bootstrap ?? [])])]
    })
  }

  const { key } = parseSwarmKey(readFileSync(paths.swarmKey))
  return {
    home: paths.root,
    peerId: peerIdFromPrivateKey(privateKey).toString(),
    fingerprint: swarmKeyFingerprint(key),
    created
  }
}

function readKeyFile (path: string, parseSwarmKey: (bytes: Uint8Array) => { key: Uint8Array }): Uint8Array {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (cause) {
    throw swarmKeyInvalid(`Cannot read swarm key "${path}": ${(cause as Error).message}`, { cause })
  }
  try {
    return parseSwarmKey(bytes).key
  } catch (err) {
    // Name the file: the parser only knows the bytes.
    if (err instanceof SovError) err.message = `"${path}": ${err.message}`
    throw err
  }
}
