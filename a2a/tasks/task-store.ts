/**
 * The SDK's `TaskStore` (`@a2a-js/sdk/server`) on `tasks.db`: one scope per remote agent and
 * local caller (`peer/agent/owner`), so a task id is found only under the agent it was sent to,
 * by the local agent token that sent it. `list` pages newest
 * first with an opaque cursor (A2A v1.0 `ListTasks`, `pageToken`/`nextPageToken`).
 */
import { Task, TaskState, taskStateToJSON, type ListTasksRequest, type ListTasksResponse } from '@a2a-js/sdk'
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server'
import { RequestMalformedError } from '@a2a-js/sdk/errors'
import type { TaskDb } from './task-db.js'

export class SqliteTaskStore implements TaskStore {
  /** `scopeOf` for the caller of a request: its local agent (the bearer token's name). */
  constructor (private readonly db: TaskDb, private readonly scopeFor: (owner: string) => string) {}

  private scope (context?: ServerCallContext): string {
    return this.scopeFor(ownerOf(context))
  }

  async save (task: Task, context?: ServerCallContext): Promise<void> {
    const state = taskStateToJSON(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)
    this.db.saveTask(this.scope(context), task.id, task.contextId, state, JSON.stringify(Task.toJSON(task)))
  }

  /**
   * A snapshot that did not come from the callee's events (the agent's answer to CancelTask):
   * saved, and handed to the task's subscribers.
   */
  announce (task: Task, context?: ServerCallContext): void {
    const state = taskStateToJSON(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)
    this.db.announceTask(this.scope(context), task.id, task.contextId, state, JSON.stringify(Task.toJSON(task)))
  }

  /** Every later snapshot of the caller's task `taskId` (`TaskDb.watchTask`); returns the unwatch. */
  watch (taskId: string, context: ServerCallContext | undefined, fn: (task: Task) => void): () => void {
    return this.db.watchTask(this.scope(context), taskId, text => { fn(Task.fromJSON(JSON.parse(text))) })
  }

  /** The stored snapshot, read at once (no await before the read). */
  loadNow (taskId: string, context?: ServerCallContext): Task | undefined {
    const text = this.db.loadTask(this.scope(context), taskId)
    return text === undefined ? undefined : Task.fromJSON(JSON.parse(text))
  }

  async load (taskId: string, context?: ServerCallContext): Promise<Task | undefined> {
    return this.loadNow(taskId, context)
  }

  /** Whether `contextId` holds tasks of another local agent than the caller of `context`. */
  contextOfOthers (contextId: string, context?: ServerCallContext): boolean {
    return this.db.contextOfOthers(ownerOf(context), contextId)
  }

  async list (params: ListTasksRequest, context?: ServerCallContext): Promise<ListTasksResponse> {
    const pageSize = params.pageSize ?? 50
    checkHistoryLength(params.historyLength)
    const filter = {
      contextId: params.contextId === '' ? undefined : params.contextId,
      state: params.status === undefined || params.status === TaskState.TASK_STATE_UNSPECIFIED ? undefined : taskStateToJSON(params.status),
      updatedAfter: timestampAfter(params.statusTimestampAfter)
    }
    const after = decodeCursor(params.pageToken)
    const rows = this.db.listTasks(this.scope(context), { ...filter, limit: pageSize + 1, after })
    const page = rows.slice(0, pageSize)
    const tasks = page.map(r => {
      const t = Task.fromJSON(JSON.parse(r.task))
      if (params.includeArtifacts !== true) t.artifacts = []
      if (params.historyLength !== undefined) t.history = params.historyLength > 0 ? t.history.slice(-params.historyLength) : []
      return t
    })
    const last = page[page.length - 1]
    return {
      tasks,
      nextPageToken: rows.length > pageSize && last !== undefined ? encodeCursor(last.updatedAt, last.id) : '',
      pageSize,
      totalSize: this.db.countTasks(this.scope(context), filter)
    }
  }
}

/**
 * Refuses a `historyLength` that is no whole number of messages, 0 or more (-32602). Every method
 * that takes one checks it (ListTasks, GetTask, SendMessage's configuration): GetTask took -1 as
 * "no history" and 1.5 as it came (helper finding, stop 33).
 */
export function checkHistoryLength (historyLength: number | undefined): void {
  if (historyLength !== undefined && !(Number.isInteger(historyLength) && historyLength >= 0)) {
    throw new RequestMalformedError(`error[BAD_REQUEST]: historyLength ${String(historyLength)}: give a whole number of messages, 0 or more`)
  }
}

/** The local agent a request runs for; '' when unauthenticated (never reached: the gateway refuses). */
export function ownerOf (context?: ServerCallContext): string {
  return context?.user?.isAuthenticated === true ? context.user.userName : ''
}

function encodeCursor (updatedAt: number, id: string): string {
  return Buffer.from(JSON.stringify([updatedAt, id])).toString('base64url')
}

function decodeCursor (token: string): { updatedAt: number, id: string } | undefined {
  if (token === '') return undefined
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
    // Base64 decoding skips what is not base64: only the very token issued is taken.
    if (typeof updatedAt === 'number' && typeof id === 'string' && encodeCursor(updatedAt, id) === token) return { updatedAt, id }
  } catch {}
  // A token this endpoint never issued is the client's mistake, not an empty page.
  throw new RequestMalformedError(`error[BAD_REQUEST]: pageToken "${token.slice(0, 64)}" is not one this endpoint issued: pass the nextPageToken of the previous ListTasks page, or none for the first page`)
}

/**
 * `statusTimestampAfter` (A2A v1.0 §3.1.4, an ISO 8601 time) as ms since the epoch: tasks whose
 * status changed after it. Our tasks are stamped when a snapshot is stored, which is when their
 * status last changed here. Not a time → RequestMalformed (-32602).
 */
function timestampAfter (value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new RequestMalformedError(`error[BAD_REQUEST]: statusTimestampAfter "${value.slice(0, 64)}" is not a time: give an ISO 8601 time such as 2026-12-01T10:00:00Z`)
  return ms
}
