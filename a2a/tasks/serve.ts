/**
 * Callee side of `/sov/a2a-task/1.0.0` (one request per stream) and `/sov/a2a-task/1.1.0` (many
 * requests on one stream per peer, each tagged with its `rid`): answers `agents` with the agents
 * the asking peer may call (each card revalidated with its agent when stale, and sent with its
 * `maxAgeS`), records a `call` (once per call id) and streams its task snapshots after the
 * caller's `afterSeq` until a final one, and passes `cancel` to the agent. Each request is checked
 * against the callee's own `/a2a/send` grant for the asking peer on the agent's name, as a
 * mailbox is.
 */
import { setMaxListeners } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import { lengthPrefixed } from '../../mesh/index.js'
import { MAX_CALL_MESSAGE_BYTES, MAX_SESSION_REQUESTS, MAX_TASK_FRAME_BYTES, MAX_TASK_PAYLOAD_BYTES, anySignalWithin, parseTaskRequest, payloadTooLarge, splitRid, type TaskAnswer, type TaskRequest } from '../../protocol/index.js'
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
/** A 1.1.0 stream with no open request and nothing read for this long is closed. @default 60 s */
export const SESSION_IDLE_MS = 60_000
/** Longest wait for one answer frame to be written. @default 30 s */
const WRITE_TIMEOUT_MS = 30_000

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

/** Writes one answer: an object, or its JSON text already made. */
type Send = (a: TaskAnswer | string) => Promise<void>

