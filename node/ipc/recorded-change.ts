/**
 * The two rules every privileged change follows (DESIGN §10, issue 10; the audit log never claims
 * a change that was not made):
 * - `recordedChange`: the audit row is durable before the change is stored; a store that then
 *   fails gets a `CHANGE_FAILED` row naming the change, so the `ok` row before it is not read
 *   as done.
 * - `oneAtATime`: changes to one subject (an agent name, a grant id) run one after the other, so
 *   a check made before an await ("the name is free") still holds when the change is stored.
 */
import { CHANGE_FAILED_TYPE, type AuditEvent } from '../audit/index.js'
import type { AuditWriter } from './components.js'

/**
 * Writes `event` durably, then runs `store`. When `store` throws, a `CHANGE_FAILED` row
 * (outcome `error`, detail `{change: event.type, …event.detail, error}`) is written and the
 * error is rethrown. Throws `UNAVAILABLE` when the first row cannot be written (nothing stored).
 */
export async function recordedChange<T> (audit: AuditWriter, event: AuditEvent, store: () => Promise<T> | T): Promise<T> {
  await audit(event, true)
  try {
    return await store()
  } catch (err) {
    const error = String((err as Error)?.message ?? err).slice(0, 500)
    await audit({ type: CHANGE_FAILED_TYPE, actor: event.actor, outcome: 'error', detail: { ...event.detail, change: event.type, error } }, true)
      .catch(() => { /* the disk refuses both: the caller's error stands */ })
    throw err
  }
}

/** Runs functions one at a time per key; different keys run side by side. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve()
    const run = before.then(fn, fn)
    const tail = run.catch(() => {})
    this.tails.set(key, tail)
    try {
      return await run
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}
