/**
 * `DefaultRequestHandler` with CancelTask across the mesh: the SDK's own cancelTask only marks
 * the task CANCELED in the local store (or asks a running executor). Here the cancellation first
 * travels to the callee's agent; only the agent's answer decides, and it ends the call so no later
 * snapshot overrides it. A refusal (or a task the agent never got) is TaskNotCancelableError.
 */
import { Task, TaskState, type CancelTaskRequest } from '@a2a-js/sdk'
import { DefaultRequestHandler, type ServerCallContext } from '@a2a-js/sdk/server'
import { TaskNotCancelableError } from '@a2a-js/sdk/errors'
import type { MeshExecutor } from './executor.js'
import type { SqliteTaskStore } from './task-store.js'

const TERMINAL = new Set<TaskState>([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED])

export class MeshRequestHandler extends DefaultRequestHandler {
  constructor (
    card: ConstructorParameters<typeof DefaultRequestHandler>[0],
    private readonly store: SqliteTaskStore,
    private readonly executor: MeshExecutor,
    /** Sends the cancellation of the task's last call to the callee; the agent's task, or undefined. */
    private readonly cancelRemote: (taskId: string) => Promise<Record<string, any> | undefined>
  ) {
    super(card, store, executor)
  }

  override async cancelTask (params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    const task = await this.store.load(params.id, context)
    if (task !== undefined && !TERMINAL.has(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      const answer = await this.cancelRemote(task.id).catch(() => undefined)
      if (answer === undefined) throw new TaskNotCancelableError(`Task not cancelable: ${params.id}: the agent did not accept the cancellation`)
      const remote = Task.fromJSON(answer)
      const merged = { ...task, status: remote.status, artifacts: remote.artifacts.length > 0 ? remote.artifacts : task.artifacts }
      await this.store.save(merged, context)
      this.executor.cancelled(task.id, merged)
    }
    return await super.cancelTask(params, context)
  }
}
