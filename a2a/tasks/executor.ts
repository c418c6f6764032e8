/**
 * The SDK's `AgentExecutor` for a remote agent: a SendMessage becomes a call over the mesh
 * (`RemoteCalls`), and each task snapshot the callee sends back is published on the event bus.
 * The call is committed before anything is sent, so the task outlives this request: when the
 * blocking bound passes, or the node restarts, the call keeps being followed and `GetTask` shows
 * its progress.
 */
import { AgentEvent, type ExecutionEventBus, type AgentExecutor, type RequestContext } from '@a2a-js/sdk/server'
import { Message, Task, TaskState } from '@a2a-js/sdk'
import { v7 as uuidv7 } from 'uuid'
import type { RemoteCalls } from './remote.js'
import { FINAL_STATES } from './forward.js'
import { ownerOf } from './task-store.js'
import { BLOCKING_MAX_MS } from './endpoint.js'
import { updatesBetween } from './task-updates.js'

export class MeshExecutor implements AgentExecutor {
  /** Ends the wait of a running execute() with a final task (a cancellation), by task id. */
  private readonly finishers = new Map<string, (task: Task) => void>()

  /**
   * `closing`: aborted as the endpoint stops; an open request then ends with the task so far, as
   * at the blocking bound, so its client learns the task id (helper finding, stop 29: a SIGTERM
   * reset blocking calls without one, and a retry ran the work twice).
   */
  constructor (private readonly remote: RemoteCalls, private readonly peer: string, private readonly agent: string, private readonly blockingMaxMs = BLOCKING_MAX_MS, private readonly closing?: AbortSignal) {}

  execute = async (rc: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const message = Message.toJSON(rc.userMessage) as Record<string, any>
    const first = rc.task !== undefined ? structuredClone(rc.task) : Task.fromJSON({ id: rc.taskId, contextId: rc.contextId, history: [message] })
    first.status = { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() }
    const owner = ownerOf(rc.context)
    const actor = owner === '' ? 'unknown' : `agent:${owner}`
    // After the first Task event the SDK takes only status and artifact updates (its stream
    // pattern), and its queue ends a request on a final status update: each snapshot from the
    // callee becomes the updates that lead from the previous one to it.
    let prev = first
    const apply = (task: Task, final: boolean): void => {
      for (const ev of updatesBetween(prev, task, { taskId: rc.taskId, contextId: rc.contextId }, final)) bus.publish(ev)
      prev = task
    }
    const finish = (task: Task): void => { apply(task, true) }
    let timer: ReturnType<typeof setTimeout> | undefined
    let off = (): void => {}
    let ended = (): void => {}
    const over = new Promise<void>(resolve => { ended = resolve })
    const onClosing = (): void => { done() }
    const done = (): void => { clearTimeout(timer); off(); this.finishers.delete(rc.taskId); this.closing?.removeEventListener('abort', onClosing); ended() }
    // The call is durable before the client hears of the task (the SDK answers on the first
    // event); its snapshots need a round trip to the callee, so none comes before that event.
    off = await this.remote.call(
      { callId: uuidv7(), peer: this.peer, agent: this.agent, owner, taskId: rc.taskId, contextId: rc.contextId, message: JSON.stringify(message) },
      actor,
      e => {
        const task = Task.fromJSON({ ...e.task, id: rc.taskId, contextId: rc.contextId })
        const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED
        if (e.final || FINAL_STATES.has(state)) {
          finish(task)
          done()
        } else {
          apply(task, false)
        }
      }
    )
    bus.publish(AgentEvent.task(first))
    timer = setTimeout(done, this.blockingMaxMs)
    this.finishers.set(rc.taskId, task => { finish(task); done() })
    if (this.closing?.aborted === true) done()
    else this.closing?.addEventListener('abort', onClosing, { once: true })
    await over
  }

  /** Called by the request handler once the callee's agent accepted a cancellation. */
  cancelled (taskId: string, task: Task): void {
    this.finishers.get(taskId)?.(task)
  }

  cancelTask = async (_taskId: string, _bus: ExecutionEventBus): Promise<void> => {
    // The mesh round trip and the final event are done by MeshRequestHandler.cancelTask first.
  }
}
