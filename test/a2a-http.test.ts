// Private A2A (issue 11), the local A2A endpoint between real daemon processes: a real
// `@a2a-js/sdk` agent server beside daemon B, offered with `sov agent add`; the SDK client on A
// calls it through A's endpoint, the mesh and B. Card, auth, JSON-RPC errors, blocking,
// returnImmediately, streaming, ListTasks. Test names carry the A2A v1.0 TCK requirement ids they
// cover (a2aproject/a2a-tck, branch 1.0-dev), since the TCK itself cannot run here.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TaskState } from '@a2a-js/sdk'
import { MAX_CALL_MESSAGE_BYTES, MAX_TASK_PAYLOAD_BYTES } from '../protocol/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, startA2ADaemon } from './kit/a2a.js'
import { auditRows, clientFor, completed, pair, rpc, send, textOf, userMessage } from './kit/a2a-http.js'

const test = kitSuite('a2a-http')

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

  // Rows of successes ride the audit log's group commit: give it a moment.
  const ended = (rows: any[]): boolean => rows.some(r => r.type === 'A2A_TASK_ENDED' && r.detail.taskId === task.id)
  const rowsA = await waitFor(async () => { const r = await auditRows(p.a.home); return ended(r) ? r : undefined }, 5000, 'caller end row')
  const rowsB = await waitFor(async () => { const r = await auditRows(p.b.home); return ended(r) ? r : undefined }, 5000, 'callee end row')
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

test('CORE-SEND-001 under load: 16 blocking calls at once all complete, and no listener-leak warning reaches A\'s output (each open call listens for the endpoint\'s stop)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const tasks = await withDeadline(Promise.all(Array.from({ length: 16 }, async (_, i) => await send(p.client, `call ${i}`))), 60_000, '16 blocking calls')
  assert.equal(tasks.map(t => t.status?.state), Array.from({ length: 16 }, () => TaskState.TASK_STATE_COMPLETED))
  assert.equal(tasks.map(t => textOf(t.artifacts[0]?.parts)).sort(), Array.from({ length: 16 }, (_, i) => `echo: call ${i}`).sort())
  assert.not.match(p.a.output(), /MaxListenersExceededWarning/)
})

test('a client cannot forge or flood the daemon\'s log: the SDK\'s warning for each unknown referenceTaskId is one escaped line, and at most 100 go out at once (helper finding, stop 33)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const forged = 'x\n2026-12-04T18:00:00.000Z Stopped\u001b[31m'
  const refs = [forged, ...Array.from({ length: 499 }, (_, i) => `ref-${i}`)]
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'refs-1', role: 'ROLE_USER', parts: [{ text: 'hi' }], referenceTaskIds: refs } } })
  const r = await rpc(p.base, body, p.token)
  assert.is(r.status, 200)
  assert.is(r.json.result?.task?.status?.state, 'TASK_STATE_COMPLETED', JSON.stringify(r.json))
  const out = p.a.output()
  assert.ok(out.includes('Reference task x\\u000a2026-12-04T18:00:00.000Z Stopped\\u001b[31m not found.'), 'the warning is there, escaped')
  assert.not.ok(out.split('\n').some(l => l.startsWith('2026-12-04T18:00:00.000Z Stopped')), 'no forged line')
  assert.not.ok(out.includes('\u001b'), 'no terminal escape')
  const warned = out.split('\n').filter(l => l.includes('Reference task')).length
  assert.ok(warned <= 101, `${warned} warning lines for one request`)
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
  // An agent offered and granted since A cached B's list is served at once (helper finding, stop
  // 28: 404 until the list ran out, up to a minute, while sov agents listed it).
  // Its URL has a query (a key, say): `agent add` and `agent list` print it as `?…` (helper finding, stop 33).
  const added = await sov(p.b.home, ['agent', 'add', 'second', '--url', `${p.agent.url}?apikey=SECRETQ`])
  assert.is(added.code, 0, added.stderr)
  const listed = await sov(p.b.home, ['agent', 'list'])
  for (const out of [added.stdout, listed.stdout]) assert.ok(out.includes('?…') && !out.includes('SECRETQ'), out)
  await grantSend(p.b.home, p.a.peerId, 'second')
  await new Promise(resolve => setTimeout(resolve, 1000))
  const second = await fetch(`${p.http}/peers/${p.b.peerId}/agents/second/.well-known/agent-card.json`)
  assert.is(second.status, 200, await second.clone().text())
})

