// Private A2A (issue 11), tasks across the mesh between real daemon processes: multi-turn,
// cancel, the pull model, no grant, the agent down. Restarts are in a2a-restart.test.ts. Test
// names carry the A2A v1.0 TCK requirement ids they cover where one applies.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SendMessageConfiguration, TaskState, type Task } from '@a2a-js/sdk'
import { MAX_ENVELOPE_BYTES } from '../protocol/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend } from './kit/a2a.js'
import { auditRows, auditRowsOnce, clientFor, completed, pair, rpc, send, textOf, userMessage } from './kit/a2a-http.js'

const test = kitSuite('a2a-tasks')

test('CORE-MULTI-TURN STREAM-SUB: input-required (SubscribeToTask then gives the task and ends), then the next message with the same taskId and contextId reaches the same agent task and completes it; of two next messages at once one is refused; a new task in the context reaches the agent in its context', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const first = await withDeadline(send(p.client, 'ask me'), 30_000, 'first turn')
  assert.is(first.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  assert.is(textOf(first.status?.message?.parts), 'which colour?')
  // STREAM-SUB: subscribing to a task waiting for input gives the task and ends (the turn is over).
  const events: unknown[] = []
  await withDeadline((async () => { for await (const e of p.client.resubscribeTask({ tenant: '', id: first.id })) events.push(e) })(), 10_000, 'SubscribeToTask of a task waiting for input to end')
  assert.is(events.length, 1, JSON.stringify(events))
  // Two next turns at once: one is taken, the other refused; the agent sees one.
  const turns = await withDeadline(Promise.allSettled(['blue', 'red'].map(async c => await send(p.client, c, { taskId: first.id, contextId: first.contextId }))), 30_000, 'second turn')
  const taken = turns.filter(t => t.status === 'fulfilled')
  assert.is(taken.length, 1, JSON.stringify(turns.map(t => t.status === 'rejected' ? String(t.reason) : 'ok')))
  const second = (taken[0] as PromiseFulfilledResult<Task>).value
  const colour = textOf(second.status?.message?.parts).replace(/^got /, '')
  assert.is(second.id, first.id)
  assert.is(second.status?.state, TaskState.TASK_STATE_COMPLETED)
  assert.equal(p.agent.received, ['ask me', colour])
  assert.ok(['blue', 'red'].includes(colour), colour)
  // A new task in the same context reaches the agent in its context too.
  const another = await withDeadline(send(p.client, 'in the same context', { contextId: first.contextId }), 30_000, 'a new task in the context')
  assert.is.not(another.id, first.id)
  assert.is(another.contextId, first.contextId)
  assert.is(p.agent.contexts[2], p.agent.contexts[0], 'the agent saw its own context again')
})

