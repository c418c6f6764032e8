// Private A2A (issue 11) between real daemon processes: a real `@a2a-js/sdk` agent server beside
// daemon B, offered with `sov agent add`; the SDK client on A calls it through A's local A2A
// endpoint, the mesh and B. Test names carry the A2A v1.0 TCK requirement ids they cover
// (a2aproject/a2a-tck, branch 1.0-dev), since the TCK itself cannot run here.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Message, SendMessageConfiguration, TaskState, type Task } from '@a2a-js/sdk'
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { kitSuite, waitFor, withDeadline, type KitContext } from './kit/index.js'
import { runDaemonIn, sov, type DaemonHandle } from './kit/daemon.js'
import { freePort, grantSend, startA2ADaemon } from './kit/a2a.js'
import { startTestAgent, type TestAgent } from './kit/a2a-agent.js'

const test = kitSuite('a2a-http')

interface Pair {
  a: DaemonHandle
  b: DaemonHandle
  agent: TestAgent
  token: string
  http: string
  base: string
  client: Client
}

function authedFetch (token: string): typeof fetch {
  return async (input, init = {}) => {
    const headers = new Headers(init.headers)
    headers.set('Authorization', `Bearer ${token}`)
    return await fetch(input, { ...init, headers })
  }
}

async function clientFor (base: string, token: string): Promise<Client> {
  const f = authedFetch(token)
  const factory = new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: f })], cardResolver: new DefaultAgentCardResolver({ fetchImpl: f }) })
  return await factory.createFromUrl(`${base}/`)
}

/** B offers the SDK agent as "builder" and grants A; A has an agent token with /a2a/post. */
async function pair (ctx: KitContext, opts: { grant?: boolean, httpPort?: number } = {}): Promise<Pair> {
  const agent = await startTestAgent(ctx)
  const b = await startA2ADaemon(ctx, { config: { a2a: { http: { listen: 0 } } } })
  const httpPort = opts.httpPort ?? await freePort()
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr], config: { a2a: { http: { listen: `127.0.0.1:${httpPort}` } } } })
  const added = await sov(b.home, ['agent', 'add', 'builder', '--url', agent.url, '--json'])
  assert.is(added.code, 0, added.stderr)
  if (opts.grant !== false) await grantSend(b.home, a.peerId, 'builder')
  const issued = await sov(a.home, ['agent-token', 'issue', 'ci', '--scope', '/a2a/post', '--json'])
  assert.is(issued.code, 0, issued.stderr)
  const status = await sov(a.home, ['status', '--json'])
  const http = status.json.a2aHttp
  assert.is(http, `http://127.0.0.1:${httpPort}`)
  const base = `${http}/peers/${b.peerId}/agents/builder`
  const client = opts.grant === false ? undefined as unknown as Client : await clientFor(base, issued.json.token)
  return { a, b, agent, token: issued.json.token, http, base, client }
}

function userMessage (text: string, extra: Record<string, unknown> = {}): Message {
  return Message.fromJSON({ messageId: `m-${Date.now()}-${Math.random()}`, role: 'ROLE_USER', parts: [{ text }], ...extra })
}

async function send (client: Client, text: string, opts: { returnImmediately?: boolean, taskId?: string, contextId?: string } = {}): Promise<Task> {
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

function textOf (parts: any[] | undefined): string {
  return (parts ?? []).map(p => p.content?.$case === 'text' ? p.content.value : '').join('')
}

async function auditRows (home: string): Promise<any[]> {
  const r = await sov(home, ['audit', 'tail', '-n', '200', '--json'])
  assert.is(r.code, 0, r.stderr)
  return r.json
}

async function rpc (url: string, body: string, token?: string): Promise<{ status: number, json: any }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'A2A-Version': '1.0' }
  if (token !== undefined) headers.Authorization = `Bearer ${token}`
  const res = await fetch(url, { method: 'POST', headers, body })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}