test('CARD-CACHE-001 CARD-CACHE-002: an agent card served with max-age=1 that changes is seen changed through A within seconds; B revalidates it with If-None-Match (304 while unchanged); A serves it with the max-age left and an ETag, and a conditional GET gets 304', async ctx => {
  const p = await withDeadline(pair(ctx, { cardCacheControl: 'max-age=1' }), 60_000, 'setup')
  const url = `${p.base}/.well-known/agent-card.json`
  const first = await fetch(url)
  assert.is(first.status, 200)
  assert.is((await first.json() as any).description, 'Builds things for tests')
  const maxAge = Number(/^max-age=(\d+)$/.exec(first.headers.get('cache-control') ?? '')?.[1] ?? NaN)
  assert.ok(maxAge <= 1, `Cache-Control: ${first.headers.get('cache-control')}`)
  const etag = first.headers.get('etag')
  assert.ok(etag !== null && /^"[^"]+"$/.test(etag), `ETag: ${etag}`)
  const again = await fetch(url, { headers: { 'If-None-Match': etag } })
  assert.is(again.status, 304, 'an unchanged card is not sent again')

  // Past its second, the next use makes B revalidate with the agent's ETag: 304, same card.
  await waitFor(async () => { await (await fetch(url)).arrayBuffer(); return p.agent.cardNotModified > 0 }, 10_000, 'a conditional revalidation by B', 300)
  p.agent.setDescription('Builds other things')
  const changed = await waitFor(async () => {
    const r = await fetch(url)
    const c = await r.json() as any
    return c.description === 'Builds other things' ? r : undefined
  }, 10_000, 'the changed card through A', 300)
  assert.is.not(changed.headers.get('etag'), etag, 'a changed card has another ETag')
  const listed = await sov(p.a.home, ['agents', p.b.peerId, '--json'])
  assert.is(listed.json[0]?.description, 'Builds other things')
})

test('CARD-CACHE-001: an agent card served with max-age=3600 is not fetched again: A serves it with about an hour left, and card GETs on A and sov agents leave the agent at the one fetch of sov agent add', async ctx => {
  const p = await withDeadline(pair(ctx, { cardCacheControl: 'max-age=3600' }), 60_000, 'setup')
  assert.is(p.agent.cardFetches, 1, 'sov agent add fetched it once')
  const url = `${p.base}/.well-known/agent-card.json`
  p.agent.setDescription('A newer description')
  for (let i = 0; i < 3; i++) {
    const r = await fetch(url)
    const maxAge = Number(/^max-age=(\d+)$/.exec(r.headers.get('cache-control') ?? '')?.[1] ?? NaN)
    assert.ok(maxAge > 3500 && maxAge <= 3600, `Cache-Control: ${r.headers.get('cache-control')}`)
    assert.is((await r.json() as any).description, 'Builds things for tests', 'the cached card, as the agent allowed')
  }
  for (let i = 0; i < 2; i++) {
    const listed = await sov(p.a.home, ['agents', p.b.peerId, '--json'])
    assert.is(listed.json[0]?.description, 'Builds things for tests', 'B answers from its fresh copy')
  }
  await new Promise(resolve => setTimeout(resolve, 1500))
  await (await fetch(url)).arrayBuffer()
  assert.is(p.agent.cardFetches, 1, 'no fetch after sov agent add')
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
  // Refusals are written after the answer (node/audit/refusal-audit.ts: a flood costs no sync each).
  const rows = await waitFor(async () => { const r = await auditRows(p.a.home); return r.filter(x => x.type === 'A2A_HTTP_REFUSED').length >= 3 ? r : undefined }, 10_000, 'three A2A_HTTP_REFUSED rows')
  assert.is(rows.filter(r => r.type === 'A2A_HTTP_REFUSED').length, 3)
  assert.not.ok(JSON.stringify(rows).includes(reader.json.token), 'no token in the audit log')
})

