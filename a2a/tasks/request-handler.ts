/**
 * `DefaultRequestHandler` with CancelTask and SubscribeToTask across the mesh.
 * - CancelTask: the SDK's own only marks the task CANCELED in the local store (or asks a running
 *   executor). Here the cancellation first travels to the callee's agent; only the agent's answer
 *   decides, and it ends the call so no later snapshot overrides it. A refusal (or a task the
 *   agent never got) is TaskNotCancelableError.
 * - SendMessage and SendStreamingMessage: a message too large to cross the mesh in one frame is
 *   refused before anything is stored (RequestMalformed, -32602, naming the limit); before, it
 *   was accepted and then re-sent for a day without ever reaching the callee. A push
 *   notification config is PushNotificationNotSupported (-32003), not ignored. One turn of a
 *   task at a time (`claimTurn`); a context is its local agent's. A message sent again (same
 *   `messageId`: a client's retry after a lost answer) is answered with the task it started, not
 *   sent to the agent a second time (`sentBefore`).
 * - CancelTask of a task already in a terminal state, CANCELED included: TaskNotCancelable
 *   (-32002, A2A v1.0 §3.1.5); the SDK answers a cancelled one with the task.
 * - SubscribeToTask: the SDK's follows only the event bus of an executor running in this process,
 *   which a restart (or the end of the blocking bound) leaves behind, so the stream ended after
 *   the first snapshot. Here it follows the task in `tasks.db`, where every snapshot the callee
 *   sends is applied, whoever is following the call (issue 11).
 */