test('CORE-SEND-001 CORE-GET-001: blocking SendMessage from the SDK client on A reaches the SDK agent behind B and returns its completed task; GetTask on A returns it; audit rows on both nodes, no bodies', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const listed = await sov(p.a.home, ['agents', p.b.peerId, '--json'])
  assert.is(listed.code, 0, listed.stderr)
  assert.equal(listed.json, [{ name: 'builder', description: 'Builds things for tests', cardUrl: `${p.base}/.well-known/agent-card.json` }])

  const task = await withDeadline(send(p.client, 'hello builder'), 30_000, 'blocking SendMessage')
  assert.is(task.status?.state, TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(task.artifacts[0]?.parts), 'echo: hello builder')
  assert.equal(p.agent.received, ['hello builder'])

  const got = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(got.id, task.id)
  assert.is(got.contextId, task.contextId)
  assert.is(got.status?.state, TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(got.artifacts[0]?.parts), 'echo: hello builder')

  const rowsA = await auditRows(p.a.home)
  const rowsB = await auditRows(p.b.home)
  const called = rowsA.find(r => r.type === 'A2A_TASK_CALLED')
  assert.is(called?.actor, 'agent:ci')
  assert.is(called?.detail.taskId, task.id)
  assert.ok(rowsA.some(r => r.type === 'A2A_TASK_ENDED' && r.detail.state === 'TASK_STATE_COMPLETED' && r.detail.taskId === task.id), 'caller end row')
  assert.ok(rowsB.some(r => r.type === 'A2A_TASK_CALLED' && r.actor === `peer:${p.a.peerId}` && r.detail.agent === 'builder'), 'callee call row')
  assert.ok(rowsB.some(r => r.type === 'A2A_TASK_ENDED' && r.detail.state === 'TASK_STATE_COMPLETED' && r.detail.taskId === task.id), 'callee end row')
  for (const home of [p.a.home, p.b.home]) {
    const file = readFileSync(join(home, 'audit', 'events.jsonl'), 'utf8')
    assert.not.ok(file.includes('hello builder') || file.includes('echo:'), 'no message body in the audit log')
  }
})

test('CARD-001 CARD-002: the card A serves for builder is the agent\'s own, pointed at A\'s endpoint (JSONRPC 1.0) with a bearer scheme; an agent not offered is 404', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const res = await fetch(`${p.base}/.well-known/agent-card.json`)
  assert.is(res.status, 200)
  const card = await res.json() as any
  assert.is(card.name, 'Builder')
  assert.is(card.description, 'Builds things for tests')
  assert.equal(card.supportedInterfaces, [{ url: p.base, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }])
  assert.is(card.capabilities.streaming, true)
  assert.is(card.securitySchemes.sovereign.httpAuthSecurityScheme.scheme, 'Bearer')
  assert.equal(card.skills.map((s: any) => s.id), ['build'])
  const missing = await fetch(`${p.http}/peers/${p.b.peerId}/agents/nobody/.well-known/agent-card.json`)
  assert.is(missing.status, 404)
})

test('JSONRPC-AUTH: no token and a bad token get 401 with WWW-Authenticate, never an anonymous call; a token without /a2a/post gets 403', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'x1', role: 'ROLE_USER', parts: [{ text: 'hi' }] } } })
  const none = await fetch(p.base, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
  assert.is(none.status, 401)
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/)
  const bad = await rpc(p.base, body, 'sova_' + '0'.repeat(64))
  assert.is(bad.status, 401)
  const reader = await sov(p.a.home, ['agent-token', 'issue', 'reader', '--scope', '/a2a/read', '--json'])
  const forbidden = await rpc(p.base, body, reader.json.token)
  assert.is(forbidden.status, 403)
  assert.equal(p.agent.received, [], 'nothing reached the agent')
  const rows = await auditRows(p.a.home)
  assert.is(rows.filter(r => r.type === 'A2A_HTTP_REFUSED').length, 3)
  assert.not.ok(JSON.stringify(rows).includes(reader.json.token), 'no token in the audit log')
})

