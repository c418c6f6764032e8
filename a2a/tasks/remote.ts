/**
 * Caller side of A2A tasks across the mesh: asks a peer which agents it offers, and follows each
 * call made through the local endpoint until its task reaches a final state. A call is committed
 * before it is sent; each snapshot the callee sends is applied only if it is the next one (`seq`),
 * in the same commit as the task it updates, so a replay after a reconnect or a restart changes
 * nothing. A call not yet final when the node stops is followed again after the restart.
 *
 * Requests travel on one `/sov/a2a-task/1.1.0` stream per peer (`session.ts`), shared by every
 * call to it; a peer that does not speak 1.1.0 gets a `/sov/a2a-task/1.0.0` stream per request.
 */
import { setMaxListeners } from 'node:events'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lengthPrefixed } from '../../mesh/index.js'
import {
  A2A_TASK_PROTOCOL, A2A_TASK_SESSION_PROTOCOL, MAX_TASK_FRAME_BYTES, anySignalWithin, parseTaskAnswer, timeout, unavailable,
  type OfferedAgent, type TaskAnswer, type TaskRequest
} from '../../protocol/index.js'
import type { CallRow, TaskDb } from './task-db.js'
import { WAIT_HEARTBEAT_MS } from './serve.js'
import { TaskSession } from './session.js'
import { report, type AuditSink } from '../types.js'

/** Time to open a stream to the callee. @default 10 s */
export const TASK_DIAL_TIMEOUT_MS = 10_000
/** First and longest delay between attempts to follow a call. @default 200 ms, 10 s */
export const FOLLOW_RETRY_BASE_MS = 200
export const FOLLOW_RETRY_MAX_MS = 10_000
/** How long a call is followed before it is given up as failed. @default 24 h */
export const FOLLOW_FOR_MS = 24 * 3600_000
/** After a peer refused `/sov/a2a-task/1.1.0`, how long it gets 1.0.0 streams before we try again. @default 10 min */
export const SESSION_RETRY_MS = 600_000
/** Longest wait for the answer to `agents` or `cancel`. @default 30 s */
const ASK_TIMEOUT_MS = 30_000

/** One applied snapshot: the task (A2A JSON form) and whether the call is over. */
export interface CallEvent { task: Record<string, any>, final: boolean }
type Listener = (e: CallEvent) => void

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export interface RemoteCallsInit {
  node: Libp2p
  db: TaskDb
  audit: AuditSink
}

export class RemoteCalls {
  private readonly init: RemoteCallsInit
  private readonly following = new Map<string, Promise<void>>()
  private readonly listeners = new Map<string, Set<Listener>>()
  /** Per peer: its open 1.1.0 sessions, the one being opened, and until when it speaks only 1.0.0. */
  private readonly sessions = new Map<string, TaskSession[]>()
  private readonly opening = new Map<string, Promise<TaskSession | undefined>>()
  private readonly legacyUntil = new Map<string, number>()
  private shutdown = new AbortController()

  constructor (init: RemoteCallsInit) { this.init = init }

  start (): void {
    this.shutdown = new AbortController()
    // Every call in flight listens on it (AbortSignal.any): many at once is normal.
    setMaxListeners(0, this.shutdown.signal)
    for (const c of this.init.db.openCalls()) this.follow(c.callId)
  }

  async stop (): Promise<void> {
    const reason = unavailable('Cannot follow the call: the node is stopping')
    this.shutdown.abort(reason)
    for (const list of this.sessions.values()) for (const s of [...list]) s.abort(reason)
    await Promise.allSettled([...this.following.values()])
  }

  /** The agents `peer` offers to this node, each with its own card. */
  async agents (peer: string, options: { signal?: AbortSignal } = {}): Promise<OfferedAgent[]> {
    const a = await this.ask(peer, { v: 1, type: 'agents' }, options.signal)
    if (a.type === 'error') throw unavailable(`Cannot list the agents of ${peer}: error[${a.code}]: ${a.reason}`)
    if (a.type !== 'agents') throw unavailable(`Cannot list the agents of ${peer}: unexpected answer "${a.type}"`)
    return a.agents
  }

  /**
   * Commits a call and starts following it; `listen` gets every snapshot applied from now on.
   * Resolves once the call is durable (`TaskDb.addCall`), before anything is sent; rejects with
   * the commit's error (nothing is sent then).
   */
  async call (c: Omit<CallRow, 'lastSeq' | 'done'>, actor: string, listen?: Listener): Promise<() => void> {
    try {
      await this.init.db.addCall(c)
    } catch (err) {
      // Not durable: never send it, not even after a restart.
      try { this.init.db.endCall(c.callId) } catch {}
      throw unavailable(`Cannot commit call ${c.callId}: ${(err as Error).message}`, { cause: err })
    }
    void report(this.init.audit, { type: 'A2A_TASK_CALLED', actor, outcome: 'ok', detail: { side: 'caller', callId: c.callId, peer: c.peer, agent: c.agent, taskId: c.taskId } })
    const off = listen === undefined ? () => {} : this.listen(c.callId, listen)
    this.follow(c.callId)
    return off
  }

