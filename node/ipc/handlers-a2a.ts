/**
 * IPC handlers of `sov a2a …` (DESIGN §4 `--json` shapes). The dispatcher has already checked an
 * agent token's scope (`/a2a/post` to send, `/a2a/read` on the mailbox to receive/ack/nack).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { badRequest, fitList, type RequestType } from '../../protocol/index.js'
import type { InboxItem, OutboxItem } from '../../a2a/index.js'
import type { A2aComponents } from './components.js'
import type { Handler } from './handler.js'
import type { Principal } from './server.js'

/** Mailboxes `a2a.mailboxes` lists without a `limit`. */
export const MAILBOXES_DEFAULT_LIMIT = 1000

export function a2aHandlers (d: A2aComponents): Partial<Record<RequestType, Handler>> {
  return {
    'a2a.send': async ({ peer, mailbox, message, ttlMs }) => await d.a2a.send(peer, mailbox, message, ttlMs),
    // A lease whose reply is never written is given back: the consumer did not see it (issue 10).
    'a2a.receive': async ({ mailbox, leaseMs, max, waitMs }, { signal, onUnsent }) => {
      const items = await d.a2a.receive(mailbox, { leaseMs, max, waitMs }, { signal })
      onUnsent(() => { d.a2a.release(items) })
      return items.map(received)
    },
    'a2a.ack': async ({ mailbox, leases }) => d.a2a.ack(mailbox, leases),
    'a2a.nack': async ({ mailbox, leases }) => d.a2a.nack(mailbox, leases),
    'a2a.outbox': async ({ status, peer, limit, outboxId }) => {
      // A --peer that is no PeerId is a mistake to say, not an empty outbox.
      let to: string | undefined
      try { to = peer === undefined ? undefined : peerIdFromString(peer).toString() } catch (cause) {
        throw badRequest(`Cannot list the outbox for --peer "${String(peer).slice(0, 80)}": not a PeerId (as \`sov peers\` prints them)`, { cause })
      }
      const rows = d.a2a.outbox(status).filter(r => (to === undefined || r.to === to) && (outboxId === undefined || r.id === outboxId))
      return fitList(rows.slice(limit === undefined ? 0 : Math.max(0, rows.length - limit)).map(outboxRow), true)
    },
    // Oldest first, cut to one answer: a dead letter can be 1 MiB (`sov a2a dead` says what is left).
    'a2a.dead': async ({ mailbox, limit }) => fitList(d.a2a.dead(mailbox, limit)),
    // Redrive and purge change what consumers will see: audited, durably, before the answer.
    'a2a.redrive': async ({ mailbox, ids, all }) => {
      if ((ids === undefined) === (all !== true)) throw badRequest('Cannot redrive: give message ids or --all (not both)')
      // An id given twice is one message (it was redriven, then reported missing).
      const r = d.a2a.redrive(mailbox, all === true ? undefined : [...new Set<string>(ids)])
      // Only what changed is audited: a redrive that moved nothing wrote an "ok" row.
      if (r.redriven.length > 0) await d.audit({ type: 'A2A_REDRIVE', actor: 'operator', outcome: 'ok', detail: { mailbox, count: r.redriven.length, ids: r.redriven.slice(0, 100), missing: r.missing.length } }, true)
      return r
    },
    'a2a.purge': async ({ mailbox, which }) => {
      const r = d.a2a.purge(mailbox, which)
      // As redrive: a purge that removed nothing (a mailbox that does not exist) is no change.
      if (r.dead + r.ready > 0) await d.audit({ type: 'A2A_PURGE', actor: 'operator', outcome: 'ok', detail: { mailbox, which, ...r } }, true)
      return r
    },
    'a2a.retry': async ({ outboxId }) => d.a2a.retry(outboxId),
    // An agent sees only the mailboxes it may read.
    // By name, a page at a time: a peer granted mailbox:* can make any number of mailboxes.
    'a2a.mailboxes': async ({ mailbox, after, limit }, { principal }) => {
      const page = d.a2a.mailboxes().filter(m => (mailbox === undefined || m.mailbox === mailbox) && (after === undefined || m.mailbox > after) && mayRead(d, principal, m.mailbox))
      return fitList(page.slice(0, limit ?? MAILBOXES_DEFAULT_LIMIT))
    }
  }
}

/** `a2a receive --json` → `[{"id","from","mailbox","ts","deliveries","lease","message"}]` (+ leaseUntil). */
function received (m: InboxItem): Record<string, unknown> {
  return { id: m.id, from: m.from, mailbox: m.mailbox, ts: m.ts, deliveries: m.deliveries, lease: m.lease, leaseUntil: m.leaseUntil, message: m.message }
}

/** `a2a outbox --json` → `[{"id","to","mailbox","status","attempts","reason"?}]` (+ code, times). */
function outboxRow (r: OutboxItem & { lastError?: string }): Record<string, unknown> {
  return {
    id: r.id,
    to: r.to,
    mailbox: r.mailbox,
    status: r.status,
    attempts: r.attempts,
    ...(r.reason !== undefined ? { reason: r.reason, code: r.code } : {}),
    ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
    messageId: r.messageId,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ...(r.settledAt !== undefined ? { settledAt: r.settledAt } : {})
  }
}

function mayRead (d: A2aComponents, principal: Principal, mailbox: string): boolean {
  return principal.kind === 'operator' || d.caps.check({ aud: `agent:${principal.name}`, cmd: '/a2a/read', mailbox }).ok
}
