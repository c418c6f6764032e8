/**
 * Refusals of remote peers, aggregated before they reach the audit log (issue 10 §3): a peer
 * that is refused again and again must not be able to grow the log, or the disk, faster than a
 * small fixed rate. Local refusals (IPC and A2A endpoint) use a second instance keyed by their
 * reason (an agent token wrote 8 MB/s of IPC_FORBIDDEN rows, helper finding stop 25). Per window, the first refusal of a (peer, type) key is written at once, in
 * full; later ones only count, and one row with their `count` closes the window. Keys beyond
 * `maxKeys` in one window (many fresh PeerIds) share the key `peer:*`.
 *
 * At most `2 × (maxKeys + 1)` rows per window: with the defaults, ≤ 3.4 rows/s in all, whatever
 * remote peers do. The aggregate row of a window is written when the window ends; a crash in
 * between loses that count, never the first row.
 */
import type { AuditEvent } from './row.js'

/** Length of an aggregation window. @default 10 s */
export const REFUSAL_WINDOW_MS = 10_000
/** Distinct (peer, type) keys per window before the rest share `peer:*`. @default 16 */
export const REFUSAL_MAX_KEYS = 16

export interface RefusalAuditOptions {
  /** Writes one row durably; rejects when it cannot. */
  write: (event: AuditEvent) => Promise<void>
  /** @default REFUSAL_WINDOW_MS */
  windowMs?: number
  /** @default REFUSAL_MAX_KEYS */
  maxKeys?: number
  /** The key a refusal is counted under. @default actor and type (a peer's refusals) */
  keyOf?: (event: AuditEvent) => string
  /**
   * Where a refusal goes once a window has `maxKeys` keys. @default the key `peer:*` and type,
   * the actor moved into `detail.peer` (fresh PeerIds are free to make)
   */
  overflowOf?: (event: AuditEvent) => { key: string, event: AuditEvent }
}

interface Entry { first: AuditEvent, more: number, reasons: Set<string> }

/** Reasons kept per aggregate row, so a varied attack is still visible in the row. */
const SAMPLE_REASONS = 4

export class RefusalAudit {
  private readonly opts: Required<RefusalAuditOptions>
  private window = new Map<string, Entry>()
  private timer?: NodeJS.Timeout
  private windowStart = 0

  constructor (opts: RefusalAuditOptions) {
    this.opts = {
      windowMs: REFUSAL_WINDOW_MS,
      maxKeys: REFUSAL_MAX_KEYS,
      keyOf: e => `${e.actor}\0${e.type}`,
      overflowOf: e => ({ key: `peer:*\0${e.type}`, event: { ...e, actor: 'peer:*', detail: { ...e.detail, peer: e.actor } } }),
      ...opts
    }
  }

  /**
   * Records one refusal. Resolves once the row is on disk when this refusal opens its key's
   * window; at once otherwise (it is counted for the window's closing row).
   */
  async record (event: AuditEvent): Promise<void> {
    let key = this.opts.keyOf(event)
    if (!this.window.has(key) && this.window.size >= this.opts.maxKeys) ({ key, event } = this.opts.overflowOf(event))
    const e = this.window.get(key)
    if (e !== undefined) {
      e.more++
      if (e.reasons.size < SAMPLE_REASONS) e.reasons.add(String(event.detail.reason ?? ''))
      return
    }
    this.window.set(key, { first: event, more: 0, reasons: new Set() })
    if (this.timer === undefined) {
      this.windowStart = Date.now()
      this.timer = setTimeout(() => { void this.flush() }, this.opts.windowMs)
      this.timer.unref()
    }
    await this.opts.write({ ...event, detail: { ...event.detail, count: 1 } })
  }

  /** Closes the window: one row per key refused more than once in it. Call before the log closes. */
  async flush (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    const entries = [...this.window.values()]
    const windowS = Math.max(1, Math.round((Date.now() - this.windowStart) / 1000))
    this.window = new Map()
    for (const e of entries) {
      if (e.more === 0) continue
      const detail = { ...e.first.detail, count: e.more, windowS, aggregated: true, reasons: [...e.reasons] }
      await this.opts.write({ ...e.first, detail }).catch(err => {
        console.error(`audit: cannot record ${e.more} aggregated ${e.first.type} rows:`, (err as Error).message)
      })
    }
  }
}
