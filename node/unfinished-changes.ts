/**
 * Privileged changes whose `ok` row reached the audit log but whose store did not: the node died
 * between the two steps of `recordedChange` (node/ipc/recorded-change.ts). Under load the rows run
 * ahead of the capability files (one group commit against one fdatasync per line), so a
 * `kill -9` left hundreds of grants live that the log said were revoked (helper finding, stop 25).
 *
 * At start, over the rows the audit log holds in memory:
 * - a revocation is carried out now (the log promised it, and a grant outliving its recorded
 *   revocation is the unsafe side), recorded as `CHANGE_RECOVERED`;
 * - a grant or agent token that was never stored gets a `CHANGE_FAILED` row (and the grants of a
 *   token that was never stored are revoked), so the log no longer claims it.
 * Each runs once: a later row about the same change means it was already dealt with.
 */
import { CHANGE_FAILED_TYPE, type AuditEvent, type AuditRow } from './audit/index.js'
import type { AgentTokens, Capabilities } from './caps/index.js'

/** The row written when a start carries out a change its row promised. */
export const CHANGE_RECOVERED_TYPE = 'CHANGE_RECOVERED'

const NOT_STORED = 'not stored: the node stopped between its audit row and its store'

export interface UnfinishedChangesInit {
  rows: AuditRow[]
  caps: Capabilities
  agents: AgentTokens
  /** Writes a durable row. */
  audit: (e: AuditEvent) => Promise<void>
}

/** Finishes or records every unfinished change among `rows`; returns how many rows it wrote. */
export async function settleUnfinishedChanges ({ rows, caps, agents, audit }: UnfinishedChangesInit): Promise<number> {
  // The last follow-up row of each change (failed at the time, or settled at an earlier start),
  // and the last issue or revoke row of each agent name.
  const followedAt = new Map<string, number>()
  const issuedLater = new Map<string, number>()
  for (const r of rows) {
    if (r.type === CHANGE_FAILED_TYPE || r.type === CHANGE_RECOVERED_TYPE) followedAt.set(keyOf(String(r.detail.change), r.detail), r.seq)
    if (r.type === 'AGENT_TOKEN_ISSUED' || r.type === 'AGENT_TOKEN_REVOKED') issuedLater.set(String(r.detail.agent), r.seq)
  }
  let written = 0
  const revokeAll = async (ids: string[]): Promise<string[]> => {
    const done: string[] = []
    for (const id of ids) {
      if (caps.get(id) === undefined || caps.isRevoked(id)) continue
      await caps.addRevocation((await caps.prepareRevocation(id)).rev)
      done.push(id)
    }
    return done
  }
  const note = async (type: string, r: AuditRow, extra: Record<string, unknown>): Promise<void> => {
    await audit({ type, actor: 'node', outcome: type === CHANGE_FAILED_TYPE ? 'error' : 'ok', detail: { ...pick(r.detail), change: r.type, seq: r.seq, ...extra } })
    written++
  }
  for (const r of rows) {
    if (r.outcome !== 'ok' || (followedAt.get(keyOf(r.type, r.detail)) ?? 0) > r.seq) continue
    if (r.type === 'CAP_REVOKED') {
      const done = await revokeAll([String(r.detail.id)])
      if (done.length > 0) await note(CHANGE_RECOVERED_TYPE, r, { revoked: done })
    } else if (r.type === 'AGENT_TOKEN_REVOKED') {
      const name = String(r.detail.agent)
      const done = await revokeAll(strings(r.detail.grants))
      // The record goes only if no later issue or revoke of the name followed (that one rules).
      const rec = agents.get(name)
      const removed = rec !== undefined && issuedLater.get(name) === r.seq
      if (removed) agents.revoke(name)
      if (done.length > 0 || removed) await note(CHANGE_RECOVERED_TYPE, r, { revoked: done, tokenRemoved: removed })
    } else if (r.type === 'CAP_GRANTED') {
      if (caps.get(String(r.detail.id)) === undefined) await note(CHANGE_FAILED_TYPE, r, { error: NOT_STORED })
    } else if (r.type === 'AGENT_TOKEN_ISSUED') {
      const name = String(r.detail.agent)
      if (agents.get(name) === undefined && issuedLater.get(name) === r.seq) {
        await note(CHANGE_FAILED_TYPE, r, { error: NOT_STORED, revoked: await revokeAll(strings(r.detail.grants)) })
      }
    }
  }
  return written
}

/** One change: its row type and subject (a grant id, or an agent name). */
function keyOf (change: string, detail: Record<string, unknown>): string {
  return `${change}:${String(detail.id ?? detail.agent ?? '')}`
}

/** The subject of a change, for the follow-up row. */
function pick (detail: Record<string, unknown>): Record<string, unknown> {
  return detail.id !== undefined ? { id: detail.id } : { agent: detail.agent }
}

function strings (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}
