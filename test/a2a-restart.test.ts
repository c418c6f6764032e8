// Private A2A (issue 11), tasks across restarts of real daemon processes: either daemon
// SIGKILLed mid-task, a pull agent's call across a restart of its node, a next turn in flight
// at the agent when the callee dies, SubscribeToTask across restarts. Test names carry the A2A
// v1.0 TCK requirement ids they cover where one applies.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TaskState } from '@a2a-js/sdk'
import { kitSuite, waitFor, withDeadline, type KitContext } from './kit/index.js'
import { runDaemonIn, sov } from './kit/daemon.js'
import { freePort, grantSend } from './kit/a2a.js'
import { clientFor, completed, pair, rpc, send, textOf } from './kit/a2a-http.js'

const test = kitSuite('a2a-restart')
const TERMINAL_STATES = new Set([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED])

test('PULL across a restart: CancelTask is TaskNotCancelable; a working reply renews the lease (the call is not handed out again); a callee SIGKILLed and restarted keeps the call open for the agent (before: FAILED, no compatible transport); a final reply to a call that died in the mailbox removes the dead letter', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  assert.is((await sov(p.b.home, ['agent', 'add', 'scribe', '--pull'])).code, 0)
  await grantSend(p.b.home, p.a.peerId, 'scribe')
  assert.is((await sov(p.a.home, ['agents', p.b.peerId])).code, 0)
  const client = await clientFor(`${p.http}/peers/${p.b.peerId}/agents/scribe`, p.token)
  const task = await withDeadline(send(client, 'a long job', { returnImmediately: true }), 10_000, 'SendMessage')
  const receive = async (lease: string): Promise<any[]> => (await sov(p.b.home, ['a2a', 'receive', 'scribe', '--lease', lease, '--wait', '5s', '--json'], { timeoutMs: 20_000 })).json
  const [call] = await receive('1s')
  assert.ok(call !== undefined, 'the call is in the mailbox')
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'working on it', '--state', 'working'])).code, 0)
  await new Promise(resolve => setTimeout(resolve, 2000))
  assert.equal(await receive('1s'), [], 'the working reply renewed the 1 s lease: no other consumer gets the call')

  await p.b.kill()
  await runDaemonIn(ctx, p.b.home)
  await new Promise(resolve => setTimeout(resolve, 1500))
  const after = await client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(after.status?.state, TaskState.TASK_STATE_WORKING, `still open after the restart: ${textOf(after.status?.message?.parts)}`)

  // The agent fails to finish it five times: the call dies in the mailbox; it answers anyway.
  await waitFor(async () => {
    const got = await receive('60s')
    if (got.length > 0) assert.is((await sov(p.b.home, ['a2a', 'nack', 'scribe', got[0].lease])).code, 0)
    return (await sov(p.b.home, ['a2a', 'dead', 'scribe', '--json'])).json.length === 1
  }, 60_000, 'the call to reach the dead letters')
  // CancelTask does not reach a pull agent: TaskNotCancelable, and the call stays the agent's.
  const cancel = await rpc(`${p.http}/peers/${p.b.peerId}/agents/scribe`, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'CancelTask', params: { id: task.id } }), p.token)
  assert.is(cancel.json.error?.code, -32002, JSON.stringify(cancel.json))
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'done at last'])).code, 0)
  assert.equal((await sov(p.b.home, ['a2a', 'dead', 'scribe', '--json'])).json, [], 'the answered call is no dead letter')
  const done = await completed(client, task.id, 10_000, 'the task to complete on A')
  assert.is(textOf(done.status?.message?.parts), 'done at last')
  const late = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'again'])
  assert.match(late.stderr, /error\[CONFLICT\]: Cannot reply to "[^"]+": this turn of its task is over/)
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
  const done = await completed(client, task.id, 30_000, 'task to complete after the restart')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 2500 survive')
  assert.equal(p.agent.received, ['slow 2500 survive'], 'the agent ran it once')
})

test('the callee daemon SIGKILLed mid-task: after its restart it follows the agent task again (never re-sends it) and the call completes on A', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 3000 callee crash', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  await new Promise(resolve => setTimeout(resolve, 500))
  await p.b.kill()
  await runDaemonIn(ctx, p.b.home)
  const done = await completed(p.client, task.id, 30_000, 'task to complete after the callee restarted')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 3000 callee crash')
  assert.equal(p.agent.received, ['slow 3000 callee crash'], 'the agent got it once')
})


/**
 * A raw JSON-RPC agent on loopback that does not stream and answers SendMessage only when the
 * turn is done, whatever `returnImmediately` says (as some agents do): `ask …` asks for input,
 * a next turn `slow <ms> …` works that long, then completes with `got <text>`. Tasks in memory.
 */