test('JSONRPC-AUTH: revoking an agent token ends its open streams at once, before their result; the token then gets 401 (helper finding, stop 28: the stream went on to the result)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const temp = await sov(p.a.home, ['agent-token', 'issue', 'temp', '--scope', '/a2a/post', '--json'])
  assert.is(temp.code, 0, temp.stderr)
  const client = await clientFor(p.base, temp.json.token)
  const events: any[] = []
  const reading = (async () => {
    try {
      for await (const e of client.sendMessageStream({ tenant: '', message: userMessage('slow 8000'), configuration: undefined, metadata: undefined })) events.push(e)
      return 'ended'
    } catch (err) {
      return `broke: ${(err as Error).message}`
    }
  })()
  await waitFor(() => events.length > 0, 15_000, 'the first event')
  assert.is((await sov(p.a.home, ['agent-token', 'revoke', 'temp'])).code, 0)
  await withDeadline(reading, 4_000, 'the stream to end at the revocation')
  assert.not.ok(events.some(e => e.payload?.value?.status?.state === TaskState.TASK_STATE_COMPLETED), 'no result after the revocation')
  const again = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'x2', role: 'ROLE_USER', parts: [{ text: 'hi' }] } } }), temp.json.token)
  assert.is(again.status, 401)
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

test('JSONRPC-VERSION CORE-PUSH CORE-EXTCARD: a request without A2A-Version is taken as 0.3 and refused (-32009); push notifications (-32003, a config inside SendMessage too) and the extended card (-32004, the card does not declare it) are answered "not supported"', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } })
  const res = await fetch(p.base, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${p.token}` }, body })
  const noVersion = await res.json() as any
  assert.is(noVersion.error?.code, -32009, JSON.stringify(noVersion))
  assert.is(noVersion.id, 1)
  const old = await fetch(p.base, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${p.token}`, 'A2A-Version': '0.2' }, body })
  assert.is((await old.json() as any).error?.code, -32009)
  const push = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'CreateTaskPushNotificationConfig', params: { taskId: 't', url: 'http://127.0.0.1:1/hook' } }), p.token)
  assert.is(push.json.error?.code, -32003, JSON.stringify(push.json))
  // A push config inside SendMessage is refused too, not ignored (the SDK ignored it silently).
  const inSend = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'SendMessage', params: { message: { messageId: 'm-push', role: 'ROLE_USER', parts: [{ text: 'x' }] }, configuration: { taskPushNotificationConfig: { url: 'http://127.0.0.1:1/hook' } } } }), p.token)
  assert.is(inSend.json.error?.code, -32003, JSON.stringify(inSend.json))
  assert.equal(p.agent.received, [], 'nothing reached the agent')
  const ext = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'GetExtendedAgentCard', params: {} }), p.token)
  assert.is(ext.json.error?.code, -32004, JSON.stringify(ext.json))
  const missing = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'GetTask', params: { id: 'no-such-task' } }), p.token)
  assert.is(missing.json.error?.code, -32001, 'CORE-GET: an unknown task is TaskNotFound')
  // The SDK logged each refused version with its stack trace and the caller's request id.
  assert.not.match(p.a.output(), /VersionNotSupported|Unhandled error|\n\s+at /, 'a refused version leaves no stack in the log')
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
  assert.match(r.stdout + r.stderr, /field "a2a\.http\.listen": "0\.0\.0\.0:4011" is not .*loopback only/)
})

