/**
 * One lifecycle for every long-lived part (STYLE 3): parts start in order, stop in reverse,
 * and a failed start stops what had already started before the error is rethrown.
 */
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

  constructor (parts: Part[]) {
    this.parts = parts
  }

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
      try {
        await part.stop()
      } catch (err) {
        console.error(`supervisor: stopping ${part.name} failed:`, err)
      }
    }
    this.status = 'stopped'
  }
}
