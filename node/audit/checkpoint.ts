/**
 * Signed checkpoints (`audit/checkpoints.jsonl`): `{"seq","hash","ts","sig"}`, one a line, where
 * `sig` is the node's Ed25519 signature (base64url) over the JCS form of `{"hash","seq","ts"}`.
 * A checkpoint says "this node's log had row `seq` with hash `hash` at `ts`"; it lives in its own
 * file so that a log cut short or swapped for an older copy no longer reaches it (see
 * docs/protocols.md "Audit log" for the rule verification applies).
 */
import { jcs } from '../../protocol/index.js'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

export interface Checkpoint {
  seq: number
  hash: string
  ts: string
  sig: string
}

const HEX64 = /^[0-9a-f]{64}$/
const B64URL = /^[A-Za-z0-9_-]+$/
const KEYS = 'hash,seq,sig,ts'

function signedBytes (seq: number, hash: string, ts: string): Uint8Array {
  return Buffer.from(jcs({ hash, seq, ts }), 'utf8')
}

export async function signCheckpoint (key: PrivateKey, seq: number, hash: string, ts = new Date().toISOString()): Promise<Checkpoint> {
  const sig = await key.sign(signedBytes(seq, hash, ts))
  return { seq, hash, ts, sig: Buffer.from(sig).toString('base64url') }
}

/** The stored line (with `\n`): the JCS form of the checkpoint. */
export function checkpointLine (cp: Checkpoint): string {
  return jcs(cp) + '\n'
}

/** Parses and verifies one line of `checkpoints.jsonl`; returns the checkpoint or why not. */
export async function checkCheckpointLine (line: string, key: PublicKey): Promise<{ cp: Checkpoint } | { reason: string, seq?: number }> {
  let obj: any
  try {
    obj = JSON.parse(line)
  } catch {
    return { reason: 'the checkpoint line is not valid JSON' }
  }
  if (typeof obj !== 'object' || obj === null || Object.keys(obj).sort().join(',') !== KEYS) return { reason: `a checkpoint must have exactly ${KEYS}` }
  const { seq, hash, ts, sig } = obj
  if (!Number.isSafeInteger(seq) || seq < 1 || typeof hash !== 'string' || !HEX64.test(hash) ||
      typeof ts !== 'string' || typeof sig !== 'string' || !B64URL.test(sig)) {
    return { reason: 'the checkpoint has a malformed field', seq: Number.isSafeInteger(seq) ? seq : undefined }
  }
  const ok = await key.verify(signedBytes(seq, hash, ts), Buffer.from(sig, 'base64url'))
  if (!ok) return { reason: `the checkpoint at seq ${seq} has a bad signature`, seq }
  return { cp: { seq, hash, ts, sig } }
}
