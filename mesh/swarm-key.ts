/**
 * Swarm keys in Kubo's format (DESIGN §5): line 1 `/key/swarm/psk/1.0.0/`, line 2 an encoding
 * (`/base16/`, `/base64/`, `/bin/`), then the 32-byte key in that encoding. LF or CRLF, trailing
 * whitespace and a trailing newline are accepted, as go-libp2p does; anything else is refused
 * with `SWARM_KEY_INVALID` naming the line and the problem — never the key bytes.
 */
import { createHash, randomBytes } from 'node:crypto'
import sodium from 'sodium-native'
import { swarmKeyInvalid } from '../protocol/index.js'

export const SWARM_KEY_BYTES = 32
export const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/'
export const SWARM_KEY_ENCODINGS = ['base16', 'base64', 'bin'] as const
export type SwarmKeyEncoding = typeof SWARM_KEY_ENCODINGS[number]

export interface SwarmKey {
  key: Uint8Array
  encoding: SwarmKeyEncoding
}

const fail = (problem: string): never => { throw swarmKeyInvalid(`Cannot parse swarm key: ${problem}`) }

/** Reads one header line (up to LF), without its line ending; returns it and the rest. */
function takeLine (bytes: Buffer, lineNo: number): { line: string, rest: Buffer } {
  const nl = bytes.indexOf(0x0a)
  if (nl < 0) fail(`line ${lineNo} is missing or not terminated by a newline`)
  const line = bytes.subarray(0, nl).toString('latin1').replace(/[\r\t ]+$/, '')
  return { line, rest: bytes.subarray(nl + 1) }
}

/**
 * A header line as an error may show it. Only a short line shaped like a header (`/base32/`,
 * `/key/swarm/psk/2.0.0/`, `base16`) is quoted; any other line is described by its length and
 * its alphabet and never quoted, not even in part: it may hold the key (issue 10 §5 — a bare
 * `openssl rand -hex 32` file used to show 20 of its 32 bytes on stderr and in daemon.log).
 */
function shown (line: string): string {
  if (/^\/?[a-z][a-z0-9./]{0,23}$/i.test(line) && !/^[0-9a-f]{16,}$/i.test(line)) return JSON.stringify(line)
  const n = `${line.length} characters, not shown`
  if (/^[0-9a-fA-F]{64}$/.test(line)) return `a bare hex key (${n}); add the two header lines "${SWARM_KEY_HEADER}" and "/base16/" above it`
  if (/^[A-Za-z0-9+/]{43}=$/.test(line)) return `a bare base64 key (${n}); add the two header lines "${SWARM_KEY_HEADER}" and "/base64/" above it`
  if (/^[0-9a-fA-F]+$/.test(line)) return `hex digits (${n}): it looks like key material, not a header`
  return `not a header (${n}: it may hold key material)`
}

/** Parses a swarm key file's bytes. Throws `SWARM_KEY_INVALID` with the line and the problem. */
export function parseSwarmKey (input: Uint8Array | string): SwarmKey {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  if (bytes.length === 0) fail('the file is empty')
  const first = takeLine(bytes, 1)
  if (first.line !== SWARM_KEY_HEADER) fail(`line 1 is ${shown(first.line)}; expected "${SWARM_KEY_HEADER}"`)
  if (!first.rest.includes(0x0a) && first.rest.length > 0 && !/^\/(base16|base64|bin)\/[\r\t ]*$/.test(first.rest.toString('latin1'))) {
    // The header is there but the encoding line is not: the next line is the key itself.
    fail(`line 2 is ${shown(first.rest.toString('latin1').replace(/[\r\t ]+$/, ''))}; expected an encoding: "/base16/", "/base64/" or "/bin/"`)
  }
  const second = takeLine(first.rest, 2)
  const m = /^\/(base16|base64|bin)\/$/.exec(second.line)
  if (m === null) fail(`line 2 is ${shown(second.line)}; expected an encoding: "/base16/", "/base64/" or "/bin/"`)
  const encoding = m![1] as SwarmKeyEncoding
  return { key: decodeBody(second.rest, encoding), encoding }
}

