/**
 * Invites: one pasteable line (`sov1…`) that carries a swarm key, bootstrap multiaddrs, the
 * mesh fingerprint and an expiry, sealed with a passphrase: Argon2id (libsodium `crypto_pwhash`)
 * derives the key of an XChaCha20-Poly1305 AEAD. The KDF parameters travel in the clear header
 * (authenticated as associated data) so they can be raised later without a format change.
 *
 * Wire form: "sov1" + base64url(header ‖ ciphertext), header = version (1 byte, 1) ‖ opslimit
 * (u32 BE) ‖ memlimit in KiB (u32 BE) ‖ salt (16) ‖ nonce (24); plaintext = JSON
 * `{"v":1,"key":"<base64>","fp":"<hex>","bootstrap":[…],"exp":<unix s>}`.
 */
import sodium from 'sodium-native'
import { conflict, inviteInvalid, badRequest } from '../protocol/index.js'
import { memberAddrProblem } from '../protocol/addr/index.js'
import { SWARM_KEY_BYTES, swarmKeyFingerprint } from './swarm-key.js'

export const INVITE_PREFIX = 'sov1'
const VERSION = 1
const SALT_BYTES = 16
const NONCE_BYTES = 24
const HEADER_BYTES = 1 + 4 + 4 + SALT_BYTES + NONCE_BYTES
/** Argon2id cost by default: libsodium's "moderate" (3 passes over 256 MiB, ~0.6 s here). */
export const INVITE_OPSLIMIT = 3
export const INVITE_MEMLIMIT_BYTES = 256 * 2 ** 20
/** Largest cost an invite may ask of the machine opening it (a crafted invite must not exhaust it). */
const MAX_OPSLIMIT = 10
const MAX_MEMLIMIT_BYTES = 1024 * 2 ** 20
/** Shortest passphrase accepted for sealing. */
export const MIN_PASSPHRASE_CHARS = 12
/** Longest invite line accepted (a few dozen bootstrap addresses fit easily). */
const MAX_INVITE_CHARS = 16 * 1024

export interface InvitePayload {
  key: Uint8Array
  bootstrap: string[]
  /** Unix seconds after which the invite is refused. */
  expires: number
  /** The mesh fingerprint (Kubo's), so a person can compare it before joining. */
  fingerprint: string
}

export interface SealOptions { opslimit?: number, memlimitBytes?: number }

/** Refuses passphrases an offline guesser would find quickly. Returns the reason, or null. */
export function weakPassphraseReason (passphrase: string): string | null {
  const chars = [...passphrase]
  if (chars.length < MIN_PASSPHRASE_CHARS) return `it has ${chars.length} characters; use at least ${MIN_PASSPHRASE_CHARS} (a few random words work well)`
  if (new Set(chars).size < 6) return 'it repeats too few distinct characters'
  if (/^\d+$/.test(passphrase)) return 'it is only digits'
  if (/password|passphrase|qwerty|123456|sovereign|letmein/i.test(passphrase)) return 'it contains a common word or sequence'
  return null
}