import { Message, Role, Task, TaskState, roleToJSON, taskStateToJSON, type CancelTaskRequest, type GetTaskRequest, type SendMessageRequest, type StreamResponse, type SubscribeToTaskRequest } from '@a2a-js/sdk'
import { DefaultRequestHandler, type ServerCallContext } from '@a2a-js/sdk/server'
import { PushNotificationNotSupportedError, RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from '@a2a-js/sdk/errors'
import { MAX_CALL_MESSAGE_BYTES, payloadTooLarge } from '../../protocol/index.js'
import type { MeshExecutor } from './executor.js'
import { checkHistoryLength, ownerOf, type SqliteTaskStore } from './task-store.js'
import { INTERRUPTED_STATES, TERMINAL_STATES as TERMINAL, updatesBetween } from './task-updates.js'

/** What the gateway's user object carries besides the SDK's `User` (`gateway-app.ts`). */
interface StreamHooks { signal?: AbortSignal, keepAlive?: () => void }

/** Quiet time after which a SubscribeToTask stream gets an SSE comment. @default 30 s */
export const SUBSCRIBE_KEEPALIVE_MS = 30_000

export class MeshRequestHandler extends DefaultRequestHandler {
  constructor (
    card: ConstructorParameters<typeof DefaultRequestHandler>[0],
    private readonly store: SqliteTaskStore,
    private readonly executor: MeshExecutor,
    /** Sends the cancellation of the task's last call to the callee; the agent's task, or undefined. */
    private readonly cancelRemote: (taskId: string) => Promise<Record<string, any> | undefined>,
    /** Whether the task's last call is still open (its turn has not reached a final state). */
    private readonly turnOpen: (taskId: string) => boolean,
    /** The call `owner` already sent with the message `messageId`: its task id and message (A2A JSON text). */
    private readonly sentBefore: (owner: string, messageId: string) => { taskId: string, message: string } | undefined
  ) {
    super(card, store, executor)
  }

  /** Tasks (owner and id) whose next turn is being started here, until its call is committed. */
  private readonly starting = new Set<string>()
  /** Messages (owner and messageId) being sent here, until their call is committed. */
  private readonly sending = new Set<string>()

  override async getTask (params: GetTaskRequest, context: ServerCallContext): Promise<Task> {
    checkHistoryLength(params.historyLength)
    return await super.getTask(params, context)
  }

  override async sendMessage (params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    checkRequest(params)
    const sent = this.sentTask(params, context)
    if (sent !== undefined) return sent
    const release = this.claimTurn(params, context)
    try {
      return await super.sendMessage(params, context)
    } finally {
      release()
    }
  }

  override async * sendMessageStream (params: SendMessageRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    checkRequest(params)
    const sent = this.sentTask(params, context)
    if (sent !== undefined) {
      // As SubscribeToTask from here; a task whose turn is over is all there is to say.
      const state = sent.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
      if (TERMINAL.has(state) || INTERRUPTED_STATES.has(state)) yield { payload: { $case: 'task', value: sent } }
      else yield * this.resubscribe({ tenant: params.tenant, id: sent.id }, context)
      return
    }
    const release = this.claimTurn(params, context)
    try {
      // The first event comes once the turn's call is committed: from then on turnOpen says so.
      for await (const e of super.sendMessageStream(params, context)) { release(); yield e }
    } finally {
      release()
    }
  }

  /**
   * A message this caller already sent (same `messageId`; A2A v1.0 `Message.messageId`: unique,
   * made by its creator) is a retry — its answer was lost, or the client gave up waiting — so it
   * gets the task that message started, as stored now, and the agent does not get it twice.
   * Before, it became a second task and the agent did the work again. The same messageId on
   * other content is RequestMalformed (-32602); one whose first send is still being committed is
   * UnsupportedOperation (-32004), to be sent again in a moment.
   */
  private sentTask (params: SendMessageRequest, context: ServerCallContext): Task | undefined {
    const messageId = params.message?.messageId ?? ''
    if (messageId === '') return undefined
    const owner = ownerOf(context)
    const call = this.sentBefore(owner, messageId)
    const busy = (): UnsupportedOperationError => new UnsupportedOperationError(`Message ${messageId.slice(0, 64)} is being sent by another request: send it again in a moment to get its task`)
    if (call === undefined) {
      if (this.sending.has(`${owner}\n${messageId}`)) throw busy()
      return undefined
    }
    const before = JSON.parse(call.message)
    const now = Message.toJSON(params.message!) as Record<string, any>
    if (JSON.stringify(before.parts) !== JSON.stringify(now.parts) || (now.taskId !== undefined && now.taskId !== '' && now.taskId !== call.taskId)) {
      throw new RequestMalformedError(`error[BAD_REQUEST]: message.messageId "${messageId.slice(0, 64)}" was already sent with other content (task ${call.taskId}): give each new message its own messageId`)
    }
    // The call is committed before the SDK stores its task: in between, it is still being sent.
    const task = this.store.loadNow(call.taskId, context)
    if (task === undefined) throw busy()
    return task
  }

  /**
   * One turn of a task at a time: a message to a task of this caller whose previous turn is still
   * open (or being started by another request) is UnsupportedOperation (-32004). Two at once went
   * to the agent as two calls whose snapshots overwrote each other: wrong answers, a terminal
   * state changed after it was reported (helper finding, stop 26). First, a `contextId` holding
   * another local agent's tasks is RequestMalformed (-32602). Returns the release.
   */
  private claimTurn (params: SendMessageRequest, context: ServerCallContext): () => void {
    const taskId = params.message?.taskId ?? ''
    const contextId = params.message?.contextId ?? ''
    // A context is its local agent's: another token's message in it would reach the remote agent
    // in that conversation, whose memory it could read or change (helper finding, stop 26).
    if (contextId !== '' && this.store.contextOfOthers(contextId, context)) {
      throw new RequestMalformedError(`error[BAD_REQUEST]: contextId "${contextId.slice(0, 64)}" is not one of your conversations: leave it out to start a new one`)
    }
    const owner = ownerOf(context)
    const message = `${owner}\n${params.message?.messageId ?? ''}`
    // A task this caller does not have is the SDK's to refuse (TaskNotFound).
    const key = taskId === '' || this.store.loadNow(taskId, context) === undefined ? undefined : `${owner}\n${taskId}`
    if (key !== undefined && (this.starting.has(key) || this.turnOpen(taskId))) {
      throw new UnsupportedOperationError(`Task ${taskId} has a turn in flight: send the next message once it needs input (follow it with SubscribeToTask or GetTask), or cancel it if its agent is a forward one`)
    }
    if (key !== undefined) this.starting.add(key)
    this.sending.add(message)
    let held = true
    return () => {
      if (!held) return
      held = false
      if (key !== undefined) this.starting.delete(key)
      this.sending.delete(message)
    }
  }

  override async cancelTask (params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    const task = await this.store.load(params.id, context)
    const state = task?.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
    if (task !== undefined && TERMINAL.has(state)) throw new TaskNotCancelableError(`Task not cancelable: ${params.id} is already in a terminal state (${taskStateToJSON(state)})`)
    if (task !== undefined) {
      let answer: Record<string, any> | undefined
      try {
        answer = await this.cancelRemote(task.id)
      } catch (err) {
        // Not "not cancelable": the callee was not asked (helper finding, stop 29). A plain
        // error is JSON-RPC -32603 with this message; the task goes on and may be cancelled later.
        throw new Error(`error[UNAVAILABLE]: Cannot cancel task ${params.id} now: ${(err as Error).message}; the task goes on — send CancelTask again once the callee's node is reachable`)
      }
      if (answer === undefined) throw new TaskNotCancelableError(`Task not cancelable: ${params.id}: the callee did not accept the cancellation (an agent that answers with sov a2a reply ends its tasks itself)`)
      const remote = Task.fromJSON(answer)
      const merged = { ...task, status: remote.status, artifacts: remote.artifacts.length > 0 ? remote.artifacts : task.artifacts }
      this.store.announce(merged, context)
      this.executor.cancelled(task.id, merged)
    }
    return await super.cancelTask(params, context)
  }

  /**
   * SubscribeToTask (A2A v1.0 §3.1.6, JSON-RPC §9.4.6): the task as stored now, then an artifact
   * and status update for every later snapshot, until a terminal state — or until a later
   * snapshot enters `INPUT_REQUIRED` / `AUTH_REQUIRED` (the turn is over; the client sends the
   * next message), as SendStreamingMessage ends. Works for a task followed by this process or
   * taken up again after a restart of either node.
   *
   * Errors (before the stream starts, so the SDK answers with a JSON-RPC error): no id →
   * RequestMalformed (-32602); unknown to this token → TaskNotFound (-32001); already terminal →
   * UnsupportedOperation (-32004), as §3.1.6 says. The stream also ends when the client goes away
   * or the endpoint stops (the request's signal); while nothing happens it carries an SSE comment
   * every `SUBSCRIBE_KEEPALIVE_MS`.
   */
  override async * resubscribe (params: SubscribeToTaskRequest, context: ServerCallContext): AsyncGenerator<StreamResponse, void, undefined> {
    const id = params.id
    if (typeof id !== 'string' || id.trim() === '') throw new RequestMalformedError('Task ID is required')
    const queue: Task[] = []
    let wake = (): void => {}
    const hooks = context.user as StreamHooks | undefined
    const signal = hooks?.signal
    const onAbort = (): void => { wake() }
    signal?.addEventListener('abort', onAbort)
    // Watch first, then read, in the same tick: every commit after the read is queued, none is
    // missed (commits run on this thread), and none is older than the snapshot read.
    const unwatch = this.store.watch(id, context, t => { queue.push(t); wake() })
    try {
      const task = this.store.loadNow(id, context)
      if (task === undefined) throw new TaskNotFoundError(`Task not found: ${id}`)
      const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
      if (TERMINAL.has(state)) throw new UnsupportedOperationError(`Task ${id} is in a terminal state (${taskStateToJSON(state)}) and cannot be subscribed to`)
      yield { payload: { $case: 'task', value: task } }
      // Input or auth required: this turn is over (as SendStreamingMessage ends there); the
      // client's next message opens the next. Before, the stream stayed open with nothing to say.
      if (INTERRUPTED_STATES.has(state)) return
      let prev = task
      for (;;) {
        while (queue.length === 0) {
          if (signal?.aborted === true) return
          const woken = await new Promise<boolean>(resolve => {
            const t = setTimeout(() => { resolve(false) }, SUBSCRIBE_KEEPALIVE_MS)
            wake = () => { clearTimeout(t); resolve(true) }
          })
          wake = () => {}
          if (!woken) hooks?.keepAlive?.()
        }
        const next = queue.shift()!
        const ids = { taskId: task.id, contextId: task.contextId }
        const nextState = next.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
        const ends = TERMINAL.has(nextState) || (INTERRUPTED_STATES.has(nextState) && JSON.stringify(next.status) !== JSON.stringify(prev.status))
        for (const ev of updatesBetween(prev, next, ids, ends)) {
          if (ev.kind === 'statusUpdate') yield { payload: { $case: 'statusUpdate', value: ev.data } }
          else if (ev.kind === 'artifactUpdate') yield { payload: { $case: 'artifactUpdate', value: ev.data } }
        }
        prev = next
        if (ends) return
      }
    } finally {
      unwatch()
      signal?.removeEventListener('abort', onAbort)
    }
  }
}

/**
 * Refuses what this endpoint cannot honour before anything is stored: a push notification config
 * (the card says `pushNotifications: false`; the SDK ignored it silently, so a client waited for
 * notifications that never came: PushNotificationNotSupported, -32003), a `historyLength` that is
 * no whole number, and a message whose JSON could not cross the mesh in one frame with room for
 * the answer (`MAX_CALL_MESSAGE_BYTES`).
 */
function checkRequest (params: SendMessageRequest): void {
  if (params.configuration?.taskPushNotificationConfig !== undefined) {
    throw new PushNotificationNotSupportedError('Push notifications are not supported: follow the task with SendStreamingMessage, SubscribeToTask or GetTask')
  }
  checkHistoryLength(params.configuration?.historyLength)
  if (params.message === undefined) return
  // An A2A message carries one part or more, and a client's speaks for the user (role).
  if (params.message.parts.length === 0) throw new RequestMalformedError('error[BAD_REQUEST]: message.parts: give at least one part (text, data, raw or url)')
  if (params.message.role !== Role.ROLE_USER) throw new RequestMalformedError(`error[BAD_REQUEST]: message.role: a client's message is ROLE_USER, not ${roleToJSON(params.message.role)}`)
  const bytes = payloadTooLarge(JSON.stringify(Message.toJSON(params.message)), MAX_CALL_MESSAGE_BYTES)
  if (bytes !== undefined) {
    throw new RequestMalformedError(`error[TOO_LARGE]: Cannot send the message: its JSON is ${bytes} bytes, over the ${MAX_CALL_MESSAGE_BYTES} bytes a call across the mesh carries (its task keeps room for the answer); send large content as a file URL, or split it over several messages`)
  }
}