test('CORE-MULTI-TURN: an agent that answers a next turn first with its task as the last turn left it (input-required) completes that turn; streaming and not (helper finding, stop 28: the replayed question ended the turn and the answer was lost)', async ctx => {
  for (const streaming of [true, false]) {
    const p = await withDeadline(pair(ctx, { streaming }), 60_000, 'setup')
    const first = await withDeadline(send(p.client, 'ask me'), 30_000, 'first turn')
    assert.is(first.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
    const second = await withDeadline(send(p.client, 'replay blue', { taskId: first.id, contextId: first.contextId }), 30_000, 'second turn')
    assert.is(second.status?.state, TaskState.TASK_STATE_COMPLETED, `streaming ${String(streaming)}: ${JSON.stringify(second.status)}`)
    assert.is(textOf(second.status?.message?.parts), 'got replay blue')
    assert.equal(p.agent.received, ['ask me', 'replay blue'])
    const endsOf = (rs: any[]): any[] => rs.filter(r => r.type === 'A2A_TASK_ENDED' && r.detail.taskId === first.id)
    const rows = endsOf(await auditRowsOnce(p.a.home, rs => endsOf(rs).length >= 2, 'two end rows on A'))
    assert.equal(rows.map(r => r.detail.state), ['TASK_STATE_INPUT_REQUIRED', 'TASK_STATE_COMPLETED'])
  }
})

test('CORE-MULTI-TURN: a next turn the agent cannot take (it restarted and forgot the task) fails and the task keeps its conversation, the failure last (helper finding, stop 28: the history held only the error)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const first = await withDeadline(send(p.client, 'ask me'), 30_000, 'first turn')
  assert.is(first.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  await p.agent.stop()
  await p.agent.start()
  const second = await withDeadline(send(p.client, 'blue', { taskId: first.id, contextId: first.contextId }), 30_000, 'second turn')
  assert.is(second.status?.state, TaskState.TASK_STATE_FAILED)
  assert.match(textOf(second.status?.message?.parts), /^error\[UNAVAILABLE\]: Cannot deliver to agent "builder": /)
  const got = await p.client.getTask({ tenant: '', id: first.id, historyLength: undefined })
  assert.equal(got.history.map(m => textOf(m.parts)).slice(0, 3), ['ask me', 'which colour?', 'blue'])
})

test('CORE-CANCEL-001 CORE-CANCEL-002: CancelTask of a working task travels to the agent behind B; the task is CANCELED on A, and stays so; cancelling it again is TaskNotCancelableError (-32002); one end row on each node', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 3000 long job', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  const cancelled = await withDeadline(p.client.cancelTask({ tenant: '', id: task.id, metadata: undefined }), 20_000, 'CancelTask')
  assert.is(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
  await new Promise(resolve => setTimeout(resolve, 3500))
  const later = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(later.status?.state, TaskState.TASK_STATE_CANCELED, 'the agent finishing later does not undo the cancellation')
  // A2A v1.0 §3.1.5: a task already canceled is not cancelable (the SDK returned it as it was).
  const again = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'CancelTask', params: { id: task.id } }), p.token)
  assert.is(again.json.error?.code, -32002, JSON.stringify(again.json))
  const ends = async (home: string): Promise<any[]> => (await auditRows(home)).filter(r => r.type === 'A2A_TASK_ENDED' && r.detail.taskId === task.id)
  await waitFor(async () => (await ends(p.b.home)).length > 0, 5000, 'the callee end row')
  assert.is((await ends(p.b.home)).length, 1, 'one end row on B (a cancel wrote two)')
  assert.is((await ends(p.a.home)).length, 1, 'one end row on A')
})

