/**
 * A signal that aborts when any of `signals` does, or after `ms` milliseconds with a
 * `TimeoutError` — `AbortSignal.any([...signals, AbortSignal.timeout(ms)])`, made to fire on
 * Node 20. There, a timeout signal that only a composite refers to is collected by the next GC
 * and then never fires, even while the composite is in use (nodejs/node#57736, fixed in Node 22):
 * every such bound of ours (dial, reply write, GetTask, card fetch, idle session) could silently
 * stop bounding anything (helper finding, stop 28). The composite holds its timeout here.
 */
const HOLD = Symbol('sov.timeout')

/** See above: `AbortSignal.any` of `signals` and a timeout of `ms`, the timeout held. */
export function anySignalWithin (ms: number, ...signals: Array<AbortSignal | undefined>): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  const composite = AbortSignal.any([...signals.filter((s): s is AbortSignal => s !== undefined), timeout])
  Object.defineProperty(composite, HOLD, { value: timeout })
  return composite
}
