/**
 * Bearer secrets for the IPC socket: the operator token (`operator.token`, full authority) and
 * agent tokens (scoped; backed by capability grants with `aud: agent:NAME`). Only SHA-256 hashes
 * of agent tokens are stored; comparisons are constant-time.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { badRequest, conflict, notFound } from '../../protocol/index.js'
import { readJsonFile, writeFileAtomic } from '../files/index.js'

const TOKEN_BYTES = 32
/** What every agent token starts with. */
export const AGENT_TOKEN_PREFIX = 'sova_'
const AGENT_PREFIX = AGENT_TOKEN_PREFIX

export function newOperatorToken (path: string): string {
  const token = randomBytes(TOKEN_BYTES).toString('hex')
  writeFileAtomic(path, token + '\n', 0o600)
  return token
}

/** Shortest operator token accepted, in characters (`sov init` writes 64 hex digits). */
export const MIN_OPERATOR_TOKEN_CHARS = 32

/**
 * Reads `operator.token`. An unreadable, empty, whitespace-only or short file throws
 * `BAD_REQUEST` naming the file and its length, never its content: a daemon that started on one
 * would take `""` (or a guessable string) as the operator (issue 10 §2).
 */
export function readOperatorToken (path: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw badRequest(`Cannot read operator token "${path}": ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}; fix its owner and mode (0600), or delete it and run \`sov init\` to write a new one`, { cause })
  }
  const token = text.trim()
  if (token.length < MIN_OPERATOR_TOKEN_CHARS) {
    const what = token.length === 0 ? (text.length === 0 ? 'it is empty' : 'it holds only whitespace') : `it holds ${token.length} characters, fewer than the ${MIN_OPERATOR_TOKEN_CHARS} a token needs`
    throw badRequest(`Cannot use operator token "${path}": ${what}; delete it and run \`sov init\` to write a new one`)
  }
  return token
}

function sha256 (text: string): Buffer {
  // One-shot `hash` (no Hash object): this runs on every IPC request (issue 15).
  return hash('sha256', text, 'buffer')
}

/**
 * The SHA-256 of a secret (32 bytes), to compare with `digestEquals` in constant time (hashed
 * first, so lengths never leak). A long-lived secret is hashed once, and each request hashes only
 * the token it presents (issue 15: two hashes per IPC request were 2 % of a sending daemon's CPU).
 */
export function secretDigest (secret: string): Buffer {
  return sha256(secret)
}

/** Constant-time equality of two `secretDigest`s. */
export function digestEquals (a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b)
}

/** A fresh agent token (`sova_` + 64 hex); the secret is shown to the operator once. */
export function newAgentToken (): string {
  return AGENT_PREFIX + randomBytes(TOKEN_BYTES).toString('hex')
}

/**
 * A token as `agent-token list` shows it: its kind (`sova_…` for agent tokens), never any
 * character of the secret (a 6-character prefix gave away 4 bits of an agent token and 24 of
 * an operator token an attacker had nearly guessed).
 */
export function tokenHint (token: string): string {
  return token.startsWith(AGENT_PREFIX) ? `${AGENT_PREFIX}…` : '…'
}

export interface AgentRecord {
  name: string
  hash: string
  scopes: string[]
  /** Unix seconds, or null for no expiry. */
  expires: number | null
  created: number
  /** Capability grant ids issued for this agent's scopes. */
  grants: string[]
  prefix: string
}

/** Agent tokens by name, persisted in `agents.json` (0600). */
export class AgentTokens {
  private readonly path: string
  private readonly byName = new Map<string, AgentRecord>()
  private readonly byHash = new Map<string, AgentRecord>()

  constructor (path: string) {
    this.path = path
    if (existsSync(path)) {
      // A file that cannot be read back is refused, never taken as "no agents" and rewritten.
      const data = readJsonFile(path, 'agent tokens', { agents: [] as AgentRecord[] },
        x => Array.isArray(x?.agents) && x.agents.every((r: any) => typeof r?.name === 'string' && /^[0-9a-f]{64}$/.test(r?.hash)))
      for (const rec of data.agents) this.index(rec)
    }
  }

  list (): AgentRecord[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name))
  }

  get (name: string): AgentRecord | undefined {
    return this.byName.get(name)
  }

  /** Creates a token for `name`; the secret is returned once and only its hash is kept. */
  issue (name: string, scopes: string[], expires: number | null, grants: string[], token = newAgentToken()): { token: string, record: AgentRecord } {
    if (this.byName.has(name)) throw conflict(`Cannot issue agent token "${name}": it exists (revoke it first)`)
    if (scopes.length === 0) throw badRequest('Cannot issue agent token: at least one --scope is required')
    const record: AgentRecord = {
      name, scopes, expires, grants, created: Math.floor(Date.now() / 1000),
      hash: sha256(token).toString('hex'), prefix: tokenHint(token)
    }
    // Saved before it is indexed: a record the file refused never authenticates, nor blocks the name.
    this.save([...this.byName.values(), record])
    this.index(record)
    return { token, record }
  }

  revoke (name: string): AgentRecord {
    const rec = this.byName.get(name)
    if (rec === undefined) throw notFound(`Cannot revoke agent token "${name}": no such agent`)
    this.save([...this.byName.values()].filter(r => r !== rec))
    this.byName.delete(name)
    this.byHash.delete(rec.hash)
    return rec
  }

  /** The agent a token belongs to, if it is known and not expired; `digest` is its `secretDigest` when the caller has it. */
  authenticate (token: string, digest?: Buffer, nowS = Date.now() / 1000): AgentRecord | undefined {
    if (!token.startsWith(AGENT_PREFIX)) return undefined
    const hash = digest ?? sha256(token)
    const rec = this.byHash.get(hash.toString('hex'))
    if (rec === undefined || !timingSafeEqual(hash, Buffer.from(rec.hash, 'hex'))) return undefined
    if (rec.expires !== null && nowS >= rec.expires) return undefined
    return rec
  }

  private index (rec: AgentRecord): void {
    this.byName.set(rec.name, rec)
    this.byHash.set(rec.hash, rec)
  }

  private save (records: AgentRecord[]): void {
    writeFileAtomic(this.path, JSON.stringify({ agents: records.sort((a, b) => a.name.localeCompare(b.name)) }, null, 2) + '\n', 0o600)
  }
}

/** Splits a scope `CMD[:mailbox]` into its command and mailbox (`*` when none is given). */
export function parseScope (scope: string): { cmd: string, mailbox: string } {
  const i = scope.indexOf(':')
  return i < 0 ? { cmd: scope, mailbox: '*' } : { cmd: scope.slice(0, i), mailbox: scope.slice(i + 1) }
}
