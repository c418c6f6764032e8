/**
 * The capability table: every grant this node signed (`capabilities/grants.jsonl`) and every
 * revocation (`capabilities/revoked.jsonl`), loaded once, indexed by audience and command, and
 * kept up to date as grants and revocations are written (appended and fdatasynced).
 *
 * Signatures are verified once at load and the verdict is cached per id, so `check()` — the one
 * authority check used by the IPC dispatcher, the mesh middleware and the A2A receiver — is a
 * couple of map look-ups: valid iff the signature verifies, `iss` is this node, now ∈ [nbf, exp)
 * and the id is not revoked. A line in either file that this node did not sign is not honoured.
 */
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FileHandle } from 'node:fs/promises'
import type { PrivateKey } from '@libp2p/interface'
import { SovError, notFound, unavailable } from '../../protocol/index.js'
import {
  nowSeconds, parseGrant, parseRevocation, signGrant, signRevocation, signatureVerdict,
  type Grant, type GrantRequest, type Revocation
} from './grant.js'
import { ensureDir, explainFsError, openRw, recoverTornTail, type TornTail } from '../files/index.js'

export interface CapQuery {
  /** PeerId or `agent:NAME`. */
  aud: string
  cmd: string
  /** The mailbox acted on; without it any grant of `cmd` to `aud` will do. */
  mailbox?: string
  /** Unix seconds. @default now */
  now?: number
}

export type CapCheck = { ok: true, id: string, grant: Grant } | { ok: false, reason: string }

export interface GrantInfo {
  id: string
  aud: string
  cmd: string
  with: string
  nbf: number
  exp: number | null
  revoked: boolean
  expired: boolean
}

/** A line of either file that is not honoured, reported once at load. */
export interface IgnoredLine { file: 'grants.jsonl' | 'revoked.jsonl', line: number, id?: string, reason: string }

export interface CapabilitiesOptions {
  /** The `capabilities/` directory (created 0700). */
  dir: string
  privateKey: PrivateKey
  /** This node's PeerId, the only issuer honoured. */
  peerId: string
}

interface Entry { id: string, grant: Grant, mailbox: string, verdict: string | null }

export class Capabilities {
  /** Lines not honoured at load, and torn tails moved aside (for the audit log). */
  readonly ignored: IgnoredLine[] = []
  readonly torn: Array<TornTail & { file: string }> = []
  private readonly byAud = new Map<string, Map<string, Entry[]>>()
  private readonly byId = new Map<string, Entry>()
  private readonly revoked = new Map<string, Revocation>()
  /** Grants being revoked: refused already, while their CAP_REVOKED row and tombstone are written. */
  private readonly revoking = new Map<string, number>()
  private readonly opts: CapabilitiesOptions
  private grantsFile!: FileHandle
  private revokedFile!: FileHandle
  private lock: Promise<unknown> = Promise.resolve()

  private constructor (opts: CapabilitiesOptions) {
    this.opts = opts
  }

  static async open (opts: CapabilitiesOptions): Promise<Capabilities> {
    const caps = new Capabilities(opts)
    ensureDir(opts.dir)
    caps.grantsFile = await caps.openFile('grants.jsonl')
    caps.revokedFile = await caps.openFile('revoked.jsonl')
    const key = opts.privateKey.publicKey
    const grantLines = (await readFile(join(opts.dir, 'grants.jsonl'), 'utf8')).split('\n')
    for (let i = 0; i < grantLines.length; i++) {
      if (grantLines[i] === '') continue
      const r = parseGrant(grantLines[i])
      if ('reason' in r) { caps.ignored.push({ file: 'grants.jsonl', line: i + 1, reason: r.reason }); continue }
      if (caps.byId.has(r.id)) continue
      const verdict = await signatureVerdict(r.grant, opts.peerId, key)
      if (verdict !== null) caps.ignored.push({ file: 'grants.jsonl', line: i + 1, id: r.id, reason: verdict })
      caps.index(r.id, r.grant, verdict)
    }
    const revLines = (await readFile(join(opts.dir, 'revoked.jsonl'), 'utf8')).split('\n')
    for (let i = 0; i < revLines.length; i++) {
      if (revLines[i] === '') continue
      const r = parseRevocation(revLines[i])
      const verdict = 'reason' in r ? r.reason : await signatureVerdict(r.rev, opts.peerId, key)
      if (verdict !== null) { caps.ignored.push({ file: 'revoked.jsonl', line: i + 1, id: 'rev' in r ? r.rev.id : undefined, reason: verdict }); continue }
      if ('rev' in r && !caps.revoked.has(r.rev.id)) caps.revoked.set(r.rev.id, r.rev)
    }
    return caps
  }

  /** The one authority check (module doc). Pure and synchronous: callers write the audit row. */
  check (q: CapQuery): CapCheck {
    const entries = this.byAud.get(q.aud)?.get(q.cmd)
    if (entries === undefined) return { ok: false, reason: `no grant of ${q.cmd} to ${q.aud}` }
    const now = q.now ?? Date.now() / 1000
    let reason: string | undefined
    for (const e of entries) {
      if (q.mailbox !== undefined && e.mailbox !== '*' && e.mailbox !== q.mailbox) continue
      const why = e.verdict ?? (this.revoked.has(e.id) || this.revoking.has(e.id)
        ? 'is revoked'
        : now < e.grant.nbf
          ? `is not valid before ${new Date(e.grant.nbf * 1000).toISOString()}`
          : e.grant.exp !== null && now >= e.grant.exp ? `expired at ${new Date(e.grant.exp * 1000).toISOString()}` : null)
      if (why === null) return { ok: true, id: e.id, grant: e.grant }
      // A signed grant's reason (revoked, expired, not yet valid) says more than a forged line's.
      if (reason === undefined || e.verdict === null) reason = `grant ${e.id.slice(0, 16)} ${e.verdict === null ? why : `is not honoured: ${why}`}`
    }
    return { ok: false, reason: reason ?? `no grant of ${q.cmd} to ${q.aud} covers mailbox "${q.mailbox}"` }
  }

