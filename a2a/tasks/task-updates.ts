/**
 * The A2A v1.0 stream events (spec §3.2.3 `StreamResponse`: `TaskArtifactUpdateEvent`,
 * `TaskStatusUpdateEvent`) that lead a client from one snapshot of a task to the next. The callee
 * sends whole snapshots; a stream (SendStreamingMessage, SubscribeToTask) sends the task once and
 * then these updates.
 */
import { AgentEvent, type AgentExecutionEvent } from '@a2a-js/sdk/server'
import { TaskState, type Task } from '@a2a-js/sdk'

/** States after which no further update comes (spec §3.1.6: the stream then ends). */
export const TERMINAL_STATES = new Set<TaskState>([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED])
/** States in which the task waits for the client (spec §4.1.3); a turn's stream ends there. */
export const INTERRUPTED_STATES = new Set<TaskState>([TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED])

/**
 * An artifact update for each artifact of `next` that is new or changed since `prev` (sent whole,
 * `append: false`), then a status update if the status changed (or `forceStatus`). Ids are
 * `taskId`/`contextId` (the caller's).
 */
export function updatesBetween (prev: Task, next: Task, ids: { taskId: string, contextId: string }, forceStatus = false): AgentExecutionEvent[] {
  const out: AgentExecutionEvent[] = []
  for (const a of next.artifacts) {
    const before = prev.artifacts.find(x => x.artifactId === a.artifactId)
    if (before === undefined || JSON.stringify(before) !== JSON.stringify(a)) {
      out.push(AgentEvent.artifactUpdate({ ...ids, artifact: a, append: false, lastChunk: true, metadata: undefined }))
    }
  }
  if (forceStatus || JSON.stringify(next.status) !== JSON.stringify(prev.status)) {
    out.push(AgentEvent.statusUpdate({ ...ids, status: next.status, metadata: undefined }))
  }
  return out
}