test('CORE-CANCEL-001: CancelTask of a call still waiting for its agent (down) cancels it at once on both nodes; the agent, up again, never gets it', async ctx => {
  const p = await withDeadline(pair(ctx, { streaming: false }), 60_000, 'setup')
  await p.agent.stop()
  const task = await withDeadline(send(p.client, 'never mind', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(async () => (await auditRows(p.b.home)).some(r => r.type === 'A2A_TASK_CALLED'), 10_000, 'B to have the call')
  const cancelled = await withDeadline(p.client.cancelTask({ tenant: '', id: task.id, metadata: undefined }), 10_000, 'CancelTask')
  assert.is(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
  await p.agent.start()
  await new Promise(resolve => setTimeout(resolve, 4000)) // past B's next retry (back-off 250 ms doubling)
  assert.equal(p.agent.received, [], 'the cancelled call was never sent')
  assert.is((await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })).status?.state, TaskState.TASK_STATE_CANCELED)
  const ended = (await auditRowsOnce(p.b.home, rs => rs.some(r => r.type === 'A2A_TASK_ENDED'), 'the end row on B')).filter(r => r.type === 'A2A_TASK_ENDED')
  assert.equal(ended.map(r => r.detail.state), ['TASK_STATE_CANCELED'], 'one end row on B')
})

test('CORE-CANCEL-002 CORE-CANCEL-001: CancelTask of a completed task is TaskNotCancelableError (-32002); of a task waiting for input it reaches the agent and the task is CANCELED', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'quick'), 30_000, 'SendMessage')
  const r = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'CancelTask', params: { id: task.id } }), p.token)
  assert.is(r.json.error?.code, -32002, JSON.stringify(r.json))
  const asking = await withDeadline(send(p.client, 'ask me'), 30_000, 'SendMessage')
  assert.is(asking.status?.state, TaskState.TASK_STATE_INPUT_REQUIRED)
  const cancelled = await withDeadline(p.client.cancelTask({ tenant: '', id: asking.id, metadata: undefined }), 10_000, 'CancelTask')
  assert.is(cancelled.status?.state, TaskState.TASK_STATE_CANCELED)
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
  // A reply sent again with its --message-id (a retry after a lost answer; here two at once) is
  // made once: the history below holds "on it" once (stop 32).
  const working = await Promise.all([1, 2].map(async () => await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'on it', '--state', 'working', '--message-id', 'reply-1', '--json'])))
  for (const w of working) assert.is(w.code, 0, w.stderr)
  assert.equal(working.map(w => w.json.state), ['TASK_STATE_WORKING', 'TASK_STATE_WORKING'])
  const onIt = await state(TaskState.TASK_STATE_WORKING)
  assert.is(textOf(onIt.status?.message?.parts), 'on it')
  assert.is(onIt.status?.message?.messageId, 'reply-1', 'the reply carries the agent\'s messageId')
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'the note', '--artifact', 'note', '--state', 'working'])).code, 0)
  // Refused, and nothing written: a snapshot the mesh cannot carry, and an empty text.
  // (A file whose base64 alone fills an envelope; one of 10 MB is refused by the CLI naming it.)
  const bigFile = join(ctx.tmp(), 'big.bin')
  writeFileSync(bigFile, Buffer.alloc(MAX_ENVELOPE_BYTES / 4 * 3, 1))
  const tooBig = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, '--file', bigFile, '--state', 'working'])
  assert.is.not(tooBig.code, 0, tooBig.stdout + tooBig.stderr)
  assert.match(tooBig.stderr, /error\[TOO_LARGE\]: Cannot reply to "[^"]+": the task would be \d+ bytes of JSON, over the \d+ bytes one snapshot can carry/)
  const hugeFile = join(ctx.tmp(), 'huge.bin')
  writeFileSync(hugeFile, Buffer.alloc(10_000_000, 1))
  for (const args of [['a2a', 'reply', 'scribe', call.id, '--file', hugeFile], ['a2a', 'send', p.a.peerId, 'scribe', '--file', hugeFile]]) {
    const huge = await sov(p.b.home, args)
    assert.is(huge.code, 1, huge.stdout + huge.stderr)
    assert.match(huge.stderr, new RegExp(`^error\\[TOO_LARGE\\]: Cannot send --file "${hugeFile}": it is 10000000 bytes, over the 786432 bytes one message could ever carry`))
  }
  const blank = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, ''])
  assert.is(blank.code, 2)
  assert.match(blank.stderr, /error\[BAD_REQUEST\]: Cannot send an empty text/)
  assert.is((await state(TaskState.TASK_STATE_WORKING)).artifacts.length, 1, 'the refused replies changed nothing')
  const otherContent = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'not on it', '--state', 'working', '--message-id', 'reply-1'])
  assert.is(otherContent.code, 1)
  assert.match(otherContent.stderr, /^error\[CONFLICT\]: Cannot reply to "[^"]+" with messageId "reply-1": a reply with other content was already made under that id/)
  // The same content with its members in another order (rebuilt from stored JSON) is the same reply.
  for (const data of ['{"a":1,"b":[2]}', '{"b":[2],"a":1}']) {
    const r = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, '--data', data, '--state', 'working', '--message-id', 'reply-data'])
    assert.is(r.code, 0, r.stderr)
  }
  // An id the task already has (here the caller's own message) would make two messages one.
  const callersId = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'mine', '--state', 'working', '--message-id', call.message.messageId])
  assert.is(callersId.code, 1)
  assert.match(callersId.stderr, new RegExp(`^error\\[CONFLICT\\]: Cannot reply to "[^"]+" with messageId "${String(call.message.messageId)}": a message of task ${task.id} already has that id`))
  const blankId = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'x', '--message-id', ' '])
  assert.is(blankId.code, 2)
  assert.match(blankId.stderr, /^error\[BAD_REQUEST\]: Cannot use --message-id " ": use 1 to 256 characters, not only spaces/)
  assert.is((await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'done', '--message-id', 'reply-2', '--json'])).json.final, true)
  // The final reply's answer lost and sent again: answered as the first time, not CONFLICT.
  const again = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'done', '--message-id', 'reply-2', '--json'])
  assert.is(again.code, 0, again.stderr)
  assert.equal([again.json.final, again.json.state], [true, 'TASK_STATE_COMPLETED'])
  const endOf = (r: any): boolean => r.type === 'A2A_TASK_ENDED' && r.detail.taskId === task.id
  assert.is((await auditRowsOnce(p.b.home, rs => rs.some(endOf), 'the end row on B')).filter(endOf).length, 1, 'one end of the task on B')
  const done = await state(TaskState.TASK_STATE_COMPLETED)
  assert.is(textOf(done.artifacts.find(a => a.artifactId === 'note')?.parts), 'the note')
  assert.is(textOf(done.status?.message?.parts), 'done')
  assert.equal(done.history.map(m => textOf(m.parts)), ['write a note', 'on it', '', 'done'], 'the caller\'s message first, then the replies (one a data part), each once')
  const late = await sov(p.b.home, ['a2a', 'reply', 'scribe', call.id, 'again', '--json'])
  assert.is(late.code, 1)
  assert.match(late.stdout + late.stderr, /CONFLICT/)
  // A plain message in the same mailbox is acknowledged, not answered: the refusal says so
  // (helper finding, stop 28: it pointed at sov a2a receive, where the id came from).
  const plain = await sov(p.b.home, ['a2a', 'reply', 'scribe', '01a23c34-da35-7e3c-8f00-000000000000', 'x'])
  assert.is(plain.code, 1)
  assert.match(plain.stderr, /^error\[NOT_FOUND\]: Cannot reply to "[^"]+" in mailbox "scribe": no A2A call has that id \(a call comes with a taskId in sov a2a receive scribe\); a message sent with sov a2a send is not answered but acknowledged: sov a2a ack scribe LEASE/)
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
  await auditRowsOnce(p.b.home, rs => rs.some(r => r.type === 'A2A_TASK_REFUSED' && r.outcome === 'denied'), 'callee refusal row')
  await auditRowsOnce(p.a.home, rs => rs.some(r => r.type === 'A2A_TASK_REFUSED'), 'caller refusal row')
})

