/**
 * A real A2A v1.0 agent server built with `@a2a-js/sdk` (Express `jsonRpcHandler`,
 * `DefaultRequestHandler`, in-memory task store) on 127.0.0.1, for the tests of issue 11. Its
 * behaviour is chosen by the first text part of the message:
 * - `ask …`: the task asks for input (`TASK_STATE_INPUT_REQUIRED`); the next turn completes it
 *   with `got <text>` (a next turn `replay …` first publishes the task as the last turn left it,
 *   input-required, the SDK's pattern for a task event first, then works on it);
 * - `slow <ms> …`: works for `<ms>` before completing;
 * - `late <ms> …`: sends nothing for `<ms>` (not even the task), then completes;
 * - `big <bytes>`: completes with an artifact `result` of that many `x` (larger than the mesh carries);
 * - anything else: completes with an artifact `result` holding `echo: <text>`.
 * CancelTask marks a task CANCELED. It streams (SendStreamingMessage) unless `streaming: false`.
 * `stop()` and `start()` again keep the port, so a test can take the agent down and back up.
 * With `cardCacheControl` its card is served with that `Cache-Control`, a hash `ETag` and 304 for
 * a matching `If-None-Match` (Express's `req.fresh`); `cardFetches` and `cardNotModified` count what it served.
 */
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { AgentCard, TaskState } from '@a2a-js/sdk'
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor } from '@a2a-js/sdk/server'
import { UserBuilder, agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express'
import type { KitContext } from './index.js'
import { freePort } from './ports.js'

export interface TestAgent {
  url: string
  port: number
  /** Messages the agent received, in order (their first text part). */
  received: string[]
  /** The context id of each, in the same order. */
  contexts: string[]
  start: () => Promise<void>
  stop: () => Promise<void>
  /** GETs of its card, and how many of them were answered 304. */
  cardFetches: number
  cardNotModified: number
  /** Changes the description its card gives from now on. */
  setDescription: (description: string) => void
}

function text (parts: any[]): string {
  const p = parts.find(x => x.content?.$case === 'text')
  return p === undefined ? '' : p.content.value
}

function agentMessage (taskId: string, contextId: string, body: string): any {
  return { messageId: `agent-${Date.now()}-${Math.random()}`, role: 2, taskId, contextId, parts: [{ content: { $case: 'text', value: body }, mediaType: 'text/plain', filename: '', metadata: undefined }], metadata: undefined, extensions: [], referenceTaskIds: [] }
}

export async function startTestAgent (ctx: KitContext, opts: { name?: string, description?: string, streaming?: boolean, cardCacheControl?: string } = {}): Promise<TestAgent> {
  const received: string[] = []
  const receivedContexts: string[] = []
  let description = opts.description ?? 'Builds things for tests'
  const contexts = new Map<string, string>()
  const executor: AgentExecutor = {
    execute: async (rc, bus) => {
      const body = text(rc.userMessage.parts)
      received.push(body)
      receivedContexts.push(rc.contextId)
      const { taskId, contextId } = rc
      contexts.set(taskId, contextId)
      const late = /^late (\d+)/.exec(body)
      if (late !== null) await new Promise(resolve => setTimeout(resolve, Number(late[1])))
      const status = (state: TaskState, msg?: string): any => ({ state, message: msg === undefined ? undefined : agentMessage(taskId, contextId, msg), timestamp: new Date().toISOString() })
      if (rc.task === undefined) {
        bus.publish(AgentEvent.task({ id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), history: [rc.userMessage], artifacts: [], metadata: undefined }))
      } else if (body.startsWith('replay')) {
        bus.publish(AgentEvent.task(rc.task))
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_WORKING), metadata: undefined }))
      } else {
        bus.publish(AgentEvent.task({ ...rc.task, status: status(TaskState.TASK_STATE_WORKING) }))
      }
      if (rc.task !== undefined && rc.task.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED) {
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED, `got ${body}`), metadata: undefined }))
        bus.finished()
        return
      }
      if (body.startsWith('ask')) {
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_INPUT_REQUIRED, 'which colour?'), metadata: undefined }))
        bus.finished()
        return
      }
      const slow = /^slow (\d+)/.exec(body)
      if (slow !== null) await new Promise(resolve => setTimeout(resolve, Number(slow[1])))
      const big = /^big (\d+)$/.exec(body)
      bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: { artifactId: 'result', name: 'result', description: '', parts: [{ content: { $case: 'text', value: big !== null ? 'x'.repeat(Number(big[1])) : `echo: ${body}` }, mediaType: 'text/plain', filename: '', metadata: undefined }], metadata: undefined, extensions: [] }, append: false, lastChunk: true, metadata: undefined }))
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED, 'done'), metadata: undefined }))
      bus.finished()
    },
    cancelTask: async (taskId, bus) => {
      const contextId = contexts.get(taskId) ?? ''
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_CANCELED, message: agentMessage(taskId, contextId, 'cancelled'), timestamp: new Date().toISOString() }, metadata: undefined }))
      bus.finished()
    }
  }

  let port = await freePort()
  let server: Server | undefined
  const agent: TestAgent = {
    url: '',
    port: 0,
    received,
    contexts: receivedContexts,
    cardFetches: 0,
    cardNotModified: 0,
    setDescription: d => { description = d },
    start: async () => {
      const card = () => AgentCard.fromJSON({
        name: opts.name ?? 'Builder', description, version: '1.0.0',
        supportedInterfaces: [{ url: `http://127.0.0.1:${port}/`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
        capabilities: { streaming: opts.streaming ?? true, pushNotifications: false },
        defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'],
        skills: [{ id: 'build', name: 'build', description: 'builds', tags: ['build'] }]
      })
      const handler = new DefaultRequestHandler(card(), new InMemoryTaskStore(), executor)
      const app = express()
      app.use('/.well-known/agent-card.json', (req, res, next) => {
        agent.cardFetches++
        if (opts.cardCacheControl === undefined) { next(); return }
        const body = JSON.stringify(AgentCard.toJSON(card()))
        const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`
        res.setHeader('Cache-Control', opts.cardCacheControl)
        res.setHeader('ETag', etag)
        // Express's own conditional check, as an Express-based agent would answer.
        if (req.fresh) { agent.cardNotModified++; res.status(304).end(); return }
        res.type('application/json').send(body)
      })
      app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: async () => card() }))
      app.use('/', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }))
      const s = createServer(app)
      await new Promise<void>(resolve => s.listen(port, '127.0.0.1', resolve))
      port = (s.address() as AddressInfo).port
      agent.port = port
      agent.url = `http://127.0.0.1:${port}`
      server = s
    },
    stop: async () => {
      const s = server
      server = undefined
      if (s === undefined) return
      s.closeAllConnections()
      await new Promise<void>(resolve => { s.close(() => { resolve() }) })
    }
  }
  await agent.start()
  ctx.defer(agent.stop)
  return agent
}