async function deriveKey (passphrase: string, salt: Buffer, opslimit: number, memlimit: number): Promise<Buffer> {
  const key = sodium.sodium_malloc(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
  await new Promise<void>((resolve, reject) => {
    sodium.crypto_pwhash_async(key, Buffer.from(passphrase.normalize('NFC'), 'utf8'), salt, opslimit, memlimit,
      sodium.crypto_pwhash_ALG_ARGON2ID13, (err: Error | null) => { if (err != null) reject(err); else resolve() })
  })
  return key
}

/** Seals an invite. Throws `BAD_REQUEST` for a weak passphrase. */
export async function sealInvite (payload: InvitePayload, passphrase: string, opts: SealOptions = {}): Promise<string> {
  const weak = weakPassphraseReason(passphrase)
  if (weak !== null) throw badRequest(`Cannot seal the invite: the passphrase is too weak: ${weak}`)
  if (payload.key.length !== SWARM_KEY_BYTES) throw badRequest(`Cannot seal the invite: the swarm key has ${payload.key.length} bytes`)
  for (const addr of payload.bootstrap) {
    const problem = memberAddrProblem(addr)
    if (problem !== undefined) throw badRequest(`Cannot seal the invite: bootstrap address "${addr}" ${problem}`)
  }
  const opslimit = opts.opslimit ?? INVITE_OPSLIMIT
  const memlimit = opts.memlimitBytes ?? INVITE_MEMLIMIT_BYTES
  const header = Buffer.alloc(HEADER_BYTES)
  header[0] = VERSION
  header.writeUInt32BE(opslimit, 1)
  header.writeUInt32BE(Math.floor(memlimit / 1024), 5)
  const salt = header.subarray(9, 9 + SALT_BYTES)
  const nonce = header.subarray(9 + SALT_BYTES)
  sodium.randombytes_buf(salt)
  sodium.randombytes_buf(nonce)
  const plain = Buffer.from(JSON.stringify({
    v: VERSION, key: Buffer.from(payload.key).toString('base64'), fp: payload.fingerprint, bootstrap: payload.bootstrap, exp: payload.expires
  }))
  const key = await deriveKey(passphrase, salt, opslimit, memlimit)
  const cipher = Buffer.alloc(plain.length + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, plain, header, null, nonce, key)
  sodium.sodium_memzero(plain)
  return INVITE_PREFIX + Buffer.concat([header, cipher]).toString('base64url')
}

/**
 * Opens an invite. `INVITE_INVALID` for a malformed, altered, wrongly-unlocked or expired
 * invite (an AEAD cannot tell a wrong passphrase from an altered invite, and says so).
 */
export async function openInvite (invite: string, passphrase: string, nowS = Math.floor(Date.now() / 1000)): Promise<InvitePayload> {
  const text = invite.trim()
  if (text.length > MAX_INVITE_CHARS) throw inviteInvalid(`Cannot open the invite: it is ${text.length} characters long (at most ${MAX_INVITE_CHARS})`)
  if (!text.startsWith(INVITE_PREFIX)) throw inviteInvalid(`Cannot open the invite: it does not start with "${INVITE_PREFIX}"`)
  const body = text.slice(INVITE_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw inviteInvalid('Cannot open the invite: it has characters outside base64url (was it cut or wrapped?)')
  const raw = Buffer.from(body, 'base64url')
  if (raw.length < HEADER_BYTES + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES) throw inviteInvalid('Cannot open the invite: it is too short (was it cut?)')
  if (raw[0] !== VERSION) throw inviteInvalid(`Cannot open the invite: version ${raw[0]} is not supported (this node reads version ${VERSION})`)
  const header = raw.subarray(0, HEADER_BYTES)
  const opslimit = header.readUInt32BE(1)
  const memlimit = header.readUInt32BE(5) * 1024
  if (opslimit < 1 || opslimit > MAX_OPSLIMIT || memlimit < 8192 || memlimit > MAX_MEMLIMIT_BYTES) {
    throw inviteInvalid(`Cannot open the invite: its key-derivation cost (ops ${opslimit}, ${memlimit / 2 ** 20} MiB) is outside what this node accepts`)
  }
  const salt = header.subarray(9, 9 + SALT_BYTES)
  const nonce = header.subarray(9 + SALT_BYTES)
  const cipher = raw.subarray(HEADER_BYTES)
  const key = await deriveKey(passphrase, salt, opslimit, memlimit)
  const plain = Buffer.alloc(cipher.length - sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES)
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, cipher, header, nonce, key)
  } catch {
    throw inviteInvalid('Cannot open the invite: wrong passphrase, or the invite was altered')
  }
  let data: { v?: unknown, key?: unknown, fp?: unknown, bootstrap?: unknown, exp?: unknown }
  try {
    data = JSON.parse(plain.toString('utf8'))
  } catch (cause) {
    throw inviteInvalid('Cannot open the invite: its sealed content is not JSON', { cause })
  } finally {
    sodium.sodium_memzero(plain)
  }
  const swarmKey = typeof data === 'object' && data !== null && typeof data.key === 'string' ? Buffer.from(data.key, 'base64') : Buffer.alloc(0)
  // Exactly the members `sealInvite` writes, each well formed (helper finding, stop 30: an inner
  // version 7, extra members and an `exp` of 1e400, which never expires, were taken).
  if (swarmKey.length !== SWARM_KEY_BYTES || !Number.isSafeInteger(data.exp) || !Array.isArray(data.bootstrap) ||
      !data.bootstrap.every(a => typeof a === 'string') || typeof data.fp !== 'string') {
    throw inviteInvalid('Cannot open the invite: its sealed content lacks a valid key, bootstrap list, fingerprint or expiry')
  }
  if (data.v !== VERSION || Object.keys(data).sort().join() !== 'bootstrap,exp,fp,key,v') {
    throw inviteInvalid(`Cannot open the invite: its sealed content is not version ${VERSION} as this node writes it (members ${Object.keys(data).sort().join(', ')})`)
  }
  for (const addr of data.bootstrap as string[]) {
    const problem = memberAddrProblem(addr)
    if (problem !== undefined) throw inviteInvalid(`Cannot open the invite: bootstrap address ${JSON.stringify(addr.slice(0, 80))} ${problem}; ask for a new invite`)
  }
  if (swarmKeyFingerprint(swarmKey) !== data.fp) throw inviteInvalid('Cannot open the invite: the key does not match the fingerprint it carries')
  const exp = data.exp as number
  if (nowS >= exp) throw inviteInvalid(`Cannot open the invite: it expired at ${new Date(exp * 1000).toISOString()}; ask for a new one`)
  return { key: new Uint8Array(swarmKey), bootstrap: data.bootstrap as string[], expires: exp, fingerprint: data.fp }
}

/** Refuses an invite for another mesh than the key this home already holds. */
export function assertSameMesh (existing: Uint8Array | undefined, invited: InvitePayload): void {
  if (existing === undefined) return
  if (Buffer.compare(Buffer.from(existing), Buffer.from(invited.key)) !== 0) {
    throw conflict(`Cannot join: this home already belongs to mesh ${swarmKeyFingerprint(existing)}, and the invite is for mesh ${invited.fingerprint}; use another --home, or move swarm.key away first`)
  }
}
