/**
 * Callee side of card caching (issue 11 §2, A2A v1.0 §8.6.2): the cards of the agents this node
 * offers, revalidated when a peer asks for them and the stored copy is stale — conditionally,
 * with the agent's `ETag` — so the card a caller sees follows the agent's own, and each is handed
 * out with the seconds it stays fresh (`maxAgeS`, docs/protocols.md `agents`). An agent that
 * cannot be reached keeps its stored card, tried again after `CARD_RETRY_AFTER_MS`.
 */
import { setMaxListeners } from 'node:events'
import { shownUrl } from '../../protocol/index.js'
import { CARD_RETRY_AFTER_MS, cardUrlOf, fetchAgentCard } from './agent-card.js'
import type { OfferedRow, TaskDb } from './task-db.js'

export interface OfferedCardsInit {
  db: TaskDb
  /** Called when an agent's card changed (the forwarder builds its client again). */
  onChange: (name: string) => void
  log?: (line: string) => void
}

export class OfferedCards {
  private readonly init: OfferedCardsInit
  private readonly refreshing = new Map<string, Promise<void>>()
  private readonly shutdown = new AbortController()

  constructor (init: OfferedCardsInit) {
    this.init = init
    // One card fetch per offered agent being revalidated listens on it: more than ten is normal.
    setMaxListeners(0, this.shutdown.signal)
  }

  /** Ends revalidations in flight (their agents keep the stored cards). */
  stop (): void { this.shutdown.abort() }

  /**
   * The card of offered agent `o` as a peer gets it, revalidated first when stale, with the whole
   * seconds it stays fresh. A pull agent's card is this node's own: no `maxAgeS`.
   */
  async current (o: OfferedRow): Promise<{ card: Record<string, any>, maxAgeS?: number }> {
    if (o.mode !== 'forward') return { card: JSON.parse(o.card) }
    let row = o
    if (row.freshUntil <= Date.now()) {
      await this.revalidate(row.name)
      row = this.init.db.getOffered(row.name) ?? row
    }
    return { card: JSON.parse(row.card), maxAgeS: Math.max(0, Math.floor((row.freshUntil - Date.now()) / 1000)) }
  }

  /** One fetch per agent at a time: peers asking together share it. */
  private async revalidate (name: string): Promise<void> {
    let p = this.refreshing.get(name)
    if (p === undefined) {
      p = this.refetch(name).finally(() => { this.refreshing.delete(name) })
      this.refreshing.set(name, p)
    }
    await p
  }

  private async refetch (name: string): Promise<void> {
    const o = this.init.db.getOffered(name)
    if (o === undefined || o.mode !== 'forward' || this.shutdown.signal.aborted) return
    try {
      const r = await fetchAgentCard(cardUrlOf(new URL(o.url)), { etag: o.etag, signal: this.shutdown.signal })
      if (r.status === 'not-modified') {
        this.init.db.refreshOffered(name, { freshUntil: Date.now() + r.lifeMs })
        return
      }
      const text = JSON.stringify(r.card)
      this.init.db.refreshOffered(name, { card: text, etag: r.etag, freshUntil: Date.now() + r.lifeMs })
      if (text !== o.card) this.init.onChange(name)
    } catch (err) {
      if (this.shutdown.signal.aborted) return
      this.init.db.refreshOffered(name, { freshUntil: Date.now() + CARD_RETRY_AFTER_MS })
      this.init.log?.(`a2a: cannot revalidate the card of agent "${name}" at ${shownUrl(new URL(o.url))}: ${(err as Error).message}; serving the stored one`)
    }
  }
}
