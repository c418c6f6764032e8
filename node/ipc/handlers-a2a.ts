/**
 * IPC handlers of `sov a2a …` (DESIGN §4 `--json` shapes). The dispatcher has already checked an
 * agent token's scope (`/a2a/post` to send, `/a2a/read` on the mailbox to receive/ack/nack).
 */
import type { RequestType } from '../../protocol/index.js'
import type { InboxItem, OutboxItem } from '../../a2a/index.js'
import type { A2aComponents } from './components.js'
import type { Handler } from './handler.js'
import type { Principal } from './server.js'

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
    'a2a.outbox': async ({ status }) => d.a2a.outbox(status).map(outboxRow),
    // An agent sees only the mailboxes it may read.
    'a2a.mailboxes': async (_params, { principal }) => d.a2a.mailboxes().filter(m => mayRead(d, principal, m.mailbox))
  }
}

/** `a2a receive --json` → `[{"id","from","mailbox","ts","deliveries","lease","message"}]` (+ leaseUntil). */
function received (m: InboxItem): Record<string, unknown> {
  return { id: m.id, from: m.from, mailbox: m.mailbox, ts: m.ts, deliveries: m.deliveries, lease: m.lease, leaseUntil: m.leaseUntil, message: m.message }
}

/** `a2a outbox --json` → `[{"id","to","mailbox","status","attempts","reason"?}]` (+ code, times). */
function outboxRow (r: OutboxItem): Record<string, unknown> {
  return {
    id: r.id,
    to: r.to,
    mailbox: r.mailbox,
    status: r.status,
    attempts: r.attempts,
    ...(r.reason !== undefined ? { reason: r.reason, code: r.code } : {}),
    messageId: r.messageId,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ...(r.settledAt !== undefined ? { settledAt: r.settledAt } : {})
  }
}

function mayRead (d: A2aComponents, principal: Principal, mailbox: string): boolean {
  return principal.kind === 'operator' || d.caps.check({ aud: `agent:${principal.name}`, cmd: '/a2a/read', mailbox }).ok
}
