/**
 * IPC handlers for capabilities, agent tokens (which are grants with `aud: agent:NAME`) and the
 * audit log, and the authority check the dispatcher runs for agent tokens.
 *
 * Ordering rule for every privileged change (recorded-change.ts): sign in memory → write the
 * audit row durably → store the change → answer. If the row cannot be written the change is
 * refused and nothing is stored (fail closed); if the store fails after it, a `CHANGE_FAILED` row
 * says so; a refusal is recorded before it is answered. Changes to one agent name or one grant
 * run one at a time.
 */
import { REQUEST_SCOPE, badRequest, conflict, fitList, forbidden, notFound, purgeCutoff, type RequestType } from '../../protocol/index.js'
import { newAgentToken, parseScope, tokenHint } from '../caps/index.js'
import { ACK_TYPE } from '../audit/index.js'
import type { CapsComponents } from './components.js'
import { actorOf, type Handler } from './handler.js'
import { KeyedQueue, recordedChange } from './recorded-change.js'

/** Rows `audit tail` returns without `-n`. */
const AUDIT_TAIL_DEFAULT_ROWS = 20

export function capsHandlers (d: CapsComponents): Partial<Record<RequestType, Handler>> {
  const serial = new KeyedQueue()
  /** Active grants to `agent:NAME`: the token's own and any `cap grant agent:NAME` added. */
  const agentGrants = (name: string): string[] => d.caps.list().filter(g => g.aud === `agent:${name}` && !g.revoked && !g.expired).map(g => g.id)
  return {
    'cap.grant': async ({ aud, cmd, mailbox, expiresS }, { principal }) => {
      const grant = async (): Promise<unknown> => {
        const { id, grant } = await d.caps.sign({ aud, cmd, mailbox, expiresS })
        await recordedChange(d.audit, { type: 'CAP_GRANTED', actor: actorOf(principal), outcome: 'ok', detail: { id, aud: grant.aud, cmd: grant.cmd, with: grant.with, nbf: grant.nbf, exp: grant.exp } },
          async () => { await d.caps.add(id, grant) })
        return { id, grant }
      }
      // A grant to an agent takes its turn with that name's issue and revoke: one racing an issue
      // was logged before the token yet escaped its sweep of leftover grants (helper finding).
      return (aud as string).startsWith('agent:') ? await serial.run(aud, grant) : await grant()
    },
    'cap.revoke': async ({ grantId }, { principal }) => {
      const id = resolveGrantId(d, grantId)
      return await serial.run(`grant:${id}`, async () => {
        const { rev, already } = await d.caps.prepareRevocation(id)
        if (!already) {
          const release = d.caps.holdRevocation([id])
          try {
            await recordedChange(d.audit, { type: 'CAP_REVOKED', actor: actorOf(principal), outcome: 'ok', detail: { id } },
              async () => { await d.caps.addRevocation(rev) })
          } finally {
            release()
          }
        }
        return { id, revoked: true, alreadyRevoked: already }
      })
    },
    'cap.list': async () => d.caps.list(),

    'agentToken.issue': async ({ name, scopes, expiresS }, { principal }) => await serial.run(`agent:${name}`, async () => {
      if (d.agents.get(name) !== undefined) throw conflict(`Cannot issue agent token "${name}": it exists (revoke it first)`)
      // Grants to this name left by no token (a `cap grant agent:NAME` before any token, or an
      // issue that failed half-way) are revoked first: a new token never inherits authority.
      const leftover = agentGrants(name)
      const revs = await Promise.all(leftover.map(async id => (await d.caps.prepareRevocation(id)).rev))
      const signed: Array<Awaited<ReturnType<typeof d.caps.sign>>> = []
      for (const scope of scopes as string[]) {
        const { cmd, mailbox } = parseScope(scope)
        signed.push(await d.caps.sign({ aud: `agent:${name}`, cmd, mailbox, expiresS }))
      }
      const token = newAgentToken()
      const grants = signed.map(s => s.id)
      const expires = signed[0].grant.exp
      const detail = { agent: name, scopes, expires, grants, ...(leftover.length > 0 ? { revoked: leftover } : {}) }
      await recordedChange(d.audit, { type: 'AGENT_TOKEN_ISSUED', actor: actorOf(principal), outcome: 'ok', detail }, async () => {
        for (const rev of revs) await d.caps.addRevocation(rev)
        for (const s of signed) await d.caps.add(s.id, s.grant)
        d.agents.issue(name, scopes, expires, grants, token)
      })
      return { name, token, scopes, expires, grants }
    }),
    'agentToken.list': async () => d.agents.list().map(r => ({ name: r.name, scopes: r.scopes, expires: r.expires, expired: r.expires !== null && r.expires * 1000 <= Date.now(), tokenPrefix: tokenHint(r.prefix) })),
    'agentToken.revoke': async ({ name }, { principal }) => await serial.run(`agent:${name}`, async () => {
      const rec = d.agents.get(name)
      if (rec === undefined) throw notFound(`Cannot revoke agent token "${name}": no such agent`)
      // Every grant to the name goes, not only the token's own: the next token of this name
      // starts with none.
      const grants = [...new Set([...rec.grants, ...agentGrants(name)])]
      const revs: Array<Awaited<ReturnType<typeof d.caps.prepareRevocation>>['rev']> = []
      for (const id of grants) {
        if (d.caps.get(id) !== undefined && !d.caps.isRevoked(id)) revs.push((await d.caps.prepareRevocation(id)).rev)
      }
      const release = d.caps.holdRevocation(revs.map(r => r.id))
      try {
        await recordedChange(d.audit, { type: 'AGENT_TOKEN_REVOKED', actor: actorOf(principal), outcome: 'ok', detail: { agent: name, grants } }, async () => {
          for (const rev of revs) await d.caps.addRevocation(rev)
          d.agents.revoke(name)
        })
      } finally {
        release()
      }
      d.endStaleSessions()
      return { name, revoked: true, grants }
    }),

    // Cut to one answer's bytes: the newest of a plain tail, the oldest of a page after a seq
    // (the CLI pages on from the last one it got).
    'audit.tail': async ({ n, afterSeq }) => fitList(await d.auditLog.tail(n ?? AUDIT_TAIL_DEFAULT_ROWS, afterSeq), afterSeq === undefined),
    'audit.verify': async () => {
      // A read: it appends no row (issue 14), so verifying twice gives the same head.
      return await d.auditLog.verify()
    },
    'audit.checkpoint': async () => await d.auditLog.checkpoint(),
    // Only the first break can be acknowledged, with a reason; the row is then sealed by a
    // signed checkpoint, which is what makes verify honour it (node/audit/verify.ts rule 6).
    'audit.acknowledge': async ({ seq, reason }, { principal }) => {
      const before = await d.auditLog.verify()
      if (before.ok) throw badRequest(`Cannot acknowledge seq ${seq}: the audit log verifies; there is no break to acknowledge`)
      if (before.firstBadSeq !== seq) throw badRequest(`Cannot acknowledge seq ${seq}: the first break is at seq ${String(before.firstBadSeq)} (${before.reason ?? ''}); acknowledge that one`)
      await d.audit({ type: ACK_TYPE, actor: actorOf(principal), outcome: 'ok', detail: { seq, reason, breakReason: before.reason ?? null } }, true)
      const checkpoint = await d.auditLog.checkpoint()
      const after = await d.auditLog.verify()
      return { acknowledged: seq, checkpoint: checkpoint.seq, verify: after }
    },
    'audit.purge': async ({ before }, { principal }) => {
      // The same rule as the CLI's: an IPC client (an agent with /cap/admin) must not get past it.
      return await d.auditLog.purge(purgeCutoff(before, `before "${before}"`), actorOf(principal))
    }
  }
}