test('CORE-SEND-002 CORE-GET-002: returnImmediately answers at once with a submitted task; polling GetTask on A sees it complete (an agent that does not stream: B polls it)', async ctx => {
  const p = await withDeadline(pair(ctx, { streaming: false }), 60_000, 'setup')
  const t0 = Date.now()
  const task = await withDeadline(send(p.client, 'slow 1500 job', { returnImmediately: true }), 10_000, 'SendMessage')
  assert.ok(Date.now() - t0 < 1500, `answered in ${Date.now() - t0} ms`)
  assert.ok(task.status?.state === TaskState.TASK_STATE_SUBMITTED || task.status?.state === TaskState.TASK_STATE_WORKING, `state ${task.status?.state}`)
  const done = await completed(p.client, task.id, 20_000, 'task to complete')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: slow 1500 job')
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

test('CORE-LIST-001 CORE-LIST-002: ListTasks on A pages newest first with a cursor and counts the total (a tampered cursor is -32602); statusTimestampAfter and historyLength filter; another local token sees none of them, may not speak in their contexts; a negative historyLength is -32602', async ctx => {
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
  // A token with junk appended is not the one issued (base64 decoding skipped the junk).
  const junk = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ListTasks', params: { pageSize: 2, pageToken: `${first.nextPageToken}!!junk` } }), p.token)
  assert.is(junk.json.error?.code, -32602, JSON.stringify(junk.json))
  // statusTimestampAfter: only tasks whose status changed after it; historyLength trims history.
  const third = first.tasks[0]
  const after = async (ts: string) => await p.client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 10, pageToken: '', historyLength: 0, statusTimestampAfter: ts, includeArtifacts: false })
  const since = await after(new Date(Date.parse(third.status!.timestamp!) - 1).toISOString())
  assert.equal(since.tasks.map(t => t.id), [third.id])
  assert.equal(since.tasks[0].history, [], 'historyLength 0')
  assert.is((await after(new Date(Date.now() + 60_000).toISOString())).totalSize, 0)
  const badTime = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ListTasks', params: { statusTimestampAfter: 'yesterday' } }), p.token)
  assert.is(badTime.json.error?.code, -32602, JSON.stringify(badTime.json))

  // Another local agent token sees none of them: tasks belong to the token that sent them.
  const other = await sov(p.a.home, ['agent-token', 'issue', 'other', '--scope', '/a2a/post', '--json'])
  const c2 = await clientFor(p.base, other.json.token)
  const theirs = await c2.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 10, pageToken: '', historyLength: undefined, statusTimestampAfter: undefined, includeArtifacts: undefined })
  assert.is(theirs.totalSize, 0)
  const peek = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'GetTask', params: { id: ids[0] } }), other.json.token)
  assert.is(peek.json.error?.code, -32001, 'another token gets TaskNotFound')
  // Nor may it speak in another token's conversation (the agent would take it as the same one).
  const received = p.agent.received.length
  const inject = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'SendMessage', params: { message: { messageId: 'm-inject', role: 'ROLE_USER', contextId: third.contextId, parts: [{ text: 'inject' }] } } }), other.json.token)
  assert.is(inject.json.error?.code, -32602, JSON.stringify(inject.json))
  assert.match(inject.json.error.message, /contextId "[^"]+" is not one of your conversations/)
  assert.is(p.agent.received.length, received, 'nothing reached the agent')
  const negative = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'ListTasks', params: { historyLength: -1 } }), p.token)
  assert.is(negative.json.error?.code, -32602, JSON.stringify(negative.json))
  // GetTask and SendMessage's configuration take the same check (helper finding, stop 33: GetTask
  // took -1 as "no history" and 1.5 as it came).
  const tasksBefore = (await p.client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 100, pageToken: '', historyLength: 0, statusTimestampAfter: undefined, includeArtifacts: false })).totalSize
  for (const [method, params] of [
    ['GetTask', { id: ids[0], historyLength: -1 }],
    ['GetTask', { id: ids[0], historyLength: 1.5 }],
    ['SendMessage', { message: { messageId: 'hl-1', role: 'ROLE_USER', parts: [{ text: 'x' }] }, configuration: { historyLength: -1 } }]
  ] as const) {
    const r = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 12, method, params }), p.token)
    assert.is(r.json.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r.json)}`)
    assert.match(r.json.error.message, /error\[BAD_REQUEST\]: historyLength .*: give a whole number of messages, 0 or more/)
  }
  const tasksAfter = (await p.client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 100, pageToken: '', historyLength: 0, statusTimestampAfter: undefined, includeArtifacts: false })).totalSize
  assert.is(tasksAfter, tasksBefore, 'the refused SendMessage made no task')
})

// Limits and refusals found by trying to break the endpoint (issue 11): each is a clear error at
// once, never a call that is accepted and then waits, nor an HTML page.
test('CORE-SEND-LIMIT JSONRPC-REQ: a message too large for the mesh is refused before anything is stored (-32602, blocking and streaming); an agent answer too large ends the call FAILED naming the limit, and the next call completes; JSON that is no request object is -32600, a body over 4 MiB a JSON 413, a bad pageToken -32602, a message with no parts or in the agent\'s role -32602, a path naming this node or no PeerId a clear error; a card over 64 KiB is refused at agent add', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  // Just over the call bound, under the snapshot's: the task keeps 16 KiB for the answer (stop 33).
  const big = 'y'.repeat(MAX_CALL_MESSAGE_BYTES)
  for (const method of ['SendMessage', 'SendStreamingMessage']) {
    const r = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { message: { messageId: `big-${method}`, role: 'ROLE_USER', parts: [{ text: big }] } } }), p.token)
    // A refusal before the stream starts is a plain JSON-RPC answer; an SSE one would be `data: {…}`.
    const error = typeof r.json === 'object' ? r.json.error : JSON.parse(String(r.json).replace(/^data: /, '')).error
    assert.is(error?.code, -32602, `${method}: ${JSON.stringify(r.json).slice(0, 300)}`)
    assert.match(error.message, new RegExp(`error\\[TOO_LARGE\\].*over the ${MAX_CALL_MESSAGE_BYTES} bytes`))
  }
  const listed = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ListTasks', params: {} }), p.token)
  assert.is(listed.json.result?.totalSize, 0, 'a refused message left no task')

  const tooBig = await withDeadline(send(p.client, `big ${MAX_TASK_PAYLOAD_BYTES + 1000}`), 30_000, 'the oversized answer')
  assert.is(tooBig.status?.state, TaskState.TASK_STATE_FAILED)
  assert.match(textOf(tooBig.status?.message?.parts), /error\[TOO_LARGE\]: Agent "builder" answered with a task of \d+ bytes/)
  // Past the per-event bound of what B reads (1 MiB + 64 KiB): FAILED naming it, at once, not
  // GetTask after GetTask of the same answer (helper finding, stop 28: ~26 a second, for ever).
  const past = await withDeadline(send(p.client, 'big 3000000'), 30_000, 'an answer past the bound B reads')
  assert.is(past.status?.state, TaskState.TASK_STATE_FAILED)
  assert.match(textOf(past.status?.message?.parts), /error\[TOO_LARGE\]: Cannot deliver to agent "builder": Cannot read the agent's answer: it passed \d+ bytes/)
  // The agent's own 413 (the SDK server takes 100 KB): a permanent refusal, not UNAVAILABLE's
  // outage (helper finding, stop 29).
  const refused = await withDeadline(send(p.client, 'z'.repeat(300_000)), 30_000, 'a message over the agent\'s limit')
  assert.is(refused.status?.state, TaskState.TASK_STATE_FAILED)
  assert.match(textOf(refused.status?.message?.parts), /^error\[TOO_LARGE\]: Cannot deliver to agent "builder": .*413/)
  const next = await withDeadline(send(p.client, 'after the big one'), 30_000, 'the next call')
  assert.is(next.status?.state, TaskState.TASK_STATE_COMPLETED)

  for (const body of ['null', '"str"', '42']) {
    const r = await rpc(p.base, body, p.token)
    assert.is(r.json.error?.code, -32600, `${body}: ${JSON.stringify(r.json)}`)
  }
  const huge = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'SendMessage', params: { pad: 'z'.repeat(5 * 1024 * 1024) } }), p.token)
  assert.is(huge.status, 413)
  assert.is(typeof huge.json, 'object', 'JSON, not an HTML page')
  assert.match(huge.json.error?.message ?? '', /error\[TOO_LARGE\]: the request body is \d+ bytes, over the endpoint's limit of 4194304 bytes/)
  // Chunked, without a length: the same refusal, without a number it does not know (helper
  // finding, stop 28: "is over bytes").
  const chunks = [Buffer.from('{"jsonrpc":"2.0","id":4,"method":"SendMessage","params":{"pad":"'), Buffer.alloc(5 * 1024 * 1024, 0x7a), Buffer.from('"}}')]
  const chunked = await fetch(p.base, { method: 'POST', headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0', Authorization: `Bearer ${p.token}` }, body: new ReadableStream({ pull (c) { const next = chunks.shift(); if (next === undefined) c.close(); else c.enqueue(next) } }), duplex: 'half' } as RequestInit)
  assert.is(chunked.status, 413)
  assert.match(((await chunked.json()) as any).error?.message ?? '', /^error\[TOO_LARGE\]: the request body is over the endpoint's limit of 4194304 bytes; send large content as a file URL$/)
  assert.not.ok(JSON.stringify(huge.json).includes('node_modules'), 'no stack trace')
  const token = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ListTasks', params: { pageToken: 'garbage' } }), p.token)
  assert.is(token.json.error?.code, -32602, JSON.stringify(token.json))
  assert.match(token.json.error.message, /pageToken "garbage" is not one this endpoint issued/)
  // A client's message has parts and is the user's: none, or one in the agent's name, is -32602.
  const received = p.agent.received.length
  for (const [message, why] of [[{ messageId: 'm-e', role: 'ROLE_USER', parts: [] }, /message\.parts: give at least one part/], [{ messageId: 'm-r', role: 'ROLE_AGENT', parts: [{ text: 'x' }] }, /message\.role: a client's message is ROLE_USER, not ROLE_AGENT/]] as const) {
    const r = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'SendMessage', params: { message } }), p.token)
    assert.is(r.json.error?.code, -32602, JSON.stringify(r.json))
    assert.match(r.json.error.message, why)
  }
  assert.is(p.agent.received.length, received, 'neither reached the agent')

  const self = await rpc(`${p.http}/peers/${p.a.peerId}/agents/builder`, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'SendMessage', params: {} }), p.token)
  assert.is(self.status, 400)
  assert.match(self.json.error, /^error\[BAD_REQUEST\]: \S+ is this node itself/)
  const selfCard = await fetch(`${p.http}/peers/${p.a.peerId}/agents/builder/.well-known/agent-card.json`)
  assert.is(selfCard.status, 400)
  const notPeer = await fetch(`${p.http}/peers/notapeer/agents/builder/.well-known/agent-card.json`)
  assert.is(notPeer.status, 404)
  assert.match(((await notPeer.json()) as any).error, /^error\[NOT_FOUND\]: "notapeer" in \/peers\/<PeerId>\/agents\/<name> is not a PeerId/)
  assert.equal(p.agent.received, [`big ${MAX_TASK_PAYLOAD_BYTES + 1000}`, 'big 3000000', 'after the big one'], 'only the three calls reached the agent, each once')

  // Every offered card crosses the mesh in one `agents` frame: a card over 64 KiB is refused at add.
  p.agent.setDescription('d'.repeat(70_000))
  const wordy = await sov(p.b.home, ['agent', 'add', 'wordy', '--url', p.agent.url])
  assert.is(wordy.code, 2, wordy.stderr)
  assert.match(wordy.stderr, /serves a card of over 65536 bytes, more than a card may have/)
  assert.equal((await sov(p.a.home, ['agents', p.b.peerId, '--json'])).json.map((a: any) => a.name), ['builder'], 'B still offers its other agents')
})

test.run()
