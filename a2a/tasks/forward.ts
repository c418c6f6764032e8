/**
 * Callee side, forward model (issue 11 §4): each call a peer made is delivered to the local A2A
 * agent with the `@a2a-js/sdk` client, and its answer becomes the call's task snapshots under the
 * caller's task and context ids. The agent's own ids are kept per caller task, so the next turn of
 * an `input-required` task reaches the same agent task.
 *
 * Delivery is at least once: while the agent cannot be reached the call waits and is retried with
 * back-off; a call still open when the node stops is delivered again after the restart.
 */
import { setMaxListeners } from 'node:events'
import type { ClientFactory } from '@a2a-js/sdk/client'
import { AgentCard, Message, Role, SendMessageConfiguration, Task, TaskState, taskStateToJSON } from '@a2a-js/sdk'
import type { TaskDb, ServedRow } from './task-db.js'
import { MAX_TASK_PAYLOAD_BYTES, SovError, anySignalWithin, payloadTooLarge } from '../../protocol/index.js'
import { localFetch, type LocalFetch } from './http-fetch.js'
import { report, type AuditSink } from '../types.js'

/** First retry delay when the agent cannot be reached. @default 250 ms */
export const AGENT_RETRY_BASE_MS = 250
/** Longest retry delay. @default 5 s */
export const AGENT_RETRY_MAX_MS = 5000
/**
 * How long a call keeps waiting for an unreachable agent before it fails, and the longest the
 * agent may take to answer the call once it has it. @default 24 h
 */
export const AGENT_RETRY_FOR_MS = 24 * 3600_000
/**
 * Longest GetTask of a task the agent has. Not the call itself: an agent that has taken the call
 * may take its time to answer (the SDK sends nothing before the task's first event), and giving
 * up on it sent the same message again every 60 s (helper finding, stop 28). @default 60 s
 */
export const AGENT_CALL_TIMEOUT_MS = 60_000
/** GetTask polling of a working agent task: first and longest interval. @default 20 ms, 500 ms */
export const POLL_MIN_MS = 20
export const POLL_MAX_MS = 500

/** States after which a task gets no more events on this call (terminal or interrupted). */
export const FINAL_STATES = new Set<TaskState>([
  TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED, TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED
])
/** States in which the agent waits for the caller: a next turn may find its task still in one. */
const INTERRUPTED = new Set<TaskState>([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED])
const TERMINAL = new Set<TaskState>([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED])

export interface ForwarderInit {
  db: TaskDb
  audit: AuditSink
  /** Called after a snapshot of `callId` is committed. */
  onEvent: (callId: string) => void
}

export class Forwarder {
  private readonly init: ForwarderInit
  private readonly running = new Map<string, Promise<void>>()
  /** Calls cancelled before their agent task was known: cancelled at the agent if one appears. */
  private readonly cancelAtAgent = new Set<string>()
  /** Per call being sent to its agent: aborts the send when the caller cancels the call. */
  private readonly sending = new Map<string, AbortController>()
  private readonly clients = new Map<string, Promise<Awaited<ReturnType<ClientFactory['createFromAgentCard']>>>>()
  /** Per agent: whether its card declares streaming (read once per card: `forget` drops it). */
  private readonly streaming = new Map<string, boolean>()
  private shutdown = new AbortController()
  private http: LocalFetch = localFetch()

  constructor (init: ForwarderInit) { this.init = init }

  start (): void {
    this.shutdown = new AbortController()
    this.http.close()
    this.http = localFetch()
    // Every call in flight listens on it (AbortSignal.any): many at once is normal.
    setMaxListeners(0, this.shutdown.signal)
    for (const s of this.init.db.openServed()) this.kick(s.callId, true)
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    await Promise.allSettled([...this.running.values()])
    this.clients.clear()
    this.streaming.clear()
    this.http.close()
  }

  /** Starts delivering call `callId` unless it is running or done (`resumed`: after a restart). */
  kick (callId: string, resumed = false): void {
    if (this.running.has(callId) || this.shutdown.signal.aborted) return
    const p = this.run(callId, resumed).catch(err => { console.error(`a2a: call ${callId} stopped: ${(err as Error).message}`) })
      .finally(() => { this.running.delete(callId); this.sending.delete(callId) })
    this.running.set(callId, p)
  }

  /** Drops the client built from `agent`'s card (its card changed): the next call builds it again. */
  forget (agent: string): void {
    this.clients.delete(agent)
    this.streaming.delete(agent)
  }