  /**
   * Asks the callee to cancel the task the call belongs to. When the agent accepts, the call ends
   * here (no later snapshot overrides the cancellation) and the agent's task is returned.
   */
  async cancel (call: CallRow, signal?: AbortSignal): Promise<Record<string, any> | undefined> {
    const a = await this.ask(call.peer, { v: 1, type: 'cancel', callId: call.callId, agent: call.agent }, signal)
    if (a.type === 'error') throw unavailable(`Cannot cancel: error[${a.code}]: ${a.reason}`)
    if (a.type !== 'cancelled' || !a.accepted || a.task === undefined) return undefined
    // The callee commits the cancellation as the call's final snapshot, which may be applied
    // here (and its end row written) before this answer: one end row per call.
    if (this.init.db.getCall(call.callId)?.done !== true) {
      this.init.db.endCall(call.callId)
      void report(this.init.audit, { type: 'A2A_TASK_ENDED', actor: `peer:${call.peer}`, outcome: 'ok', detail: { side: 'caller', callId: call.callId, agent: call.agent, taskId: call.taskId, state: String(a.task.status?.state ?? '') } })
    }
    return { ...a.task, id: call.taskId, contextId: call.contextId }
  }

  listen (callId: string, l: Listener): () => void {
    let set = this.listeners.get(callId)
    if (set === undefined) { set = new Set(); this.listeners.set(callId, set) }
    set.add(l)
    return () => { set.delete(l); if (set.size === 0) this.listeners.delete(callId) }
  }

  private follow (callId: string): void {
    if (this.following.has(callId) || this.shutdown.signal.aborted) return
    const p = this.followLoop(callId).catch(err => { console.error(`a2a: cannot follow call ${callId}: ${(err as Error).message}`) })
      .finally(() => { this.following.delete(callId) })
    this.following.set(callId, p)
  }

  private async followLoop (callId: string): Promise<void> {
    const started = Date.now()
    let failures = 0
    let told = ''
    for (;;) {
      const call = this.init.db.getCall(callId)
      if (call === undefined || call.done || this.shutdown.signal.aborted) return
      try {
        const progressed = await this.followOnce(call)
        if (progressed) failures = 0
      } catch (err) {
        if (this.shutdown.signal.aborted) return
        failures++
        if (Date.now() - started > FOLLOW_FOR_MS) {
          this.fail(call, `error[UNAVAILABLE]: Cannot reach ${call.peer} for call ${callId}: ${(err as Error).message}`)
          return
        }
        const cur = this.init.db.getCall(callId)
        if (cur !== undefined && !cur.done && cur.lastSeq === 0) told = this.notDelivered(cur, err as Error, told)
      }
      if (failures > 0) await sleep(Math.min(FOLLOW_RETRY_MAX_MS, FOLLOW_RETRY_BASE_MS * 2 ** Math.min(10, failures - 1)), this.shutdown.signal)
    }
  }

  /** Sends the call once and applies the snapshots that come back; true if any was applied. */
  private async followOnce (call: CallRow): Promise<boolean> {
    const session = await this.session(call.peer)
    const req: TaskRequest = { v: 1, type: 'call', callId: call.callId, agent: call.agent, taskId: call.taskId, contextId: call.contextId, message: JSON.parse(call.message), afterSeq: call.lastSeq }
    const progress = { lastSeq: call.lastSeq, applied: false }
    if (session === undefined) return await this.followOnStream(call, req, progress)
    return await new Promise<boolean>((resolve, reject) => {
      let forget = (): void => {}
      const over = (err?: Error): void => {
        forget()
        if (err === undefined || progress.applied) resolve(progress.applied || err === undefined)
        else reject(err)
      }
      const r = session.request(req, {
        answer: a => {
          try {
            if (a.type === 'resend') over() // the callee's bound: send it again at once
            else if (this.apply(call, a, progress) === 'over') over()
          } catch (err) {
            over(err as Error)
          }
        },
        end: err => { over(err) }
      })
      forget = r.forget
      r.sent.catch(() => {}) // the session's end reaches `end`
    })
  }

