/**
 * The daemon's licence watcher (the supervisor's `finance` part): verifies the licence in the
 * background at start and every `licence.recheckS`, keeps the last verdict in `licence.json`
 * (0600) and reports it to `status` and `licence.status`. A slow or failing check never blocks
 * the daemon; a check already running is shared, not repeated.
 */
import { setMaxListeners } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { toSovError } from '../protocol/index.js'
import { dirname, join } from 'node:path'
import type { LicenceReport } from '../finance/index.js'
import { LICENCE_GRACE_S, type Config } from './config.js'
import type { AuditEvent } from './audit/index.js'
import { writeFileAtomic } from './files/index.js'

/** The verified header linkage kept in the home beside `licence.json` (0600). */
export const LINK_STATE_FILE = 'licence-headers.json'

export type LicenceState = LicenceReport['status'] | 'unconfigured' | 'unknown'

/** What `status` shows: the verdict's status, when and which transaction. */
export interface LicenceSummary {
  status: LicenceState
  checkedAt: string | null
  txid: string | null
  /** True while a check runs. */
  checking: boolean
  /** A `valid` kept through an outage (issue 13), and when it was last verified. */
  stale?: boolean
  lastVerifiedAt?: string
  /** Why there is no verdict (unconfigured), or why the last check reached none (its error). */
  detail?: string
}

export interface LicenceWatcherOptions {
  config: Config
  /** `licence.json` in the home. */
  path: string
  audit: (event: AuditEvent, durable?: boolean) => Promise<void>
  log?: (line: string) => void
}

export class LicenceWatcher {
  private readonly opts: LicenceWatcherOptions
  private last: LicenceReport | null = null
  private problem: { status: LicenceState, detail: string } | null = null
  private running: Promise<LicenceReport | null> | null = null
  private timer?: NodeJS.Timeout
  private abort = new AbortController()
  private stopped = true
  private readonly linkPath: string

  constructor (opts: LicenceWatcherOptions) {
    this.opts = opts
    this.linkPath = join(dirname(opts.path), LINK_STATE_FILE)
  }

  /** Loads the previous verdict and starts checking in the background. */
  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.abort = new AbortController()
    // Each Electrum request of a check listens on it, across all servers: not a leak.
    setMaxListeners(0, this.abort.signal)
    this.last = readVerdict(this.opts.path)
    if (this.opts.config.licence === undefined) {
      this.problem = { status: 'unconfigured', detail: 'no "licence" section in config.json' }
      return
    }
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.abort.abort()
    await this.running?.catch(() => {})
  }

  summary (): LicenceSummary {
    const checking = this.running !== null
    // A problem is newer than any verdict kept: it is cleared by the next verdict (helper
    // finding: the old `valid` was shown over a section that no longer names a payment).
    if (this.problem !== null) return { status: this.problem.status, checkedAt: null, txid: null, checking, detail: this.problem.detail }
    if (this.last !== null) {
      const l = this.last
      return { status: l.status, checkedAt: l.checkedAt, txid: l.txid, checking, stale: l.stale === true, lastVerifiedAt: l.lastVerifiedAt, ...(l.error !== undefined ? { detail: l.error.message } : {}) }
    }
    return { status: 'unknown', checkedAt: null, txid: null, checking }
  }

  /** The last verdict in full, or the summary when there is none. */
  verdict (): LicenceReport | LicenceSummary {
    return this.problem === null && this.last !== null ? this.last : this.summary()
  }

  /** Checks now (or joins the check already running) and returns its verdict. */
  async verifyNow (): Promise<LicenceReport | LicenceSummary> {
    if (this.opts.config.licence === undefined) return this.summary()
    this.running ??= this.check().finally(() => { this.running = null })
    return (await this.running) ?? this.summary()
  }

  private schedule (delayMs: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      void this.verifyNow().finally(() => { this.schedule((this.opts.config.licence?.recheckS ?? 3600) * 1000) })
    }, delayMs)
  }

  private async check (): Promise<LicenceReport | null> {
    const { config } = this.opts
    // Loaded on the first check: a node without a licence never carries the Bitcoin code
    // (about 20 MiB of an idle daemon's RSS; issue 16).
    const { missingLicenceKeys, readLinkState, resolveLicence, uncheckedReport, verifyLicence, withGrace, writeLinkState } = await import('../finance/index.js')
    // A section written key by key (`sov config set licence.txid …`) is not a failure: it names
    // no payment yet.
    const missing = missingLicenceKeys(config.licence ?? {})
    if (missing.length > 0) {
      this.problem = { status: 'unconfigured', detail: `the "licence" section in config.json has no ${missing.map(k => `"${k}"`).join(', ')}; set ${missing.length === 1 ? 'it' : 'each'} with \`sov config set licence.KEY VALUE\`` }
      return null
    }
    let report: LicenceReport
    try {
      const r = resolveLicence({}, { licence: config.licence, machineId: config.machineId })
      // The verified linkage kept from the last check (issue 13): only new headers are fetched,
      // and a height found once in the vendor's history is not searched for again.
      const linkState = readLinkState(this.linkPath)
      if (r.terms.height === undefined && linkState?.txid === r.terms.txid && linkState.network === r.terms.network) r.terms.height = linkState.height
      const { link, ...rest } = await verifyLicence(r.terms, r.servers, { ca: r.ca, signal: this.abort.signal, linkState })
      report = rest
      if (link !== undefined) writeLinkState(this.linkPath, link)
    } catch (err) {
      // Failed before any server was asked (an unreadable electrumCa, unusable terms, no machine
      // id): recorded and audited like any verdict, the grace applying as to an outage (helper
      // finding: it was kept aside while the old `valid` was shown, unchanged, forever).
      if (this.stopped) return null
      const e = toSovError(err)
      this.opts.log?.(`licence: ${e.message}`)
      report = uncheckedReport(config.licence ?? {}, e)
    }
    if (this.stopped) return report
    const previous = this.last
    report = withGrace(previous, report, config.licence?.graceS ?? LICENCE_GRACE_S)
    this.last = report
    this.problem = null
    writeFileAtomic(this.opts.path, JSON.stringify(report, null, 2) + '\n', 0o600)
    const outcome = report.status === 'valid' ? 'ok' : report.status === 'error' ? 'error' : 'denied'
    const stale = report.stale === true
    await this.opts.audit({ type: 'LICENCE_CHECKED', actor: 'node', outcome, detail: { status: report.status, stale, txid: report.txid, confirmations: report.confirmations } }, true)
    if (previous?.status !== report.status || (previous.stale === true) !== stale) {
      await this.opts.audit({ type: 'LICENCE_CHANGED', actor: 'node', outcome, detail: { from: previous === null ? null : { status: previous.status, stale: previous.stale === true }, to: { status: report.status, stale }, lastVerifiedAt: report.lastVerifiedAt ?? null } }, true)
    }
    this.opts.log?.(`licence: ${report.status}${stale ? ' (stale)' : ''} (${report.txid})`)
    return report
  }
}

function readVerdict (path: string): LicenceReport | null {
  if (!existsSync(path)) return null
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'))
    return typeof v?.status === 'string' && Array.isArray(v.checks) ? v as LicenceReport : null
  } catch {
    return null
  }
}