test('JSONRPC-PARSE JSONRPC-REQ: malformed JSON gets -32700 and a request without a method -32600, from the SDK', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const parse = await rpc(p.base, '{"jsonrpc": "2.0", "id": 1, "method": ', p.token)
  assert.is(parse.json.error?.code, -32700, JSON.stringify(parse.json))
  const invalid = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 2 }), p.token)
  assert.is(invalid.json.error?.code, -32600, JSON.stringify(invalid.json))
  assert.is(invalid.json.error?.data?.[0]?.reason, 'INVALID_REQUEST')
  assert.is(invalid.json.id, 2)
  const unknown = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'NoSuchMethod', params: {} }), p.token)
  assert.ok(unknown.json.error?.code === -32601 || unknown.json.error?.code === -32602, JSON.stringify(unknown.json))
  assert.equal(p.agent.received, [], 'nothing reached the agent')
})

test('JSONRPC-VERSION CORE-PUSH CORE-EXTCARD: a request without A2A-Version is taken as 0.3 and refused (-32009); push notifications (-32003) and the extended card (-32004, the card does not declare it) are answered "not supported"', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } })
  const res = await fetch(p.base, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${p.token}` }, body })
  const noVersion = await res.json() as any
  assert.is(noVersion.error?.code, -32009, JSON.stringify(noVersion))
  const push = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'CreateTaskPushNotificationConfig', params: { taskId: 't', url: 'http://127.0.0.1:1/hook' } }), p.token)
  assert.is(push.json.error?.code, -32003, JSON.stringify(push.json))
  const ext = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'GetExtendedAgentCard', params: {} }), p.token)
  assert.is(ext.json.error?.code, -32004, JSON.stringify(ext.json))
  const missing = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'GetTask', params: { id: 'no-such-task' } }), p.token)
  assert.is(missing.json.error?.code, -32001, 'CORE-GET: an unknown task is TaskNotFound')
})

test('config: a2a.http.listen on a non-loopback host stops the daemon from starting, naming the key; 0 turns the endpoint off (status a2aHttp null)', async ctx => {
  const off = await startA2ADaemon(ctx, { config: { a2a: { http: { listen: 0 } } } })
  const st = await sov(off.home, ['status', '--json'])
  assert.is(st.json.a2aHttp, null)
  await off.stop()
  const cfg = join(off.home, 'config.json')
  const c = JSON.parse(readFileSync(cfg, 'utf8'))
  c.a2a.http = { listen: '0.0.0.0:4011' }
  writeFileSync(cfg, JSON.stringify(c))
  const r = await sov(off.home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
  assert.is.not(r.code, 0)
  assert.match(r.stdout + r.stderr, /a2a\.http\.listen "0\.0\.0\.0:4011".*loopback only/)
})

test('CORE-SEND-002 CORE-GET-002: returnImmediately answers at once with a submitted task; polling GetTask on A sees it complete', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const t0 = Date.now()
  const task = await withDeadline(send(p.client, 'slow 1500 job', { returnImmediately: true }), 10_000, 'SendMessage')
  assert.ok(Date.now() - t0 < 1500, `answered in ${Date.now() - t0} ms`)
  assert.ok(task.status?.state === TaskState.TASK_STATE_SUBMITTED || task.status?.state === TaskState.TASK_STATE_WORKING, `state ${task.status?.state}`)
  const done = await waitFor(async () => {
    const t = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
    return t.status?.state === TaskState.TASK_STATE_COMPLETED ? t : undefined
  }, 20_000, 'task to complete')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 1500 job')
})

test('CORE-MULTI-TURN: input-required, then the next message with the same taskId and contextId reaches the same agent task and completes it', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const first = await withDeadline(send(p.client, 'ask me'), 30_000, 'first turn')
  assert.is(first.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  assert.is(textOf(first.status?.message?.parts), 'which colour?')
  const second = await withDeadline(send(p.client, 'blue', { taskId: first.id, contextId: first.contextId }), 30_000, 'second turn')
  assert.is(second.id, first.id)
  assert.is(second.status?.state, TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(second.status?.message?.parts), 'got blue')
  assert.equal(p.agent.received, ['ask me', 'blue'])
})

test('STREAM-001 CORE-SEND-STREAM: SendStreamingMessage over SSE through both nodes: the task first, then the artifact and the final status', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const kinds: string[] = []
  let artifact = ''
  let state: TaskState | undefined
  let taskId = ''
  await withDeadline((async () => {
    for await (const ev of p.client.sendMessageStream({ tenant: '', message: userMessage('slow 300 stream me'), configuration: undefined, metadata: undefined })) {
      const pl = ev.payload
      if (pl === undefined) continue
      kinds.push(pl.$case)
      if (pl.$case === 'task') taskId = pl.value.id
      if (pl.$case === 'artifactUpdate') artifact = textOf(pl.value.artifact?.parts)
      if (pl.$case === 'statusUpdate') state = pl.value.status?.state
    }
  })(), 30_000, 'stream')
  assert.is(kinds[0], 'task')
  assert.ok(kinds.includes('artifactUpdate'), kinds.join(','))
  assert.is(kinds[kinds.length - 1], 'statusUpdate')
  assert.is(state, TaskState.TASK_STATE_COMPLETED)
  assert.is(artifact, 'echo: slow 300 stream me')
  const got = await p.client.getTask({ tenant: '', id: taskId, historyLength: undefined })
  assert.is(got.status?.state, TaskState.TASK_STATE_COMPLETED)
})

test('CORE-LIST-001 CORE-LIST-002: ListTasks on A pages newest first with a cursor and counts the total', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const ids: string[] = []
  for (const t of ['one', 'two', 'three']) ids.push((await withDeadline(send(p.client, t), 30_000, 'SendMessage')).id)
  const list = async (pageToken: string) => await p.client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 2, pageToken, historyLength: undefined, statusTimestampAfter: undefined, includeArtifacts: true })
  const first = await list('')
  assert.is(first.totalSize, 3)
  assert.is(first.tasks.length, 2)
  assert.ok(first.nextPageToken !== '', 'a next page')
  const second = await list(first.nextPageToken)
  assert.is(second.tasks.length, 1)
  assert.is(second.nextPageToken, '')
  assert.equal([...first.tasks, ...second.tasks].map(t => t.id).sort(), [...ids].sort())
  assert.is(textOf(first.tasks[0].artifacts[0]?.parts), 'echo: three', 'newest first, artifacts included')
})

test('CORE-CANCEL-001: CancelTask of a working task travels to the agent behind B; the task is CANCELED on A, and stays so', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 3000 long job', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  const cancelled = await withDeadline(p.client.cancelTask({ tenant: '', id: task.id, metadata: undefined }), 20_000, 'CancelTask')
  assert.is(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
  await new Promise(resolve => setTimeout(resolve, 3500))
  const later = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(later.status?.state, TaskState.TASK_STATE_CANCELED, 'the agent finishing later does not undo the cancellation')
  const again = await p.client.cancelTask({ tenant: '', id: task.id, metadata: undefined })
  assert.is(again.status?.state, TaskState.TASK_STATE_CANCELED, 'cancelling a cancelled task returns it')
})

test('CORE-CANCEL-002: CancelTask of a completed task is TaskNotCancelableError (-32002)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'quick'), 30_000, 'SendMessage')
  const r = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'CancelTask', params: { id: task.id } }), p.token)
  assert.is(r.json.error?.code, -32002, JSON.stringify(r.json))
})

test('PULL: an agent without an HTTP server (sov agent add --pull) leases the call from its mailbox and answers with sov a2a reply; the SDK client on A sees working, the artifact, then completed', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const added = await sov(p.b.home, ['agent', 'add', 'scribe', '--pull', '--description', 'Writes notes', '--json'])
  assert.is(added.code, 0, added.stderr)
  await grantSend(p.b.home, p.a.peerId, 'scribe')
  const listed = await sov(p.a.home, ['agents', p.b.peerId, '--json'])
  assert.equal(listed.json.map((a: any) => a.name).sort(), ['builder', 'scribe'])
  const client = await clientFor(`${p.http}/peers/${p.b.peerId}/agents/scribe`, p.token)
  const task = await withDeadline(send(client, 'write a note', { returnImmediately: true }), 10_000, 'SendMessage')
  const got = await sov(p.b.home, ['a2a', 'receive', 'scribe', '--wait', '10s', '--json'], { timeoutMs: 20_000 })
  assert.is(got.code, 0, got.stderr)
  assert.is(got.json.length, 1)
  const call = got.json[0]
  assert.is(call.from, p.a.peerId)
  assert.is(call.message.parts[0].text, 'write a note')
  assert.is(call.message.taskId, task.id, 'the consumer sees the caller\'s task id')
  const state = async (want: TaskState): Promise<Task> => await waitFor(async () => {
    const t = await client.getTask({ tenant: '', id: task.id, historyLength: undefined })
    return t.status?.state === want ? t : undefined
  }, 10_000, `state ${want}`)
  const working = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'on it', '--state', 'working'])
  assert.is(working.code, 0, working.stderr)
  assert.is(textOf((await state(TaskState.TASK_STATE_WORKING)).status?.message?.parts), 'on it')
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'the note', '--artifact', 'note', '--state', 'working'])).code, 0)
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'done', '--json'])).json.final, true)
  const done = await state(TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(done.artifacts.find(a => a.artifactId === 'note')?.parts), 'the note')
  assert.is(textOf(done.status?.message?.parts), 'done')
  const late = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'again', '--json'])
  assert.is(late.code, 1)
  assert.match(late.stdout + late.stderr, /CONFLICT/)
  const empty = await sov(p.b.home, ['a2a', 'receive', 'scribe', '--json'])
  assert.equal(empty.json, [], 'the final reply acked the call')
})

test('no grant: the client gets a failed task naming FORBIDDEN at once, not a hang; the refusal is an audit row on both nodes', async ctx => {
  const p = await withDeadline(pair(ctx, { grant: false }), 60_000, 'setup')
  const listed = await sov(p.a.home, ['agents', p.b.peerId, '--json'])
  assert.equal(listed.json, [], 'B offers A nothing')
  // Without a card, the client is built from the endpoint's own description of the agent.
  const client = await clientFor(p.base, p.token).catch(() => undefined)
  assert.is(client, undefined, 'no card for an agent B does not offer')
  const r = await withDeadline(rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'nogrant-1', role: 'ROLE_USER', parts: [{ text: 'hi' }] } } }), p.token), 20_000, 'SendMessage')
  assert.is(r.json.result?.task?.status?.state, 'TASK_STATE_FAILED', JSON.stringify(r.json))
  assert.match(JSON.stringify(r.json.result.task.status.message), /FORBIDDEN/)
  assert.equal(p.agent.received, [])
  assert.ok((await auditRows(p.b.home)).some(r => r.type === 'A2A_TASK_REFUSED' && r.outcome === 'denied'), 'callee refusal row')
  assert.ok((await auditRows(p.a.home)).some(r => r.type === 'A2A_TASK_REFUSED'), 'caller refusal row')
})

test('the callee agent down, then up: the call waits durably on B and completes', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  await p.agent.stop()
  const task = await withDeadline(send(p.client, 'while you were out', { returnImmediately: true }), 10_000, 'SendMessage')
  await new Promise(resolve => setTimeout(resolve, 3000))
  const mid = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(mid.status?.state, TaskState.TASK_STATE_SUBMITTED)
  await p.agent.start()
  const done = await waitFor(async () => {
    const t = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
    return t.status?.state === TaskState.TASK_STATE_COMPLETED ? t : undefined
  }, 20_000, 'task to complete after the agent came back')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: while you were out')
  assert.equal(p.agent.received, ['while you were out'])
})

test('the caller daemon SIGKILLed mid-task: after its restart GetTask returns the completed task', async ctx => {
  const httpPort = await freePort()
  const p = await withDeadline(pair(ctx, { httpPort }), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 2500 survive', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  await p.a.kill()
  await new Promise(resolve => setTimeout(resolve, 3000))
  await runDaemonIn(ctx, p.a.home)
  const client = await clientFor(p.base, p.token)
  const done = await waitFor(async () => {
    const t = await client.getTask({ tenant: '', id: task.id, historyLength: undefined })
    return t.status?.state === TaskState.TASK_STATE_COMPLETED ? t : undefined
  }, 30_000, 'task to complete after the restart')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 2500 survive')
  assert.equal(p.agent.received, ['slow 2500 survive'], 'the agent ran it once')
})

test.run()
