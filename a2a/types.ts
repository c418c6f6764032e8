/** Types shared by the parts of a2a/ and given to its users through index.ts. */

/** Answer of the injected authorisation check. */
export type AuthResult = { ok: true } | { ok: false, reason: string }

/**
 * Decides whether `peerId` (the authenticated remote PeerId of the connection) may deliver to
 * `mailbox`. The daemon plugs in the capability check (`/a2a/send` grant for that peer and
 * mailbox). May be async; a throw counts as a transient failure (`UNAVAILABLE`, retried).
 */
export type Authorize = (peerId: string, mailbox: string) => AuthResult | Promise<AuthResult>

/** An audit row as a2a/ reports it: never a message body. */
export interface A2AAuditEvent {
  type: 'A2A_ACCEPTED' | 'A2A_REJECTED' | 'A2A_SEND_FAILED' | 'A2A_EXPIRED' | 'A2A_DEAD_LETTER'
    // A2A tasks across the mesh (issue 11): a call made or served, a refusal, a task's end.
    | 'A2A_TASK_CALLED' | 'A2A_TASK_REFUSED' | 'A2A_TASK_ENDED' | 'A2A_HTTP_REFUSED' | 'A2A_AGENT_ADDED' | 'A2A_AGENT_REMOVED'
  actor: string
  outcome: 'ok' | 'denied' | 'error'
  detail: Record<string, unknown>
}

/**
 * Receives every audit event. Refusals (`outcome` ≠ `ok`) are awaited before the refusal is
 * answered, so an implementation that makes them durable gets "on disk before answered".
 */
export type AuditSink = (event: A2AAuditEvent) => void | Promise<void>

/** Hands `event` to the sink; resolves when the sink is done and never rejects. */
export async function report (audit: AuditSink, event: A2AAuditEvent): Promise<void> {
  try {
    await audit(event)
  } catch (err) {
    console.error(`a2a: cannot write audit row ${event.type}:`, (err as Error)?.message ?? err)
  }
}
