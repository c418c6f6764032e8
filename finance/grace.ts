// A verdict that survives an outage (issue 13), as a wallet keeps its last verified state:
// while every server is unreachable, a licence last verified `valid` stays `valid`, marked
// `stale`, for `graceS` after that verification. Any answer that is evidence — `invalid`,
// `pending`, a refusal, servers disagreeing — is taken at once.
import type { LicenceReport } from './licence.js'

/** Applies the grace to a fresh report given the previous one (null when none). Pure. */
export function withGrace (previous: LicenceReport | null, fresh: LicenceReport, graceS: number, now = Date.now()): LicenceReport {
  if (fresh.status === 'valid') return { ...fresh, stale: false, lastVerifiedAt: fresh.checkedAt }
  const lastVerifiedAt = previous?.status === 'valid' ? (previous.lastVerifiedAt ?? previous.checkedAt) : undefined
  if (fresh.unreachable !== true || previous == null || lastVerifiedAt === undefined) return fresh
  const until = Date.parse(lastVerifiedAt) + graceS * 1000
  if (!(now <= until)) return { ...fresh, lastVerifiedAt }
  // The last verified verdict, with this check's time, servers and reason.
  const { error: _none, ...kept } = previous
  return {
    ...kept,
    stale: true,
    lastVerifiedAt,
    graceUntil: new Date(until).toISOString(),
    checkedAt: fresh.checkedAt,
    servers: fresh.servers,
    attempts: fresh.attempts,
    headersFetched: fresh.headersFetched,
    ...(fresh.error !== undefined ? { error: fresh.error } : {})
  }
}