  /** 1.0.0: one stream for the call; the snapshots until a final one, or the stream's end. */
  private async followOnStream (call: CallRow, req: TaskRequest, progress: { lastSeq: number, applied: boolean }): Promise<boolean> {
    const stream = await this.open(call.peer, A2A_TASK_PROTOCOL)
    const abort = (): void => { stream.abort(new Error('a2a task follower stopping')) }
    this.shutdown.signal.addEventListener('abort', abort)
    try {
      const lp = lengthPrefixed(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
      await lp.write(encoder.encode(JSON.stringify(req)), { signal: AbortSignal.timeout(TASK_DIAL_TIMEOUT_MS) })
      for (;;) {
        const a = parseTaskAnswer(JSON.parse(utf8.decode((await lp.read({ signal: AbortSignal.timeout(3 * WAIT_HEARTBEAT_MS) })).subarray())))
        if (this.apply(call, a, progress) === 'over') {
          await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => {})
          return true
        }
      }
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      if (progress.applied) return true
      throw err
    } finally {
      this.shutdown.signal.removeEventListener('abort', abort)
    }
  }

  /**
   * Takes one answer to a call: applies an event that is the next one (in one commit with its
   * task), fails the call on a refusal. 'over' when the call needs no more answers now; throws on
   * an event out of order or an answer that does not belong (the caller sends the call again).
   */
  private apply (call: CallRow, a: TaskAnswer, progress: { lastSeq: number, applied: boolean }): 'more' | 'over' {
    if (a.type === 'wait') return 'more'
    if (a.type === 'error') {
      // Refused (no grant, no such agent): the answer will not change, the task fails.
      this.fail(call, `error[${a.code}]: ${a.reason}`)
      return 'over'
    }
    if (a.type !== 'event') throw new Error(`unexpected answer "${a.type}"`)
    if (a.seq <= progress.lastSeq) return 'more'
    const state = String(a.task.status?.state ?? 'TASK_STATE_UNSPECIFIED')
    if (!this.init.db.applyEvent(call.callId, a.seq, a.final, scopeOf(call.peer, call.agent, call.owner), call.taskId, call.contextId, state, JSON.stringify({ ...a.task, id: call.taskId, contextId: call.contextId }))) {
      if (this.init.db.getCall(call.callId)?.done === true) return 'over'
      throw new Error(`event ${a.seq} of call ${call.callId} is out of order (have ${progress.lastSeq})`)
    }
    progress.lastSeq = a.seq
    progress.applied = true
    // The end row is handed to the audit log (synchronously, in `report`) before the client hears of the end.
    if (a.final) void report(this.init.audit, { type: 'A2A_TASK_ENDED', actor: `peer:${call.peer}`, outcome: state === 'TASK_STATE_COMPLETED' || state === 'TASK_STATE_INPUT_REQUIRED' ? 'ok' : 'error', detail: { side: 'caller', callId: call.callId, agent: call.agent, taskId: call.taskId, state } })
    this.emit(call.callId, { task: a.task, final: a.final })
    return a.final ? 'over' : 'more'
  }

  /**
   * Tells the listeners of a call the callee has not yet answered why it is still SUBMITTED: a
   * non-final snapshot whose status message names the peer and the last failure (helper finding,
   * stop 29: a peer that had revoked us left calls SUBMITTED with no word of why). Said again only
   * when the reason changes; returns the text said.
   */
  private notDelivered (call: CallRow, err: Error, told: string): string {
    const text = `Not yet delivered to ${call.peer}: ${err.message}. The call stays open and is sent again until the peer takes it (for up to ${FOLLOW_FOR_MS / 3600_000} h); \`sov peers ping ${call.peer}\` shows why it cannot be reached.`
    if (text === told) return told
    const task = {
      id: call.taskId,
      contextId: call.contextId,
      status: { state: 'TASK_STATE_SUBMITTED', timestamp: new Date().toISOString(), message: { messageId: `sov-${call.callId}-pending`, role: 'ROLE_AGENT', taskId: call.taskId, contextId: call.contextId, parts: [{ text }] } },
      history: [JSON.parse(call.message)]
    }
    this.emit(call.callId, { task, final: false })
    return text
  }

  /** Ends a call with a FAILED snapshot carrying `reason` (no body of anyone's, only ours). */
  private fail (call: CallRow, reason: string): void {
    const task = {
      id: call.taskId,
      contextId: call.contextId,
      status: { state: 'TASK_STATE_FAILED', timestamp: new Date().toISOString(), message: { messageId: `sov-${call.callId}`, role: 'ROLE_AGENT', taskId: call.taskId, contextId: call.contextId, parts: [{ text: reason }] } },
      history: [JSON.parse(call.message)]
    }
    const cur = this.init.db.getCall(call.callId)
    if (cur === undefined || cur.done) return
    if (!this.init.db.applyEvent(call.callId, cur.lastSeq + 1, true, scopeOf(call.peer, call.agent, call.owner), call.taskId, call.contextId, 'TASK_STATE_FAILED', JSON.stringify(task))) return
    void report(this.init.audit, { type: 'A2A_TASK_REFUSED', actor: `peer:${call.peer}`, outcome: 'denied', detail: { side: 'caller', callId: call.callId, agent: call.agent, taskId: call.taskId, reason } })
    this.emit(call.callId, { task, final: true })
  }