test('a grant revoked while a call runs: that call goes on to its end; the next call is refused FORBIDDEN (as docs/a2a.md says; helper finding, stop 29)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const grants = (await sov(p.b.home, ['cap', 'list', '--json'])).json.filter((g: any) => g.aud === p.a.peerId)
  const task = await withDeadline(send(p.client, 'slow 2000 running', { returnImmediately: true }), 10_000, 'SendMessage')
  await waitFor(() => p.agent.received.length === 1, 10_000, 'the agent to get the call')
  for (const g of grants) assert.is((await sov(p.b.home, ['cap', 'revoke', g.id])).code, 0)
  assert.is(textOf((await completed(p.client, task.id, 20_000, 'the running call to end')).artifacts[0]?.parts), 'echo: slow 2000 running')
  const next = await withDeadline(send(p.client, 'after the revoke'), 20_000, 'the next call')
  assert.is(next.status?.state, TaskState.TASK_STATE_FAILED)
  assert.match(textOf(next.status?.message?.parts), /FORBIDDEN/)
  assert.is(p.agent.received.length, 1)
})

test('the callee agent down, then up: the call waits durably on B and completes (an agent that does not stream: B polls it)', async ctx => {
  const p = await withDeadline(pair(ctx, { streaming: false }), 60_000, 'setup')
  await p.agent.stop()
  const task = await withDeadline(send(p.client, 'while you were out', { returnImmediately: true }), 10_000, 'SendMessage')
  await new Promise(resolve => setTimeout(resolve, 3000))
  const mid = await p.client.getTask({ tenant: '', id: task.id, historyLength: undefined })
  assert.is(mid.status?.state, TaskState.TASK_STATE_SUBMITTED)
  await p.agent.start()
  const done = await completed(p.client, task.id, 20_000, 'task to complete after the agent came back')
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: while you were out')
  assert.equal(p.agent.received, ['while you were out'])
})