  /**
   * Asks the agent to cancel the task of `callId`; returns the task it answered with (in the
   * caller's ids), or undefined when it refused or the task never reached the agent.
   */
  async cancel (callId: string): Promise<Record<string, any> | undefined> {
    const s = this.init.db.getServed(callId)
    if (s === undefined || this.init.db.getOffered(s.agent)?.mode !== 'forward') return undefined
    const ids = this.init.db.agentIdsOf(s.peer, s.taskId)
    if (ids === undefined) {
      if (s.done) return undefined
      // No agent task known yet (the agent is down and the call waits to be retried, or it is
      // being sent now): cancelled here, never sent again; should the send in flight make a task,
      // `run` asks the agent to cancel it. Before, the cancellation was refused (-32002) and the
      // call went on for up to a day (helper finding, stop 26).
      const task = canceledTask(s)
      this.cancelAtAgent.add(callId)
      await this.commit(s, task)
      this.sending.get(callId)?.abort(new Error('the caller cancelled the call'))
      return Task.toJSON(this.rewrite(s, task)) as Record<string, any>
    }
    try {
      const client = await this.client(s.agent)
      const task: Task = await client.cancelTask({ tenant: '', id: ids.agentTaskId, metadata: undefined }, { signal: AbortSignal.timeout(30_000) })
      // Committed as the call's snapshot, which writes its one A2A_TASK_ENDED row; the agent's
      // own CANCELED event, when it comes, finds the call done (before: two rows per cancel).
      await this.commit(s, task)
      return Task.toJSON(this.rewrite(s, task)) as Record<string, any>
    } catch {
      return undefined
    }
  }

