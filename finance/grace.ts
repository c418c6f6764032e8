// A verdict that survives an outage (issue 13), as a wallet keeps its last verified state:
// while a check reaches no verdict for want of answers — every server unreachable, a configured
// server unreachable so that too few report the tip (`unreachable`), or the check stopped before
// asking any server, e.g. an unreadable `electrumCa` (`unchecked`) — a licence last verified
// `valid` for the same payment stays `valid`, marked `stale`, for `graceS` after that
// verification. Any answer that is evidence — `invalid`, `pending`, a refusal, reachable servers
// disagreeing — is taken at once.
import type { LicenceReport } from './licence.js'

/** Applies the grace to a fresh report given the previous one (null when none). Pure. */
export function withGrace (previous: LicenceReport | null, fresh: LicenceReport, graceS: number, now = Date.now()): LicenceReport {
  if (fresh.status === 'valid') return { ...fresh, stale: false, lastVerifiedAt: fresh.checkedAt }
  const lastVerifiedAt = previous?.status === 'valid' ? (previous.lastVerifiedAt ?? previous.checkedAt) : undefined
  if ((fresh.unreachable !== true && fresh.unchecked !== true) || previous == null || lastVerifiedAt === undefined || !samePayment(previous, fresh)) return fresh
  const until = Date.parse(lastVerifiedAt) + graceS * 1000
  if (!(now <= until)) return { ...fresh, lastVerifiedAt }
  // The last verified verdict, with this check's time, servers and reason.
  const { error: _none, unreachable: _was, unchecked: _too, ...kept } = previous
  return {
    ...kept,
    stale: true,
    lastVerifiedAt,
    graceUntil: new Date(until).toISOString(),
    checkedAt: fresh.checkedAt,
    servers: fresh.servers,
    attempts: fresh.attempts,
    headersFetched: fresh.headersFetched,
    ...(fresh.unreachable === true ? { unreachable: true } : {}),
    ...(fresh.unchecked === true ? { unchecked: true } : {}),
    ...(fresh.error !== undefined ? { error: fresh.error } : {})
  }
}

/** Whether two verdicts are about the same payment for the same machine (terms a verdict without them leaves empty are not compared). */
function samePayment (a: LicenceReport, b: LicenceReport): boolean {
  const same = (x: string, y: string): boolean => x === '' || y === '' || x.toLowerCase() === y.toLowerCase()
  return a.txid.toLowerCase() === b.txid.toLowerCase() && same(a.machineIdHash, b.machineIdHash) && same(a.vendorAddress, b.vendorAddress) && a.network === b.network
}
