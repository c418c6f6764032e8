/**
 * One lifecycle for every long-lived part (STYLE 3): parts start in order, stop in reverse,
 * and a failed start stops what had already started before the error is rethrown. A part that
 * does not stop within `stopTimeoutMs` is left behind, said, so the parts after it (the audit
 * log last, with its NODE_STOPPED row and shutdown checkpoint) still stop: one stop that never
 * settled kept a daemon running without its checkpoint (helper finding, stop 25).
 */

/** How long one part may take to stop before the others go on without it. @default 10 s */
export const PART_STOP_TIMEOUT_MS = 10_000
export interface Part {
  name: string
  start: () => Promise<void>
  stop: () => Promise<void>
}

export type SupervisorStatus = 'stopped' | 'starting' | 'started' | 'stopping'

export class Supervisor {
  status: SupervisorStatus = 'stopped'
  private started: Part[] = []
  private readonly parts: Part[]

  private readonly stopTimeoutMs: number

  constructor (parts: Part[], opts: { stopTimeoutMs?: number, log?: (line: string) => void } = {}) {
    this.parts = parts
    this.stopTimeoutMs = opts.stopTimeoutMs ?? PART_STOP_TIMEOUT_MS
    this.log = opts.log ?? (line => { console.error(line) })
  }

  private readonly log: (line: string) => void

  async start (): Promise<void> {
    if (this.status !== 'stopped') return
    this.status = 'starting'
    for (const part of this.parts) {
      try {
        await part.start()
        this.started.push(part)
      } catch (err) {
        await this.stop()
        throw err
      }
    }
    this.status = 'started'
  }

  async stop (): Promise<void> {
    if (this.status === 'stopping' || this.status === 'stopped' && this.started.length === 0) return
    this.status = 'stopping'
    for (const part of this.started.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, this.stopTimeoutMs) })
      try {
        if (await Promise.race([part.stop(), late]) === 'late') this.log(`supervisor: ${part.name} did not stop within ${this.stopTimeoutMs} ms; stopping the rest without it`)
      } catch (err) {
        this.log(`supervisor: stopping ${part.name} failed: ${(err as Error)?.stack ?? String(err)}`)
      } finally {
        clearTimeout(timer)
      }
    }
    this.status = 'stopped'
  }
}