async function blockingAgent (ctx: KitContext): Promise<{ url: string, received: string[] }> {
  const received: string[] = []
  const tasks = new Map<string, any>()
  let url = ''
  const server = createServer((req, res) => {
    const answer = (o: unknown): void => { res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(o)) }
    if (req.method === 'GET') {
      answer({ name: 'blocker', description: 'answers when done', version: '1.0.0', supportedInterfaces: [{ url, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }], capabilities: { streaming: false }, defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'], skills: [] })
      return
    }
    let body = ''
    req.on('data', d => { body += d })
    req.on('end', () => {
      const { id, method, params } = JSON.parse(body)
      if (method === 'GetTask') { answer({ jsonrpc: '2.0', id, result: tasks.get(params.id) }); return }
      const m = params.message
      const text = m.parts[0].text as string
      received.push(text)
      const agentSays = (t: any, words: string): any => ({ messageId: `a-${Math.random()}`, role: 'ROLE_AGENT', taskId: t.id, contextId: t.contextId, parts: [{ text: words }] })
      let task = tasks.get(m.taskId)
      if (task === undefined) {
        task = { id: `t-${tasks.size + 1}`, contextId: `c-${tasks.size + 1}`, history: [], artifacts: [] }
        tasks.set(task.id, task)
      }
      task.history.push(m)
      task.status = { state: 'TASK_STATE_WORKING', timestamp: new Date().toISOString() }
      const ms = Number(/^slow (\d+)/.exec(text)?.[1] ?? 0)
      setTimeout(() => {
        const words = text.startsWith('ask') ? 'which colour?' : `got ${text}`
        const said = agentSays(task, words)
        task.history.push(said)
        task.status = { state: text.startsWith('ask') ? 'TASK_STATE_INPUT_REQUIRED' : 'TASK_STATE_COMPLETED', message: said, timestamp: new Date().toISOString() }
        if (!res.destroyed) answer({ jsonrpc: '2.0', id, result: { task } })
      }, ms)
    })
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  ctx.defer(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return { url, received }
}

test('CORE-MULTI-TURN: the callee daemon SIGKILLed while its agent works on a next turn (an agent that answers only when done): after the restart B finds the turn in the agent task and follows it, never sends it again', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const agent = await blockingAgent(ctx)
  assert.is((await sov(p.b.home, ['agent', 'add', 'blocker', '--url', agent.url])).code, 0)
  await grantSend(p.b.home, p.a.peerId, 'blocker')
  assert.is((await sov(p.a.home, ['agents', p.b.peerId])).code, 0)
  const client = await clientFor(`${p.http}/peers/${p.b.peerId}/agents/blocker`, p.token)
  const first = await withDeadline(send(client, 'ask me'), 30_000, 'first turn')
  assert.is(first.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  await withDeadline(send(client, 'slow 4000 blue', { taskId: first.id, contextId: first.contextId, returnImmediately: true }), 10_000, 'next turn')
  await waitFor(() => agent.received.length === 2, 10_000, 'the agent to get the next turn')
  await new Promise(resolve => setTimeout(resolve, 300))
  await p.b.kill()
  await runDaemonIn(ctx, p.b.home)
  const done = await waitFor(async () => {
    const t = await client.getTask({ tenant: '', id: first.id, historyLength: undefined })
    return TERMINAL_STATES.has(t.status?.state as TaskState) ? t : undefined
  }, 30_000, 'the task to end after the callee restarted')
  assert.is(done.status?.state, TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(done.status?.message?.parts), 'got slow 4000 blue')
  assert.equal(agent.received, ['ask me', 'slow 4000 blue'], 'the next turn reached the agent once')
})

test('STREAM-SUB-001 STREAM-SUB-002 STREAM-SUB-003 STREAM-SUB-004: SubscribeToTask after the caller daemon was SIGKILLed and restarted gives the task as it is, then the later events (across a restart of the callee too) until COMPLETED; a terminal task is UnsupportedOperation, an unknown one TaskNotFound', async ctx => {
  const httpPort = await freePort()
  const p = await withDeadline(pair(ctx, { httpPort }), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 8000 watch me', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  await p.a.kill()
  await runDaemonIn(ctx, p.a.home)
  const client = await clientFor(p.base, p.token)
  const stream = client.resubscribeTask({ tenant: '', id: task.id })
  const first = await withDeadline(stream.next(), 10_000, 'the first event')
  assert.is(first.done, false)
  const snapshot = first.value!.payload
  assert.is(snapshot?.$case, 'task', 'STREAM-SUB-001: a Task first')
  if (snapshot?.$case !== 'task') return
  assert.is(snapshot.value.id, task.id)
  assert.ok(snapshot.value.status?.state === TaskState.TASK_STATE_SUBMITTED || snapshot.value.status?.state === TaskState.TASK_STATE_WORKING, `state ${snapshot.value.status?.state}`)
  // The callee goes down and comes back while the client listens on A.
  await p.b.kill()
  await runDaemonIn(ctx, p.b.home)
  const later: Array<{ kind: string, state?: TaskState, text?: string }> = []
  await withDeadline((async () => {
    for (;;) {
      const r = await stream.next()
      if (r.done === true) return
      const pl = r.value.payload
      if (pl?.$case === 'statusUpdate') later.push({ kind: pl.$case, state: pl.value.status?.state })
      else if (pl?.$case === 'artifactUpdate') later.push({ kind: pl.$case, text: textOf(pl.value.artifact?.parts) })
      else later.push({ kind: String(pl?.$case) })
    }
  })(), 40_000, 'the rest of the stream')
  assert.ok(later.some(e => e.kind === 'artifactUpdate' && e.text === 'echo: slow 8000 watch me'), JSON.stringify(later))
  const last = later[later.length - 1]
  assert.is(last?.kind, 'statusUpdate', 'STREAM-SUB-002: the stream ends with the terminal status')
  assert.is(last?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(later))
  assert.equal(p.agent.received, ['slow 8000 watch me'], 'the agent ran it once')

  const ended = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SubscribeToTask', params: { id: task.id } }), p.token)
  assert.is(ended.json.error?.code, -32004, `STREAM-SUB-003: ${JSON.stringify(ended.json)}`)
  const unknown = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'SubscribeToTask', params: { id: 'no-such-task' } }), p.token)
  assert.is(unknown.json.error?.code, -32001, `STREAM-SUB-004: ${JSON.stringify(unknown.json)}`)
})


test('CORE-CANCEL-001 CARD-001: B down — CancelTask says the callee cannot be reached and the task goes on (-32603, not -32002 "not cancelable"); the card is still served past its life (max-age=0), also once A restarts, so a new SDK client reads the task on A; B back, the cancel reaches the agent (helper findings, stop 29)', async ctx => {
  const p = await withDeadline(pair(ctx, { cardCacheControl: 'max-age=1', httpPort: await freePort() }), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 60000 long job', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  await p.b.stop()
  const refused = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'CancelTask', params: { id: task.id } }), p.token)
  assert.is(refused.json.error?.code, -32603, JSON.stringify(refused.json))
  assert.match(refused.json.error.message, new RegExp(`^error\\[UNAVAILABLE\\]: Cannot cancel task ${task.id} now: [\\s\\S]*${p.b.peerId}[\\s\\S]*; the task goes on — send CancelTask again once the callee's node is reachable$`), refused.json.error.message)
  await new Promise(resolve => setTimeout(resolve, 1500)) // past the card's life: A would ask B again
  const card = await fetch(`${p.base}/.well-known/agent-card.json`)
  assert.is(card.status, 200, await card.clone().text())
  assert.is(card.headers.get('cache-control'), 'max-age=0')
  // And after A restarts while B is still down: the copy is kept in tasks.db (helper finding,
  // stop 33: it was in memory only, and A answered 502 until B was back).
  assert.is(await p.a.stop(), 0)
  await runDaemonIn(ctx, p.a.home)
  const kept = await fetch(`${p.base}/.well-known/agent-card.json`)
  assert.is(kept.status, 200, await kept.clone().text())
  assert.is(kept.headers.get('cache-control'), 'max-age=0')
  const client = await clientFor(p.base, p.token)
  const held = (await client.getTask({ tenant: '', id: task.id, historyLength: undefined })).status?.state
  assert.ok(held === TaskState.TASK_STATE_SUBMITTED || held === TaskState.TASK_STATE_WORKING, `the task as A holds it: ${String(held)}`)
  await runDaemonIn(ctx, p.b.home)
  const cancelled = await waitFor(async () => await client.cancelTask({ tenant: '', id: task.id, metadata: undefined }).catch(() => undefined), 30_000, 'CancelTask once B is back')
  assert.is(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
})

test('CORE-SEND-001: A stopped (SIGTERM) during a blocking SendMessage answers it with the task so far, so the client has its id; after the restart GetTask shows it completed (helper finding, stop 29: the client got a reset and no id)', async ctx => {
  const p = await withDeadline(pair(ctx, { httpPort: await freePort() }), 60_000, 'setup')
  const call = send(p.client, 'slow 3000 stopped mid-call')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  const stopping = p.a.stop()
  const task = await withDeadline(call, 10_000, 'the blocking answer')
  assert.ok(task.id !== '', 'the answer names the task')
  assert.ok([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING].includes(task.status!.state), String(task.status?.state))
  assert.is(await stopping, 0, 'a clean stop')
  await runDaemonIn(ctx, p.a.home)
  const client = await clientFor(p.base, p.token)
  const done = await completed(client, task.id, 30_000, 'the task to complete on A')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 3000 stopped mid-call')
  assert.is(p.agent.received.length, 1, 'the agent got the call once')
})

test.run()