  private async client (agent: string): Promise<any> {
    let c = this.clients.get(agent)
    if (c === undefined) {
      const row = this.init.db.getOffered(agent)
      if (row === undefined) throw new Error(`agent "${agent}" is no longer offered`)
      const card = AgentCard.fromJSON(JSON.parse(row.card))
      // The SDK's client loads with the first forwarded call (issue 16: an idle node, or one
      // that offers no agent, never carries it).
      c = import('@a2a-js/sdk/client').then(({ ClientFactory, JsonRpcTransportFactory }) =>
        new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: this.http.fetch })] }).createFromAgentCard(card))
      c.catch(() => { this.clients.delete(agent) })
      this.clients.set(agent, c)
    }
    return await c
  }

  /**
   * Sends the call to the agent with `returnImmediately` (so the agent's task id is known at once
   * and a cancellation can reach it), then follows the task with GetTask until a final state,
   * committing each change as a snapshot. A call the agent already took (after a restart) is only
   * followed, never sent again: one whose agent task id was stored, and a next turn of a task
   * whose agent task holds the turn's message (the node may have stopped after the agent took it
   * and before its answer was stored; before, the turn was sent again, helper finding, stop 26).
   */
  private async run (callId: string, resumed: boolean): Promise<void> {
    const s = this.init.db.getServed(callId)
    if (s === undefined || s.done) return
    // A pull agent's call waits in its mailbox for `a2a reply`: it has no URL to deliver to (on a
    // restart every open call comes here; before, a pull call was FAILED "No compatible transport").
    if (this.init.db.getOffered(s.agent)?.mode === 'pull') return
    const until = Date.now() + AGENT_RETRY_FOR_MS
    const signal = (): AbortSignal => anySignalWithin(AGENT_CALL_TIMEOUT_MS, this.shutdown.signal)
    const cancelled = new AbortController()
    this.sending.set(callId, cancelled)
    const sendSignal = (): AbortSignal => anySignalWithin(AGENT_RETRY_FOR_MS, this.shutdown.signal, cancelled.signal)
    /** GetTasks in a row that failed as a broken stream would: the next waits (bounded loop). */
    let broken = 0
    let failures = 0
    let agentTaskId = s.agentTaskId
    let last = ''
    let pollMs = POLL_MIN_MS
    // A next turn resumed after a restart: its agent task is the one of the earlier turns.
    let prior = resumed && agentTaskId === null ? this.init.db.agentIdsOf(s.peer, s.taskId) : undefined
    /** The turn's messageId once its agent task was found holding it (`tookTurn`). */
    let adopted: string | undefined
    /**
     * A next turn of a task the agent already has: its messageId. The agent may answer it first
     * with its task as the earlier turn left it (input-required, the SDK's own pattern: a task
     * event first), which is no answer to this turn (helper finding, stop 28: taken as one, it
     * ended the turn with the earlier question and the agent's real answer was lost).
     */
    const turn = this.init.db.agentIdsOf(s.peer, s.taskId, s.callId) !== undefined ? JSON.parse(s.message).messageId as string : undefined
    let client: any
    for (;;) {
      if (this.shutdown.signal.aborted) return
      // Done meanwhile: a cancellation that came before the agent had the call (see `cancel`).
      if (this.init.db.getServed(callId)?.done !== false) { this.cancelAtAgent.delete(callId); return }
      let result: Message | Task
      try {
        client = await this.client(s.agent)
        if (prior !== undefined) {
          if (await this.tookTurn(client, s, prior.agentTaskId, signal())) {
            agentTaskId = prior.agentTaskId
            adopted = JSON.parse(s.message).messageId
            this.init.db.setAgentIds(s.callId, prior.agentTaskId, prior.agentContextId)
          }
          prior = undefined
        }
        if (agentTaskId === null && this.streams(s.agent)) {
          // A streaming agent: its events as they come, no polling; GetTask only after a break.
          const r = await this.stream(s, client, sendSignal(), turn, id => { agentTaskId = id })
          if (agentTaskId !== null && this.cancelledMeanwhile(s, client, agentTaskId)) return
          if (r === 'final') return
          if (agentTaskId === null) throw new Error('the agent ended its stream without a task')
          continue
        }
        if (agentTaskId === null) {
          result = await client.sendMessage({ tenant: '', message: this.agentMessage(s), configuration: SendMessageConfiguration.fromJSON({ returnImmediately: true }), metadata: undefined }, { signal: sendSignal() })
        } else {
          result = await client.getTask({ tenant: '', id: agentTaskId, historyLength: undefined }, { signal: signal() })
        }
        failures = 0
        broken = 0
      } catch (err) {
        if (this.shutdown.signal.aborted) return
        // An answer past its bound ends the call; read again it would pass it again (helper
        // finding, stop 28: a 3 MB artifact was fetched by GetTask ~26 times a second).
        const bound = tooLargeIn(err)
        if (bound === undefined && agentTaskId !== null && streamBroke(err)) {
          // Follow the task the agent has; a GetTask that breaks again waits first.
          if (broken++ > 0) await sleep(Math.min(POLL_MAX_MS, POLL_MIN_MS * 2 ** Math.min(10, broken)), this.shutdown.signal)
          continue
        }
        if (unreachable(err) && Date.now() < until) {
          this.clients.delete(s.agent)
          failures++
          await sleep(Math.min(AGENT_RETRY_MAX_MS, AGENT_RETRY_BASE_MS * 2 ** Math.min(10, failures - 1)), this.shutdown.signal)
          continue
        }
        // A refusal of ours keeps its code (TOO_LARGE: an answer past its bound); else the agent's.
        const code = bound !== undefined ? bound.code : err instanceof SovError ? err.code : httpRefusalCode(err) ?? 'UNAVAILABLE'
        await this.commit(s, failedTask(s, `error[${code}]: Cannot deliver to agent "${s.agent}": ${agentFailure(bound ?? err)}`, this.historyOf(s)))
        return
      }
      if (!isTask(result)) { await this.commit(s, result); return }
      if (adopted !== undefined && !TERMINAL.has(result.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) && !answeredSince(result, adopted)) {
        // Still the earlier turn's input-required (or working on ours): no answer to this turn yet.
        await sleep(pollMs, this.shutdown.signal)
        pollMs = Math.min(POLL_MAX_MS, Math.ceil(pollMs * 1.5))
        continue
      }
      if (result.id === '') {
        await this.commit(s, failedTask(s, `error[UNAVAILABLE]: Cannot deliver to agent "${s.agent}": ${noTaskId().message}`, this.historyOf(s)))
        return
      }
      if (agentTaskId === null) {
        agentTaskId = result.id
        this.init.db.setAgentIds(s.callId, result.id, result.contextId)
        if (this.cancelledMeanwhile(s, client, result.id)) return
      }
      if (staleTurn(result, turn)) {
        await sleep(pollMs, this.shutdown.signal)
        pollMs = Math.min(POLL_MAX_MS, Math.ceil(pollMs * 1.5))
        continue
      }
      const text = JSON.stringify(Task.toJSON(result))
      if (text !== last) {
        last = text
        pollMs = POLL_MIN_MS
        if (await this.commit(s, result)) return
      }
      if (this.init.db.getServed(callId)?.done !== false) return
      await sleep(pollMs, this.shutdown.signal)
      pollMs = Math.min(POLL_MAX_MS, Math.ceil(pollMs * 1.5))
    }
  }

  /**
   * Whether call `s` was cancelled before its agent task was known; if so the agent is asked (once,
   * not awaited) to cancel `agentTaskId`, the task the send in flight made after all.
   */
  private cancelledMeanwhile (s: ServedRow, client: any, agentTaskId: string): boolean {
    if (!this.cancelAtAgent.delete(s.callId)) return false
    void client.cancelTask({ tenant: '', id: agentTaskId, metadata: undefined }, { signal: AbortSignal.timeout(30_000) }).catch(() => {})
    return true
  }

  /**
   * Whether the agent's task `agentTaskId` already holds the call's message (by its messageId).
   * Unreachable: throws, so the caller retries; any other answer (the agent forgot the task): no.
   */
  private async tookTurn (client: any, s: ServedRow, agentTaskId: string, signal: AbortSignal): Promise<boolean> {
    const messageId = JSON.parse(s.message).messageId
    try {
      const t: Task = await client.getTask({ tenant: '', id: agentTaskId, historyLength: undefined }, { signal })
      return t.history.some(m => m.messageId === messageId)
    } catch (err) {
      if (unreachable(err)) throw err
      return false
    }
  }

  /**
   * The call's message as the agent must see it: in its own task and context ids (a later turn),
   * or its own context id (a new task in a context the agent already has).
   */
  private agentMessage (s: ServedRow): Message {
    const json = JSON.parse(s.message)
    const ids = this.init.db.agentIdsOf(s.peer, s.taskId)
    delete json.taskId
    delete json.contextId
    if (ids !== undefined) { json.taskId = ids.agentTaskId; json.contextId = ids.agentContextId } else {
      const contextId = this.init.db.agentContextOf(s.peer, s.agent, s.contextId)
      if (contextId !== undefined) json.contextId = contextId
    }
    return Message.fromJSON(json)
  }

  private streams (agent: string): boolean {
    let yes = this.streaming.get(agent)
    if (yes === undefined) {
      const row = this.init.db.getOffered(agent)
      yes = row !== undefined && JSON.parse(row.card)?.capabilities?.streaming === true
      this.streaming.set(agent, yes)
    }
    return yes
  }

  /**
   * SendStreamingMessage to the agent: the task of its first event, then its status and artifact
   * updates applied to it, each change committed as the call's next snapshot — except that the
   * events already there when one is applied (sent together by the agent) are applied first and
   * committed as one snapshot (issue 11 performance: a task and its completion written at once
   * cost a snapshot, a frame and the caller's processing each). 'final' when the call is over,
   * 'open' when the stream ended before.
   */
  private async stream (s: ServedRow, client: any, signal: AbortSignal, turn: string | undefined, onTaskId: (id: string) => void): Promise<'final' | 'open'> {
    let task: Task | undefined
    let changed = false
    const events: AsyncIterator<any> = client.sendMessageStream({ tenant: '', message: this.agentMessage(s), configuration: undefined, metadata: undefined }, { signal })[Symbol.asyncIterator]()
    let next = events.next()
    try {
      for (;;) {
        const r = await next
        if (r.done === true) break
        next = events.next()
        const pl = r.value.payload
        if (pl === undefined) continue
        if (pl.$case === 'message') {
          if (task === undefined) { await this.commit(s, pl.value); return 'final' }
          continue
        }
        if (pl.$case === 'task') {
          if (pl.value.id === '') throw noTaskId()
          if (task === undefined) { onTaskId(pl.value.id); this.init.db.setAgentIds(s.callId, pl.value.id, pl.value.contextId) }
          task = structuredClone(pl.value)
        } else if (task === undefined) {
          continue
        } else if (pl.$case === 'statusUpdate' && pl.value.status !== undefined) {
          const status = structuredClone(pl.value.status)
          task.status = status
          const m = status.message
          if (m !== undefined && !task.history.some(h => h.messageId === m.messageId)) task.history.push(structuredClone(m))
        } else if (pl.$case === 'artifactUpdate' && pl.value.artifact !== undefined) {
          const a = structuredClone(pl.value.artifact)
          const i = task.artifacts.findIndex(x => x.artifactId === a.artifactId)
          if (i < 0) task.artifacts.push(a)
          else if (pl.value.append) task.artifacts[i].parts.push(...a.parts)
          else task.artifacts[i] = a
        } else {
          continue
        }
        // The earlier turn's state replayed: not this turn's answer, not a snapshot to send.
        if (staleTurn(task!, turn)) continue
        changed = true
        if (!FINAL_STATES.has(task!.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) && await arrived(next)) continue
        changed = false
        if (await this.commit(s, task!)) return 'final'
      }
      if (changed && task !== undefined && await this.commit(s, task)) return 'final'
      return 'open'
    } finally {
      // Early (a final snapshot): the rest of the response is read, or cut by `signal`, unwaited.
      next.catch(() => {})
      void events.return?.()?.catch(() => {})
    }
  }

  /**
   * The conversation a failed turn keeps: the task's history as its last snapshot had it, and this
   * turn's message (helper finding, stop 28: a next turn that failed replaced the task on the
   * caller's node with one holding only the error).
   */
  private historyOf (s: ServedRow): unknown[] {
    const prev = this.init.db.lastServedSnapshot(s.peer, s.taskId)
    const history: Array<{ messageId?: string }> = prev === undefined ? [] : JSON.parse(prev).history ?? []
    const message = JSON.parse(s.message)
    if (!history.some(m => m.messageId === message.messageId)) history.push({ ...message, taskId: s.taskId, contextId: s.contextId })
    return history
  }

  /** The agent's task under the caller's task and context ids. */
  private rewrite (s: ServedRow, t: Task): Task {
    const task = structuredClone(t)
    task.id = s.taskId
    task.contextId = s.contextId
    for (const m of [...task.history, ...(task.status?.message !== undefined ? [task.status.message] : [])]) {
      if (m.taskId !== '') m.taskId = s.taskId
      if (m.contextId !== '') m.contextId = s.contextId
    }
    return task
  }

  /**
   * Rewrites the agent's answer into the caller's ids and commits it as the call's next event;
   * true when final (then once it is durable: `TaskDb.appendServedEvent`).
   */
  private async commit (s: ServedRow, result: Message | Task): Promise<boolean> {
    // Done already (a cancellation was committed meanwhile): nothing more to record.
    if (this.init.db.getServed(s.callId)?.done !== false) return true
    let task: Task
    if (isTask(result)) {
      task = result // `rewrite` below works on a copy
    } else {
      // A bare Message answer: the call still is a task on both nodes, completed with it.
      task = Task.fromJSON({ id: s.taskId, contextId: s.contextId, status: { state: 'TASK_STATE_COMPLETED', timestamp: new Date().toISOString() } })
      task.status!.message = structuredClone(result as Message)
    }
    task = this.rewrite(s, task)
    let text = JSON.stringify(Task.toJSON(task))
    // A snapshot that cannot cross the mesh in one frame ends the call, saying why, instead of
    // being sent, refused by the caller's node and sent again for as long as the call lives.
    const bytes = payloadTooLarge(text)
    if (bytes !== undefined) {
      task = failedTask(s, `error[TOO_LARGE]: Agent "${s.agent}" answered with a task of ${bytes} bytes of JSON, over the ${MAX_TASK_PAYLOAD_BYTES} bytes a snapshot can carry across the mesh; have the agent return large content as a file URL`, this.historyOf(s))
      text = JSON.stringify(Task.toJSON(task))
    }
    const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
    const final = FINAL_STATES.has(state)
    try {
      await this.init.db.appendServedEvent(s.callId, text, final)
    } catch (err) {
      if (!final) throw err
      // Committed but not durable: held back from the caller until the restart's sync.
      console.error(`a2a: cannot make the final snapshot of call ${s.callId} durable: ${(err as Error).message}`)
      return true
    }
    if (final) {
      void report(this.init.audit, {
        type: 'A2A_TASK_ENDED',
        actor: `peer:${s.peer}`,
        outcome: state === TaskState.TASK_STATE_COMPLETED || state === TaskState.TASK_STATE_INPUT_REQUIRED ? 'ok' : 'error',
        detail: { side: 'callee', callId: s.callId, agent: s.agent, taskId: s.taskId, state: taskStateToJSON(state), terminal: TERMINAL.has(state) }
      })
    }
    this.init.onEvent(s.callId)
    return final
  }
}