/** The JSON text of an answer with its 1.1.0 request id added. */
function withRid (a: TaskAnswer | string, rid: number): string {
  const text = typeof a === 'string' ? a : JSON.stringify(a)
  return `${text.slice(0, -1)},"rid":${rid}}`
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export class TaskServer {
  private readonly init: TaskServerInit
  private readonly waiters = new Map<string, Set<() => void>>()
  private readonly streams = new Set<Stream>()
  private readonly stopping = new AbortController()

  constructor (init: TaskServerInit) {
    this.init = init
    // Every call followed on a 1.0.0 stream listens on it: many at once is normal.
    setMaxListeners(0, this.stopping.signal)
  }

  /** Wakes the streams following `callId` (a snapshot was committed). */
  notify (callId: string): void {
    for (const w of this.waiters.get(callId) ?? []) w()
  }

  closeAll (): void {
    this.stopping.abort()
    for (const s of this.streams) s.abort(new Error('a2a task server stopping'))
    this.streams.clear()
    for (const set of this.waiters.values()) for (const w of set) w()
  }

  /** `/sov/a2a-task/1.0.0`: one request, its answers, then the stream closes. */
  handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    const lp = lengthPrefixed(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
    const send = async (a: TaskAnswer | string): Promise<void> => { await lp.write(encoder.encode(typeof a === 'string' ? a : JSON.stringify(a)), { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) }) }
    this.streams.add(stream)
    try {
      let req: TaskRequest
      try {
        req = parseTaskRequest(JSON.parse(utf8.decode((await lp.read({ signal: AbortSignal.timeout(REQUEST_READ_MS) })).subarray())))
      } catch (err) {
        await send({ type: 'error', code: 'BAD_REQUEST', reason: ((err as Error).message ?? 'bad frame').slice(0, 1024) })
        return
      }
      await this.serve(peer, req, send, { signal: this.stopping.signal, heartbeat: true })
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => {})
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.streams.delete(stream)
    }
  }

  /**
   * `/sov/a2a-task/1.1.0`: requests as they come, each served at once beside the others; every
   * answer carries its request's `rid`. One `wait` (no `rid`) heartbeat for the whole stream while
   * a request is open and nothing else was written for `WAIT_HEARTBEAT_MS`. A frame without a
   * valid `rid` is answered with an `error` without one, and the stream is closed; more than
   * `MAX_SESSION_REQUESTS` open requests, or a `rid` already open, reset it.
   */
  handleSession = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    const lp = lengthPrefixed(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
    const ended = new AbortController()
    setMaxListeners(0, ended.signal)
    const end = (): void => { ended.abort() }
    this.stopping.signal.addEventListener('abort', end)
    const open = new Set<number>()
    let lastWrite = Date.now()
    const write = async (a: Record<string, unknown> | string): Promise<void> => {
      lastWrite = Date.now()
      await lp.write(encoder.encode(typeof a === 'string' ? a : JSON.stringify(a)), { signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) })
    }
    const fail = (err: unknown): void => { stream.abort(err instanceof Error ? err : new Error(String(err))) }
    const beat = setInterval(() => {
      if (open.size > 0 && Date.now() - lastWrite >= WAIT_HEARTBEAT_MS) write({ type: 'wait' }).catch(fail)
    }, WAIT_HEARTBEAT_MS / 2)
    this.streams.add(stream)
    try {
      for (;;) {
        let json: unknown
        try {
          // Idle: the caller closes its side after its own idle time; this bounds a silent one.
          const frame = await lp.read(open.size === 0 ? { signal: anySignalWithin(SESSION_IDLE_MS, ended.signal) } : { signal: ended.signal })
          json = JSON.parse(utf8.decode(frame.subarray()))
        } catch (err: any) {
          if (err instanceof SyntaxError || err instanceof TypeError) {
            await write({ type: 'error', code: 'BAD_REQUEST', reason: `Cannot accept task request: ${err.message}`.slice(0, 1024) })
          }
          break // the caller closed its side, the stream died or idled out, or the node stops
        }
        const { rid, rest } = splitRid(json)
        if (rid === undefined) {
          await write({ type: 'error', code: 'BAD_REQUEST', reason: 'Cannot accept task request: field "rid": must be a non-negative integer' })
          break
        }
        if (open.has(rid) || open.size >= MAX_SESSION_REQUESTS) throw new Error(`a2a task session: request ${rid} is already open, or more than ${MAX_SESSION_REQUESTS} are`)
        let req: TaskRequest
        try {
          req = parseTaskRequest(rest)
        } catch (err) {
          await write({ type: 'error', code: 'BAD_REQUEST', reason: ((err as Error).message ?? 'bad frame').slice(0, 1024), rid })
          continue
        }
        open.add(rid)
        void this.serve(peer, req, async a => { await write(withRid(a, rid)) }, { signal: ended.signal, heartbeat: false })
          .catch(fail).finally(() => { open.delete(rid) })
      }
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => {})
    } catch (err) {
      fail(err)
    } finally {
      clearInterval(beat)
      end()
      this.stopping.signal.removeEventListener('abort', end)
      this.streams.delete(stream)
    }
  }

  /**
   * Answers one request through `send` until it is over: its final event, a refusal, the agents
   * or the cancellation's answer, or (following a call) `FOLLOW_STREAM_MAX_MS` — after which a
   * 1.1.0 request gets `resend` and a 1.0.0 stream just ends. `heartbeat`: send `wait` while a
   * followed call has nothing new (1.0.0; a 1.1.0 stream beats once for all its requests).
   */
  private async serve (peer: string, req: TaskRequest, send: Send, opts: { signal: AbortSignal, heartbeat: boolean }): Promise<void> {
    if (req.type === 'agents') {
      const shown = []
      for (const o of this.init.db.offered()) {
        if ((await this.init.authorize(peer, o.name)).ok) shown.push(o)
      }
      // Stale cards are revalidated with their agents first (together), so the caller's copy
      // follows the agent's caching hints.
      const agents = await Promise.all(shown.map(async o => ({ name: o.name, ...await this.init.cards.current(o) })))
      const answer = JSON.stringify({ type: 'agents', agents })
      // Cards are bounded one by one (MAX_CARD_BYTES); many at once could still exceed a frame,
      // which the caller would refuse with an unreadable stream error.
      const bytes = payloadTooLarge(answer)
      await send(bytes === undefined ? answer : { type: 'error', code: 'TOO_LARGE', reason: `Cannot list the ${agents.length} agents offered to you: their cards are ${bytes} bytes, over the ${MAX_TASK_PAYLOAD_BYTES} one answer carries` })
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
    const message = JSON.stringify(req.message)
    // What the caller's endpoint checks, again: a node of another version may not have.
    const bytes = payloadTooLarge(message, MAX_CALL_MESSAGE_BYTES)
    if (bytes !== undefined) return await this.refuse(send, peer, req, 'TOO_LARGE', `Cannot accept a message of ${bytes} bytes of JSON for agent "${req.agent}": over the ${MAX_CALL_MESSAGE_BYTES} bytes a call carries (its task keeps room for the answer)`)
    const added = this.init.db.addServed({ callId: req.callId, peer, agent: req.agent, taskId: req.taskId, contextId: req.contextId, message })
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
    if (await this.follow(req.callId, req.afterSeq, send, opts) === 'bound' && !opts.heartbeat) await send({ type: 'resend' })
  }

  /**
   * Sends the call's snapshots after `afterSeq` as they are committed, until a final one ('final'),
   * `FOLLOW_STREAM_MAX_MS` ('bound') or the end of the stream ('ended').
   */
  private async follow (callId: string, afterSeq: number, send: Send, opts: { signal: AbortSignal, heartbeat: boolean }): Promise<'final' | 'bound' | 'ended'> {
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
    opts.signal.addEventListener('abort', wakeAll)
    try {
      for (;;) {
        if (opts.signal.aborted) return 'ended'
        if (Date.now() >= until) return 'bound'
        dirty = false
        for (const e of this.init.db.servedEvents(callId, seq)) {
          // The stored snapshot is our own JSON text: spliced in, not parsed and written again.
          await send(`{"type":"event","seq":${e.seq},"final":${String(e.final)},"task":${e.task}}`)
          seq = e.seq
          if (e.final) return 'final'
        }
        if (dirty) continue
        const woken = await new Promise<boolean>(resolve => {
          const t = setTimeout(() => { resolve(false) }, opts.heartbeat ? WAIT_HEARTBEAT_MS : Math.max(0, until - Date.now()))
          wake = () => { clearTimeout(t); resolve(true) }
        })
        wake = () => {}
        if (!woken && opts.heartbeat && !opts.signal.aborted) await send({ type: 'wait' })
      }
    } finally {
      waiters.delete(wakeAll)
      opts.signal.removeEventListener('abort', wakeAll)
      if (waiters.size === 0) this.waiters.delete(callId)
    }
  }

  private async refuse (send: Send, peer: string, req: Exclude<TaskRequest, { type: 'agents' }>, code: string, reason: string): Promise<void> {
    await report(this.init.audit, { type: 'A2A_TASK_REFUSED', actor: `peer:${peer}`, outcome: 'denied', detail: { side: 'callee', callId: req.callId, agent: req.agent, code, reason } })
    await send({ type: 'error', code, reason })
  }
}
