/**
 * Issue 11 test kit: two real daemons (B offers a real `@a2a-js/sdk` agent as "builder" and
 * grants A; A holds an agent token with /a2a/post and its local A2A endpoint), and the SDK client
 * on A pointed at the agent through A's endpoint. Everything registers its teardown with `ctx`.
 */
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { Message, SendMessageConfiguration, TaskState, type Task } from '@a2a-js/sdk'
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { waitFor, type KitContext } from './index.js'
import { daemonRequest, type DaemonHandle } from './daemon.js'
import { grantSend, startA2ADaemon } from './a2a.js'
import { startTestAgent, type TestAgent } from './a2a-agent.js'

export interface Pair {
  a: DaemonHandle
  b: DaemonHandle
  agent: TestAgent
  token: string
  http: string
  base: string
  client: Client
}

export function authedFetch (token: string): typeof fetch {
  return async (input, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('Authorization', `Bearer ${token}`)
    return await fetch(input, { ...init, headers })
  }
}

export async function clientFor (base: string, token: string): Promise<Client> {
  const f = authedFetch(token)
  const factory = new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: f })], cardResolver: new DefaultAgentCardResolver({ fetchImpl: f }) })
  return await factory.createFromUrl(`${base}/`)
}

/** B offers the SDK agent as "builder" and grants A; A has an agent token with /a2a/post. */
export async function pair (ctx: KitContext, opts: { grant?: boolean, httpPort?: number, streaming?: boolean, cardCacheControl?: string, blockingMaxMs?: number } = {}): Promise<Pair> {
  const agent = await startTestAgent(ctx, { streaming: opts.streaming, cardCacheControl: opts.cardCacheControl })
  const b = await startA2ADaemon(ctx, { config: { a2a: { http: { listen: 0 } } } })
  // Port 0: the kernel's choice, so no other test file can take the port between a free-port
  // probe and the daemon's listen (that race left a2aHttp null now and then).
  const httpPort = opts.httpPort ?? 0
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr], config: { a2a: { http: { listen: `127.0.0.1:${httpPort}`, ...(opts.blockingMaxMs !== undefined ? { blockingMaxMs: opts.blockingMaxMs } : {}) } } } })
  // Through IPC: `sov agent add`, `agent-token issue` and `status` are tested through the CLI elsewhere.
  await daemonRequest(b.home, 'agent.add', { name: 'builder', url: agent.url })
  if (opts.grant !== false) await grantSend(b.home, a.peerId, 'builder')
  const issued = { json: await daemonRequest(a.home, 'agentToken.issue', { name: 'ci', scopes: ['/a2a/post'], expiresS: 30 * 86_400 }) }
  const http = (await daemonRequest(a.home, 'status', {})).a2aHttp
  assert.match(http ?? '', new RegExp(`^http://127\\.0\\.0\\.1:${httpPort === 0 ? '\\d+' : httpPort}$`), `a2aHttp: ${String(http)}`)
  const base = `${http}/peers/${b.peerId}/agents/builder`
  const client = opts.grant === false ? undefined as unknown as Client : await clientFor(base, issued.json.token)
  return { a, b, agent, token: issued.json.token, http, base, client }
}

export function userMessage (text: string, extra: Record<string, unknown> = {}): Message {
  return Message.fromJSON({ messageId: `m-${Date.now()}-${Math.random()}`, role: 'ROLE_USER', parts: [{ text }], ...extra })
}

export async function send (client: Client, text: string, opts: { returnImmediately?: boolean, taskId?: string, contextId?: string } = {}): Promise<Task> {
  const extra: Record<string, unknown> = {}
  if (opts.taskId !== undefined) extra.taskId = opts.taskId
  if (opts.contextId !== undefined) extra.contextId = opts.contextId
  const r = await client.sendMessage({
    tenant: '',
    message: userMessage(text, extra),
    configuration: opts.returnImmediately === true ? SendMessageConfiguration.fromJSON({ returnImmediately: true }) : undefined,
    metadata: undefined
  })
  assert.ok('status' in r, 'the result is a Task')
  return r as Task
}

/** The task `id` once `client`'s GetTask shows it COMPLETED (polled every `everyMs`). */
export async function completed (client: Client, id: string, ms: number, what: string, everyMs?: number): Promise<Task> {
  return await waitFor(async () => {
    const t = await client.getTask({ tenant: '', id, historyLength: undefined })
    return t.status?.state === TaskState.TASK_STATE_COMPLETED ? t : undefined
  }, ms, what, everyMs)
}

export function textOf (parts: any[] | undefined): string {
  return (parts ?? []).map(p => p.content?.$case === 'text' ? p.content.value : '').join('')
}

/** The last 200 rows of `home`'s audit log, as they are now. */
export async function auditRows (home: string): Promise<any[]> {
  return await daemonRequest(home, 'audit.tail', { n: 200 })
}

/**
 * The last 200 rows once `enough(rows)` holds (polled up to 10 s): rows of a call ride the audit
 * log's group commit and refusals are written after their answer, so a test reads them when
 * they are there (the CLI's start-up time used to hide that).
 */
export async function auditRowsOnce (home: string, enough: (rows: any[]) => boolean, what: string): Promise<any[]> {
  return await waitFor(async () => { const r = await auditRows(home); return enough(r) ? r : undefined }, 10_000, what)
}

export async function rpc (url: string, body: string, token?: string): Promise<{ status: number, json: any }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'A2A-Version': '1.0' }
  if (token !== undefined) headers.Authorization = `Bearer ${token}`
  const res = await fetch(url, { method: 'POST', headers, body })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}