test('a callee whose node revoked us: the blocking call ends SUBMITTED with a status message naming the peer and why it is not yet delivered; after unrevoke it completes (helper finding, stop 29: SUBMITTED with no word of why)', async ctx => {
  const p = await withDeadline(pair(ctx, { blockingMaxMs: 4000 }), 60_000, 'setup')
  assert.is((await sov(p.b.home, ['peers', 'revoke', p.a.peerId])).code, 0)
  const task = await withDeadline(send(p.client, 'are you there'), 20_000, 'the blocking call')
  assert.is(task.status?.state, TaskState.TASK_STATE_SUBMITTED)
  const said = textOf(task.status?.message?.parts)
  assert.match(said, new RegExp(`^Not yet delivered to ${p.b.peerId}: .+The call stays open`))
  assert.match(said, /sov peers ping/)
  assert.is(p.agent.received.length, 0)
  assert.is((await sov(p.b.home, ['peers', 'unrevoke', p.a.peerId])).code, 0)
  const done = await completed(p.client, task.id, 30_000, 'the call to complete once B takes A again', 500)
  assert.is(textOf(done.artifacts[0]?.parts), 'echo: are you there')
  assert.not.match(textOf(done.status?.message?.parts), /Not yet delivered/, 'the pending note is gone once the callee answered')
})

test('CORE-SEND idempotent retry: a message sent again (same messageId: the client lost the answer) gets the task it started, blocking and streaming, done or still working; the agent gets it once; the same messageId on other content is -32602 (stop 31: a retry became a second task and the agent did the work twice)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const once = userMessage('hello once')
  const sendIt = async (m: ReturnType<typeof userMessage>, returnImmediately = false): Promise<Task> =>
    await p.client.sendMessage({ tenant: '', message: m, configuration: returnImmediately ? SendMessageConfiguration.fromJSON({ returnImmediately: true }) : undefined, metadata: undefined }) as Task
  const streamIt = async (m: ReturnType<typeof userMessage>): Promise<{ ids: string[], kinds: string[], state?: TaskState }> => {
    const out: { ids: string[], kinds: string[], state?: TaskState } = { ids: [], kinds: [] }
    for await (const ev of p.client.sendMessageStream({ tenant: '', message: m, configuration: undefined, metadata: undefined })) {
      const pl = ev.payload
      if (pl === undefined) continue
      out.kinds.push(pl.$case)
      if (pl.$case === 'task') { out.ids.push(pl.value.id); out.state = pl.value.status?.state }
      if (pl.$case === 'statusUpdate') { out.ids.push(pl.value.taskId); out.state = pl.value.status?.state }
    }
    return out
  }
  const first = await withDeadline(sendIt(once), 30_000, 'first send')
  assert.is(first.status?.state, TaskState.TASK_STATE_COMPLETED)
  const again = await withDeadline(sendIt(once), 10_000, 'the same message again')
  assert.is(again.id, first.id)
  assert.is(again.status?.state, TaskState.TASK_STATE_COMPLETED)
  const streamed = await withDeadline(streamIt(once), 10_000, 'the same message again, streaming')
  assert.equal(streamed.ids, [first.id], JSON.stringify(streamed))
  // Still working when it comes again: the retry follows the same task to its end.
  const slow = userMessage('slow 1500 the long one')
  const started = await withDeadline(sendIt(slow, true), 10_000, 'a slow message')
  const followed = await withDeadline(streamIt(slow), 20_000, 'the slow message again, streaming')
  assert.ok(followed.ids.length > 0 && followed.ids.every(id => id === started.id), JSON.stringify(followed))
  assert.is(followed.state, TaskState.TASK_STATE_COMPLETED)
  assert.equal(p.agent.received, ['hello once', 'slow 1500 the long one'])
  // The same messageId on other content is the client's mistake, named; nothing is sent.
  const other = await rpc(p.base, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'SendMessage', params: { message: { messageId: once.messageId, role: 'ROLE_USER', parts: [{ text: 'something else' }] } } }), p.token)
  assert.is(other.json.error?.code, -32602, JSON.stringify(other.json))
  assert.match(other.json.error.message, /already sent with other content/)
  const rows = (await auditRowsOnce(p.a.home, rs => rs.filter(r => r.type === 'A2A_TASK_CALLED').length >= 2, 'two call rows on A')).filter(r => r.type === 'A2A_TASK_CALLED')
  assert.is(rows.length, 2, 'one call a message')
  assert.equal(p.agent.received, ['hello once', 'slow 1500 the long one'])
})

test.run()