/** A full grant id, or the one grant whose id starts with `prefix` (≥ 8 hex, as git takes). */
function resolveGrantId (d: CapsComponents, prefix: string): string {
  if (prefix.length === 64) return prefix
  const hits = d.caps.list().filter(g => g.id.startsWith(prefix))
  if (hits.length === 0) throw notFound(`Cannot revoke grant "${prefix}": no grant id starts with it; list them with \`sov cap list\``)
  if (hits.length > 1) throw badRequest(`Cannot revoke grant "${prefix}": ${hits.length} grant ids start with it; give more digits`)
  return hits[0].id
}

/**
 * An agent may make a request only if the shared capability check finds a grant to
 * `agent:NAME` of the command `REQUEST_SCOPE` declares for it (on the request's mailbox, if any).
 * Every refusal is an audit row with the reason, written before the refusal is answered; repeats
 * of one reason within a window are counted into one row (refusal-audit.ts).
 */
export async function authorizeAgent (d: CapsComponents, name: string, type: RequestType, params: any): Promise<void> {
  const need = REQUEST_SCOPE[type]
  if (need === '*') return
  const mailbox = typeof params?.mailbox === 'string' ? params.mailbox as string : undefined
  const r = need === null
    ? { ok: false as const, reason: `${type} is for the operator only` }
    : d.caps.check({ aud: `agent:${name}`, cmd: need, mailbox })
  if (r.ok) return
  await d.refusal({ type: 'IPC_FORBIDDEN', actor: `agent:${name}`, outcome: 'denied', detail: { request: type, cmd: need, mailbox: mailbox ?? null, reason: r.reason } })
    .catch(() => { /* refused either way */ })
  throw forbidden(`Cannot run ${type}: agent "${name}" is not allowed: ${r.reason}`)
}

