/** The shape every IPC handler has, and how a principal is named in audit rows. */
import type { Principal } from './server.js'

/**
 * Runs one validated request (`params` matches `REQUEST_PARAMS[type]`); throws a `SovError`.
 * `onUnsent(undo)` registers what to undo if the reply never reaches the client.
 */
export type Handler = (params: any, ctx: { principal: Principal, signal: AbortSignal, onUnsent: (undo: () => void) => void }) => Promise<unknown>

/** `operator` or `agent:NAME`: the `actor` of an audit row. */
export function actorOf (p: Principal): string {
  return p.kind === 'operator' ? 'operator' : `agent:${p.name}`
}