/** True when `p` settles before the event loop's next turn (its value has already arrived). */
async function arrived (p: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setImmediate> | undefined
  const later = new Promise<boolean>(resolve => { timer = setImmediate(() => { resolve(false) }) })
  try {
    return await Promise.race([p.then(() => true, () => true), later])
  } finally {
    clearImmediate(timer)
  }
}

function isTask (r: Message | Task): r is Task {
  return 'status' in r && 'artifacts' in r
}

/** The call cancelled by its caller before its agent had it. */
function canceledTask (s: ServedRow): Task {
  return Task.fromJSON({
    id: s.taskId,
    contextId: s.contextId,
    history: [JSON.parse(s.message)],
    status: {
      state: 'TASK_STATE_CANCELED',
      timestamp: new Date().toISOString(),
      message: { messageId: `sov-${s.callId}`, role: 'ROLE_AGENT', taskId: s.taskId, contextId: s.contextId, parts: [{ text: `Cancelled before agent "${s.agent}" had the call` }] }
    }
  })
}

function failedTask (s: ServedRow, reason: string, history: unknown[] = []): Task {
  return Task.fromJSON({
    id: s.taskId,
    contextId: s.contextId,
    history,
    status: {
      state: 'TASK_STATE_FAILED',
      timestamp: new Date().toISOString(),
      message: { messageId: `sov-${s.callId}`, role: 'ROLE_AGENT', taskId: s.taskId, contextId: s.contextId, parts: [{ text: reason }] }
    }
  })
}