function decodeBody (body: Buffer, encoding: SwarmKeyEncoding): Uint8Array {
  if (encoding === 'bin') {
    // Raw bytes may themselves contain whitespace: strip only one trailing line ending.
    let raw = body
    if (raw.length === SWARM_KEY_BYTES + 2 && raw[raw.length - 2] === 0x0d && raw[raw.length - 1] === 0x0a) raw = raw.subarray(0, SWARM_KEY_BYTES)
    else if (raw.length === SWARM_KEY_BYTES + 1 && raw[raw.length - 1] === 0x0a) raw = raw.subarray(0, SWARM_KEY_BYTES)
    if (raw.length !== SWARM_KEY_BYTES) fail(`line 3 holds ${raw.length} bytes under "/bin/"; the key must be exactly ${SWARM_KEY_BYTES} bytes`)
    return new Uint8Array(raw)
  }
  const text = body.toString('latin1').trim()
  if (text === '') fail(`line 3 is missing; expected the key in ${encoding}`)
  if (/\s/.test(text)) fail('line 3 is followed by more content; the key must be one line')
  if (encoding === 'base16') {
    if (!/^[0-9a-fA-F]*$/.test(text)) fail('line 3 is not base16: it has characters other than 0-9 a-f A-F')
    if (text.length !== SWARM_KEY_BYTES * 2) fail(`line 3 holds ${text.length / 2} bytes of base16; the key must be exactly ${SWARM_KEY_BYTES} bytes (64 hex digits)`)
    return new Uint8Array(Buffer.from(text, 'hex'))
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) fail('line 3 is not base64 (standard alphabet, padded)')
  const key = Buffer.from(text, 'base64')
  if (key.length !== SWARM_KEY_BYTES) {
    const hint = /^[0-9a-fA-F]{64}$/.test(text) ? ' (it looks like base16: use the "/base16/" header)' : ''
    fail(`line 3 holds ${key.length} bytes of base64; the key must be exactly ${SWARM_KEY_BYTES} bytes${hint}`)
  }
  return new Uint8Array(key)
}

/** Formats a key as a Kubo swarm key file. */
export function formatSwarmKey (key: Uint8Array, encoding: SwarmKeyEncoding = 'base16'): Uint8Array {
  if (key.length !== SWARM_KEY_BYTES) throw swarmKeyInvalid(`Cannot format swarm key: it has ${key.length} bytes, not ${SWARM_KEY_BYTES}`)
  const head = `${SWARM_KEY_HEADER}\n/${encoding}/\n`
  if (encoding === 'bin') return new Uint8Array(Buffer.concat([Buffer.from(head), key]))
  const body = Buffer.from(key).toString(encoding === 'base16' ? 'hex' : 'base64')
  return new Uint8Array(Buffer.from(`${head}${body}\n`))
}

/** 32 random bytes from the OS CSPRNG. */
export function generateSwarmKey (): Uint8Array {
  return new Uint8Array(randomBytes(SWARM_KEY_BYTES))
}

const FINGERPRINT_NONCE = Buffer.from('finprint')

/**
 * The fingerprint Kubo prints for a swarm key (core/node/libp2p/pnet.go `pnetFingerprint`): the
 * Salsa20 keystream for the 8-byte nonce "finprint" over 64 zero bytes, then SHAKE-128 to 16
 * bytes, hex. The key never reaches the hash directly.
 */
export function swarmKeyFingerprint (key: Uint8Array): string {
  if (key.length !== SWARM_KEY_BYTES) throw swarmKeyInvalid(`Cannot fingerprint swarm key: it has ${key.length} bytes, not ${SWARM_KEY_BYTES}`)
  const stream = Buffer.alloc(64)
  sodium.crypto_stream_salsa20(stream, FINGERPRINT_NONCE, Buffer.from(key))
  return createHash('shake128', { outputLength: 16 }).update(stream).digest('hex')
}