  private emit (callId: string, e: CallEvent): void {
    for (const l of [...this.listeners.get(callId) ?? []]) {
      try { l(e) } catch (err) { console.error('a2a: call listener failed:', (err as Error).message) }
    }
  }

  private async open (peer: string, protocol: string): Promise<Stream> {
    try {
      return await this.init.node.dialProtocol(peerIdFromString(peer), protocol, {
        signal: anySignalWithin(TASK_DIAL_TIMEOUT_MS, this.shutdown.signal)
      })
    } catch (err: any) {
      if (err?.name === 'TimeoutError') throw timeout(`Cannot reach ${peer}: no stream within ${TASK_DIAL_TIMEOUT_MS} ms`, { cause: err })
      throw unavailable(`Cannot reach ${peer}: ${err?.message ?? String(err)}`, { cause: err })
    }
  }

  /**
   * A 1.1.0 session to `peer` with room for a request: an open one, or a new one (one opening at a
   * time per peer, shared by everyone waiting). Undefined when the peer speaks only 1.0.0.
   */
  private async session (peer: string): Promise<TaskSession | undefined> {
    for (;;) {
      if ((this.legacyUntil.get(peer) ?? 0) > Date.now()) return undefined
      const s = this.sessions.get(peer)?.find(x => x.usable)
      if (s !== undefined) return s
      let p = this.opening.get(peer)
      if (p === undefined) {
        p = this.openSession(peer).finally(() => { this.opening.delete(peer) })
        this.opening.set(peer, p)
      }
      const opened = await p
      if (opened === undefined || opened.usable) return opened
    }
  }

  private async openSession (peer: string): Promise<TaskSession | undefined> {
    let stream: Stream
    try {
      stream = await this.open(peer, A2A_TASK_SESSION_PROTOCOL)
    } catch (err: any) {
      if (err?.cause?.name !== 'UnsupportedProtocolError') throw err
      this.legacyUntil.set(peer, Date.now() + SESSION_RETRY_MS)
      return undefined
    }
    const list = this.sessions.get(peer) ?? []
    const session: TaskSession = new TaskSession(stream, () => {
      const i = list.indexOf(session)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0 && this.sessions.get(peer) === list) this.sessions.delete(peer)
    })
    list.push(session)
    this.sessions.set(peer, list)
    if (this.shutdown.signal.aborted) session.abort(new Error('a2a task caller stopping'))
    return session
  }

  /** One request, one answer: on the peer's session, or on a 1.0.0 stream of its own. */
  private async ask (peer: string, req: TaskRequest, signal?: AbortSignal): Promise<TaskAnswer> {
    const s = anySignalWithin(ASK_TIMEOUT_MS, this.shutdown.signal, signal)
    let session: TaskSession | undefined
    try {
      session = await this.session(peer)
    } catch (err) {
      throw unavailable(`Cannot ask ${peer}: ${(err as Error).message}; check that its node runs and is in this mesh (\`sov peers ping ${peer}\`)`, { cause: err })
    }
    if (session === undefined) return await this.askOnStream(peer, req, s)
    const sess = session
    return await new Promise<TaskAnswer>((resolve, reject) => {
      const r = sess.request(req, {
        answer: a => { if (a.type !== 'wait') done(undefined, a) },
        end: err => { done(err) }
      })
      const onAbort = (): void => { done(s.reason instanceof Error ? s.reason : new Error('aborted')) }
      s.addEventListener('abort', onAbort)
      function done (err?: Error, a?: TaskAnswer): void {
        r.forget()
        s.removeEventListener('abort', onAbort)
        if (a !== undefined) resolve(a)
        else reject(unavailable(`Cannot ask ${peer}: ${err?.message ?? 'no answer'}`, { cause: err }))
      }
      r.sent.catch(() => {})
      if (s.aborted) onAbort()
    })
  }

  private async askOnStream (peer: string, req: TaskRequest, s: AbortSignal): Promise<TaskAnswer> {
    const stream = await this.open(peer, A2A_TASK_PROTOCOL)
    try {
      const lp = lengthPrefixed(stream, { maxDataLength: MAX_TASK_FRAME_BYTES })
      await lp.write(encoder.encode(JSON.stringify(req)), { signal: s })
      const a = parseTaskAnswer(JSON.parse(utf8.decode((await lp.read({ signal: s })).subarray())))
      await stream.close({ signal: AbortSignal.timeout(5000) }).catch(() => {})
      return a
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw unavailable(`Cannot ask ${peer}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/**
 * Task-store scope: the remote agent (peer and name) and the local agent that called it, so one
 * local agent token never sees another's tasks.
 */
export function scopeOf (peer: string, agent: string, owner: string): string {
  return `${peer}/${agent}/${owner}`
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done)
  })
}