/**
 * An agent's task without an id: nothing to follow it by (helper finding, stop 28: B asked the
 * agent for GetTask `{}` and failed the call with the parse error of its answer).
 */
function noTaskId (): Error {
  return new Error('it answered with a task without an id')
}

/** Our `error[TOO_LARGE]` (an agent's answer past its bound) in `err` or its causes, as the SDK passes it on. */
function tooLargeIn (err: unknown): SovError | undefined {
  for (let e: any = err, depth = 0; e !== undefined && e !== null && depth < 5; e = e.cause, depth++) {
    if (e instanceof SovError && e.code === 'TOO_LARGE') return e
  }
  return undefined
}

/**
 * The code of an agent's HTTP refusal (4xx, as the SDK words it: "…: 413 Payload Too Large"):
 * a permanent failure, not the outage UNAVAILABLE would say (helper finding, stop 29).
 */
function httpRefusalCode (err: any): string | undefined {
  const status = Number(/\b(4\d\d) [A-Z]/.exec(String(err?.message ?? ''))?.[1])
  if (Number.isNaN(status)) return undefined
  return status === 413 ? 'TOO_LARGE' : status === 401 || status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST'
}

/** A stream that broke (the agent went away mid-task), after which GetTask takes over. */
function streamBroke (err: any): boolean {
  return unreachable(err) || /terminated|aborted|SSE|stream/i.test(`${err?.name ?? ''} ${err?.message ?? ''}`)
}

