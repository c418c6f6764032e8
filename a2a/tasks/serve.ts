/**
 * Callee side of `/sov/a2a-task/1.0.0`: answers `agents` with the agents the asking peer may call
 * (each card revalidated with its agent when stale, and sent with its `maxAgeS`),
 * records a `call` (once per call id) and streams its task snapshots after the caller's `afterSeq`
 * until a final one, and passes `cancel` to the agent. Each request is checked against the
 * callee's own `/a2a/send` grant for the asking peer on the agent's name, as a mailbox is.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_TASK_FRAME_BYTES, parseTaskRequest, type TaskAnswer, type TaskRequest } from '../../protocol/index.js'
import type { Forwarder } from './forward.js'
import type { OfferedCards } from './offered-cards.js'
import type { TaskDb } from './task-db.js'
import { report, type AuditSink, type Authorize } from '../types.js'

/** Heartbeat while a call has nothing new (the caller gives a silent stream up after 3 of these). @default 10 s */
export const WAIT_HEARTBEAT_MS = 10_000
/** Longest life of one following stream; the caller opens the next one. @default 5 min */
export const FOLLOW_STREAM_MAX_MS = 300_000
/** Time to read the request frame. @default 10 s */
const REQUEST_READ_MS = 10_000

export interface TaskServerInit {
  db: TaskDb
  forwarder: Forwarder
  /** The offered agents' cards, revalidated when stale. */
  cards: Pick<OfferedCards, 'current'>
  /** Puts a call to a pull agent into the agent's mailbox (id = call id); undefined: no mailboxes. */
  deliver?: (mailbox: string, id: string, sender: string, message: unknown) => void
  authorize: Authorize
  audit: AuditSink
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export class TaskServer {
  private readonly init: TaskServerInit
  private readonly waiters = new Map<string, Set<() => void>>()
  private readonly streams = new Set<Stream>()
  private closed = false

  constructor (init: TaskServerInit) { this.init = init }

  /** Wakes the streams following `callId` (a snapshot was committed). */
  notify (callId: string): void {
    for (const w of this.waiters.get(callId) ?? []) w()
  }

  closeAll (): void {
    this.closed = true
    for (const s of this.streams) s.abort(new Error('a2a task server stopping'))
    this.streams.clear()
    for (const set of this.waiters.values()) for (const w of set) w()
  }

  handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
    const send = async (a: TaskAnswer): Promise<void> => { await lp.write(encoder.encode(JSON.stringify(a)), { signal: AbortSignal.timeout(30_000) }) }
    this.streams.add(stream)
    try {
      let req: TaskRequest
      try {
        req = parseTaskRequest(JSON.parse(utf8.decode((await lp.read({ signal: AbortSignal.timeout(REQUEST_READ_MS) })).subarray())))
      } catch (err) {
        await send({ type: 'error', code: 'BAD_REQUEST', reason: ((err as Error).message ?? 'bad frame').slice(0, 1024) })
        return
      }
      if (req.type === 'agents') {
        const shown = []
        for (const o of this.init.db.offered()) {
          if ((await this.init.authorize(peer, o.name)).ok) shown.push(o)
        }
        // Stale cards are revalidated with their agents first (together), so the caller's copy
        // follows the agent's caching hints.
        const agents = await Promise.all(shown.map(async o => ({ name: o.name, ...await this.init.cards.current(o) })))
        await send({ type: 'agents', agents })
        return
      }
      const auth = await this.init.authorize(peer, req.agent)
      if (!auth.ok) return await this.refuse(send, peer, req, 'FORBIDDEN', `Cannot call agent "${req.agent}": ${auth.reason}`)
      const offered = this.init.db.getOffered(req.agent)
      if (offered === undefined) return await this.refuse(send, peer, req, 'NOT_FOUND', `Cannot call agent "${req.agent}": this node does not offer it`)
      if (req.type === 'cancel') {
        const s = this.init.db.getServed(req.callId)
        const task = s !== undefined && s.peer === peer ? await this.init.forwarder.cancel(req.callId) : undefined
        await send(task === undefined ? { type: 'cancelled', accepted: false } : { type: 'cancelled', accepted: true, task })
        return
      }
      const added = this.init.db.addServed({ callId: req.callId, peer, agent: req.agent, taskId: req.taskId, contextId: req.contextId, message: JSON.stringify(req.message) })
      if (added === 'conflict') return await this.refuse(send, peer, req, 'CONFLICT', `Cannot accept call "${req.callId}": another call has that id`)
      if (added === 'new') {
        await report(this.init.audit, { type: 'A2A_TASK_CALLED', actor: `peer:${peer}`, outcome: 'ok', detail: { side: 'callee', callId: req.callId, agent: req.agent, taskId: req.taskId } })
      }
      if (offered.mode === 'forward') this.init.forwarder.kick(req.callId)
      else if (this.init.db.getServed(req.callId)?.done === false) {
        // Pull: the agent leases the call from its mailbox and answers with `a2a reply`. Again on
        // a repeated call: the mailbox de-duplicates by id, and a failed first try is made good.
        try {
          this.init.deliver?.(req.agent, req.callId, peer, { ...req.message, taskId: req.taskId, contextId: req.contextId })
        } catch (err) {
          return await this.refuse(send, peer, req, 'UNAVAILABLE', `Cannot queue the call for agent "${req.agent}": ${(err as Error).message}`)
        }
      }
      await this.follow(req.callId, req.afterSeq, send)
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => {})
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.streams.delete(stream)
    }
  }

  /** Sends the call's snapshots after `afterSeq` as they are committed, until a final one. */
  private async follow (callId: string, afterSeq: number, send: (a: TaskAnswer) => Promise<void>): Promise<void> {
    const until = Date.now() + FOLLOW_STREAM_MAX_MS
    let seq = afterSeq
    let set = this.waiters.get(callId)
    if (set === undefined) { set = new Set(); this.waiters.set(callId, set) }
    const waiters = set
    // A commit that lands while we are sending sets `dirty`, so the next wait does not miss it.
    let dirty = false
    let wake: () => void = () => {}
    const wakeAll = (): void => { dirty = true; wake() }
    waiters.add(wakeAll)
    try {
      while (Date.now() < until && !this.closed) {
        dirty = false
        for (const e of this.init.db.servedEvents(callId, seq)) {
          await send({ type: 'event', seq: e.seq, task: JSON.parse(e.task), final: e.final })
          seq = e.seq
          if (e.final) return
        }
        if (dirty) continue
        const woken = await new Promise<boolean>(resolve => {
          const t = setTimeout(() => { resolve(false) }, WAIT_HEARTBEAT_MS)
          wake = () => { clearTimeout(t); resolve(true) }
        })
        wake = () => {}
        if (this.closed) return
        if (!woken) await send({ type: 'wait' })
      }
    } finally {
      waiters.delete(wakeAll)
      if (waiters.size === 0) this.waiters.delete(callId)
    }
  }

  private async refuse (send: (a: TaskAnswer) => Promise<void>, peer: string, req: Exclude<TaskRequest, { type: 'agents' }>, code: string, reason: string): Promise<void> {
    await report(this.init.audit, { type: 'A2A_TASK_REFUSED', actor: `peer:${peer}`, outcome: 'denied', detail: { side: 'callee', callId: req.callId, agent: req.agent, code, reason } })
    await send({ type: 'error', code, reason })
  }
}