  /** Signs a grant from this node without storing it (so the caller can audit it first). */
  async sign (req: Omit<GrantRequest, 'iss'>): Promise<{ id: string, grant: Grant }> {
    return await signGrant(this.opts.privateKey, { ...req, iss: this.opts.peerId })
  }

  /** Stores a grant this node signed: appended and fdatasynced before it is honoured. */
  async add (id: string, grant: Grant): Promise<void> {
    if (this.byId.has(id)) return
    await this.appendLine(this.grantsFile, join(this.opts.dir, 'grants.jsonl'), JSON.stringify(grant))
    this.index(id, grant, null)
  }

  /** Signs a tombstone for a grant of this node; NOT_FOUND for an id it never honoured. */
  async prepareRevocation (id: string): Promise<{ rev: Revocation, already: boolean }> {
    const e = this.byId.get(id)
    if (e === undefined || e.verdict !== null) throw notFound(`Cannot revoke grant "${id}": this node has no such grant`)
    const existing = this.revoked.get(id)
    if (existing !== undefined) return { rev: existing, already: true }
    return { rev: await signRevocation(this.opts.privateKey, this.opts.peerId, id), already: false }
  }

  /** Stores a tombstone: appended and fdatasynced, then the grant is refused from then on. */
  async addRevocation (rev: Revocation): Promise<void> {
    if (this.revoked.has(rev.id)) return
    await this.appendLine(this.revokedFile, join(this.opts.dir, 'revoked.jsonl'), JSON.stringify(rev))
    this.revoked.set(rev.id, rev)
  }

  /**
   * Refuses grants `ids` from now on, before their revocation is recorded: the audit log then shows
   * no acceptance under a grant after the row that revokes it (helper finding, stop 29: 320
   * acceptances followed CAP_REVOKED while it and the tombstone were written). Returns the undo,
   * for a revocation that could not be recorded (a recorded one stays refused by its tombstone).
   */
  holdRevocation (ids: string[]): () => void {
    for (const id of ids) this.revoking.set(id, (this.revoking.get(id) ?? 0) + 1)
    let held = true
    return () => {
      if (!held) return
      held = false
      for (const id of ids) {
        const n = (this.revoking.get(id) ?? 1) - 1
        if (n === 0) this.revoking.delete(id)
        else this.revoking.set(id, n)
      }
    }
  }

  get (id: string): Grant | undefined {
    const e = this.byId.get(id)
    return e === undefined || e.verdict !== null ? undefined : e.grant
  }

  isRevoked (id: string): boolean {
    return this.revoked.has(id)
  }

  /** Grants this node honours (signature and issuer good), oldest first. */
  list (now = nowSeconds()): GrantInfo[] {
    const out: GrantInfo[] = []
    for (const e of this.byId.values()) {
      if (e.verdict !== null) continue
      const g = e.grant
      out.push({ id: e.id, aud: g.aud, cmd: g.cmd, with: g.with, nbf: g.nbf, exp: g.exp, revoked: this.revoked.has(e.id), expired: g.exp !== null && now >= g.exp })
    }
    return out
  }

  get size (): number { return this.byId.size }

  async close (): Promise<void> {
    await this.serial(async () => {
      await this.grantsFile.close().catch(() => {})
      await this.revokedFile.close().catch(() => {})
    })
  }

  private index (id: string, grant: Grant, verdict: string | null): void {
    const entry: Entry = { id, grant, mailbox: grant.with.slice('mailbox:'.length), verdict }
    this.byId.set(id, entry)
    let byCmd = this.byAud.get(grant.aud)
    if (byCmd === undefined) this.byAud.set(grant.aud, byCmd = new Map())
    const list = byCmd.get(grant.cmd)
    if (list === undefined) byCmd.set(grant.cmd, [entry])
    else list.push(entry)
  }

  private async openFile (name: 'grants.jsonl' | 'revoked.jsonl'): Promise<FileHandle> {
    const path = join(this.opts.dir, name)
    const { fh, size } = await openRw(path)
    try {
      const rec = await recoverTornTail(path, fh, size)
      if (rec.torn !== undefined) this.torn.push({ ...rec.torn, file: name })
    } finally {
      await fh.close()
    }
    // O_APPEND: a line someone else appended meanwhile is kept (and judged at the next load).
    return await open(path, 'a', 0o600)
  }

  private async appendLine (fh: FileHandle, path: string, line: string): Promise<void> {
    await this.serial(async () => {
      const buf = Buffer.from(line + '\n', 'utf8')
      const { size } = await fh.stat()
      try {
        const { bytesWritten } = await fh.write(buf)
        if (bytesWritten !== buf.length) throw new Error(`short write (${bytesWritten} of ${buf.length} bytes)`)
        await fh.datasync()
      } catch (cause) {
        await fh.truncate(size).catch(() => {})
        // The machine's refusal (ENOSPC…) in words, naming the file; anything else as it came.
        const explained = explainFsError(Object.assign(cause as object, { path }), 'store the capability change')
        throw explained instanceof SovError ? explained : unavailable(`Cannot store the capability change in "${path}": ${(cause as Error).message}`, { cause })
      }
    })
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => {})
    return await run
  }
}