/**
 * Why a call to the agent failed, in words fit for the caller, who is on another machine: the
 * HTTP status of an error page, never the page (an agent's HTML error page carried its file paths
 * to the caller, helper finding, stop 26); one line of at most 300 characters.
 */
function agentFailure (err: unknown): string {
  const text = String((err as Error)?.message ?? err).replace(/\. Response: [\s\S]*$/, ' (its body is not a JSON-RPC answer)')
  return text.replace(/\s+/g, ' ').slice(0, 300)
}

/** Whether the agent wrote to `task` after the message `messageId` (its answer to that turn). */
function answeredSince (task: Task, messageId: string): boolean {
  const i = task.history.findIndex(m => m.messageId === messageId)
  const status = task.status?.message
  return task.history.slice(i + 1).some(m => m.role === Role.ROLE_AGENT) ||
    (status !== undefined && !task.history.slice(0, i + 1).some(m => m.messageId === status.messageId))
}

/**
 * Whether `task` shows a next turn (`turn`: its messageId) not answered yet: still interrupted
 * (input-required, auth-required) with nothing from the agent after the turn's message.
 */
function staleTurn (task: Task, turn: string | undefined): boolean {
  return turn !== undefined && INTERRUPTED.has(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED) && !answeredSince(task, turn)
}

/** A connection failure (agent down), as opposed to an answer from the agent. */
function unreachable (err: any): boolean {
  const text = `${err?.name ?? ''} ${err?.message ?? ''} ${err?.cause?.code ?? ''} ${err?.cause?.message ?? ''}`
  return /fetch failed|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|UND_ERR|TimeoutError|other side closed/i.test(text)
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done)
  })
}
