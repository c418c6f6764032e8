/**
 * The node's stable identity: an Ed25519 key in `identity/node.key` (libp2p protobuf, 0600).
 * The PeerId is derived from it, so it survives restarts.
 */
import { existsSync, readFileSync } from 'node:fs'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { badRequest } from '../protocol/index.js'
import { writeSecretFile } from './secret-file.js'

/** Loads the key at `path`, or creates a new Ed25519 key there (mode 0600) when none exists. */
export async function loadOrCreateIdentity (path: string): Promise<PrivateKey> {
  if (existsSync(path)) {
    try {
      return privateKeyFromProtobuf(readFileSync(path))
    } catch (cause) {
      throw badRequest(`Cannot read node key "${path}": not a libp2p private key`, { cause })
    }
  }
  const key = await generateKeyPair('Ed25519')
  writeSecretFile(path, privateKeyToProtobuf(key))
  return key
}

/** The PeerId of the key at `path`, without creating one. */
export function readPeerId (path: string): string {
  try {
    return peerIdFromPrivateKey(privateKeyFromProtobuf(readFileSync(path))).toString()
  } catch (cause) {
    throw badRequest(`Cannot read node key "${path}": run \`sov init\` first`, { cause })
  }
}
