// What a devnet keeps across restarts, SIGKILL included (issue 14), in its directory:
// - `chain.json` (0600): the miner's private key (WIF), every block and the mempool (hex),
//   rewritten after every change, so a licence paid before a restart still verifies;
// - `ca.pem` (0644): the TLS certificate that nodes trust with `--electrum-ca`;
// - `setup.json` (0600): the TCP and TLS ports, the vendor's private keys (WIF, one per address
//   type) and the TLS private key (PEM). Written last when a devnet is made: it marks one that exists.
// Each file is replaced whole (temp file, fsync, rename), never left torn. A file that does not
// parse stops the start with its path and the way out (`sov devnet reset --yes`).
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { createPrivateKey } from 'node:crypto'
import { dirname, join } from 'node:path'
import { internal, type SovError } from '../../protocol/index.js'
import type { AddressType } from '../address.js'
import { CHAIN_PARAMS } from '../networks.js'
import { RegtestChain } from './chain.js'
import { ADDRESS_TYPES, ECPair } from './keys.js'

export const DEVNET_SETUP_FILE = 'setup.json'
export const DEVNET_CHAIN_FILE = 'chain.json'
export const DEVNET_CA_FILE = 'ca.pem'

export interface DevnetSetup {
  v: 1
  tcpPort: number
  sslPort: number
  /** The vendor's private keys, WIF, by address type. */
  vendors: Record<AddressType, string>
  /** The private key of the certificate in `ca.pem`, PEM. */
  tlsKey: string
}

/** The setup in `dir`, or null when no devnet was made there. */
export function readSetup (dir: string): DevnetSetup | null {
  const path = join(dir, DEVNET_SETUP_FILE)
  if (!existsSync(path)) return null
  let s: any
  try {
    s = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw damagedState(path, `it is not valid JSON (${(cause as Error).message})`, cause)
  }
  const port = (p: unknown): boolean => Number.isInteger(p) && (p as number) > 0 && (p as number) <= 65535
  if (s?.v !== 1 || !port(s.tcpPort) || !port(s.sslPort) || typeof s.tlsKey !== 'string' || typeof s.vendors !== 'object' || s.vendors === null) {
    throw damagedState(path, 'it is valid JSON but not a devnet setup (v, tcpPort, sslPort, vendors, tlsKey)')
  }
  for (const type of ADDRESS_TYPES) {
    try {
      ECPair.fromWIF(s.vendors[type], CHAIN_PARAMS.regtest.addresses)
    } catch (cause) {
      throw damagedState(path, `its vendor key "vendors.${type}" is not a regtest WIF key`, cause)
    }
  }
  try {
    createPrivateKey(s.tlsKey)
  } catch (cause) {
    throw damagedState(path, 'its "tlsKey" is not a PEM private key', cause)
  }
  return s as DevnetSetup
}

export function writeSetup (dir: string, setup: DevnetSetup): void {
  writeFileAtomic(join(dir, DEVNET_SETUP_FILE), JSON.stringify(setup, null, 2) + '\n', 0o600)
}

/** The chain saved in `dir` (which must be there once `setup.json` is). */
export function readChain (dir: string): RegtestChain {
  const path = join(dir, DEVNET_CHAIN_FILE)
  if (!existsSync(path)) throw damagedState(path, `it is missing although "${DEVNET_SETUP_FILE}" is there`)
  let s: any
  try {
    s = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw damagedState(path, `it is not valid JSON (${(cause as Error).message})`, cause)
  }
  const hexes = (a: unknown): boolean => Array.isArray(a) && a.every(h => typeof h === 'string')
  if (s?.v !== 1 || typeof s.miner !== 'string' || !hexes(s.blocks) || !hexes(s.mempool)) {
    throw damagedState(path, 'it is valid JSON but not a devnet chain (v, miner, blocks, mempool)')
  }
  try {
    return RegtestChain.restore(s)
  } catch (cause) {
    throw damagedState(path, `it does not hold a chain: ${(cause as Error).message}`, cause)
  }
}

export function writeChain (dir: string, chain: RegtestChain): void {
  writeFileAtomic(join(dir, DEVNET_CHAIN_FILE), JSON.stringify({ v: 1, ...chain.saved() }) + '\n', 0o600)
}

export function writeCertificate (dir: string, pem: string): void {
  writeFileAtomic(join(dir, DEVNET_CA_FILE), pem, 0o644)
}

/**
 * Forgets the devnet in `dir`: its chain, keys, certificate and ports. `setup.json` goes first,
 * so an interrupted reset leaves no half devnet behind. Returns the files removed.
 */
export function resetDevnet (dir: string): string[] {
  const removed: string[] = []
  for (const name of [DEVNET_SETUP_FILE, DEVNET_CHAIN_FILE, DEVNET_CA_FILE]) {
    const path = join(dir, name)
    if (!existsSync(path)) continue
    rmSync(path)
    removed.push(path)
  }
  return removed
}

export function damagedState (path: string, why: string, cause?: unknown): SovError {
  return internal(`Cannot read the devnet's state "${path}": ${why}; restore the file, or run \`sov devnet reset --yes\` ` +
    'for a new devnet (a new chain, vendor and ports: licences paid on the old chain no longer verify)', { cause })
}

// The same as node/files' writeFileAtomic: finance/ cannot import node/, which imports finance/.
function writeFileAtomic (path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    fchmodSync(fd, mode)
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  try {
    const dfd = openSync(dirname(path), 'r')
    try { fsyncSync(dfd) } finally { closeSync(dfd) }
  } catch { /* directories cannot be fsynced on every platform */ }
}
