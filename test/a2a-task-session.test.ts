// A2A tasks across the mesh (issue 11), the wire: `/sov/a2a-task/1.1.0` (many requests on one
// stream, each tagged with its rid) against a real daemon, and compatibility both ways with nodes
// that speak only `/sov/a2a-task/1.0.0` (one request per stream). docs/protocols.md, "A2A tasks".
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { v7 as uuidv7 } from 'uuid'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { TaskState } from '@a2a-js/sdk'
import { A2A_TASK_PROTOCOL, A2A_TASK_SESSION_PROTOCOL } from '../protocol/index.js'
import { formatSwarmKey, generateSwarmKey, parseSwarmKey } from '../mesh/index.js'
import { A2aTasks, type A2AAuditEvent } from '../a2a/index.js'
import { kitSuite, withDeadline, type KitContext } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, startA2ADaemon } from './kit/a2a.js'
import { startTestAgent } from './kit/a2a-agent.js'
import { startNode } from './kit/mesh.js'
import { clientFor, send, textOf } from './kit/a2a-http.js'

const test = kitSuite('a2a-task-session')
const enc = new TextEncoder()
const dec = new TextDecoder()

/** Daemon B offering a real SDK agent as "builder"; an in-process mesh node X with B's grant. */
async function calleeAndRawCaller (ctx: KitContext): Promise<{ b: Awaited<ReturnType<typeof startA2ADaemon>>, x: Awaited<ReturnType<typeof startNode>> }> {
  const agent = await startTestAgent(ctx)
  const b = await startA2ADaemon(ctx, { config: { a2a: { http: { listen: 0 } } } })
  assert.is((await sov(b.home, ['agent', 'add', 'builder', '--url', agent.url])).code, 0)
  const x = await startNode(ctx, parseSwarmKey(readFileSync(join(b.home, 'swarm.key'))).key)
  await grantSend(b.home, x.peerId.toString(), 'builder')
  return { b, x }
}

function call (text: string): Record<string, unknown> {
  return { v: 1, type: 'call', callId: uuidv7(), agent: 'builder', taskId: `t-${uuidv7()}`, contextId: `c-${uuidv7()}`, message: { messageId: uuidv7(), role: 'ROLE_USER', parts: [{ text }] }, afterSeq: 0 }
}

test('1.1.0: two calls, an agents request and a bad request on one stream; each answer carries its rid, each call\'s events come in order to a final one', async ctx => {
  const { b, x } = await withDeadline(calleeAndRawCaller(ctx), 60_000, 'setup')
  const stream = await x.dialProtocol(multiaddr(b.addr), A2A_TASK_SESSION_PROTOCOL, { signal: AbortSignal.timeout(5000) })
  const lp = lpStream(stream)
  const write = async (o: unknown): Promise<void> => { await lp.write(enc.encode(JSON.stringify(o))) }
  const one = call('first')
  const two = call('second')
  await write({ ...one, rid: 1 })
  await write({ ...two, rid: 2 })
  await write({ v: 1, type: 'agents', rid: 3 })
  await write({ ...call('x'), agent: 'no such name!', rid: 4 })
  const byRid = new Map<number, any[]>()
  await withDeadline((async () => {
    const finals = new Set<number>()
    while (finals.size < 2 || !byRid.has(3) || !byRid.has(4)) {
      const a = JSON.parse(dec.decode((await lp.read()).subarray()))
      if (a.type === 'wait' && a.rid === undefined) continue
      byRid.set(a.rid, [...byRid.get(a.rid) ?? [], a])
      if (a.type === 'event' && a.final === true) finals.add(a.rid)
    }
  })(), 20_000, 'the answers')
  for (const [rid, req] of [[1, one], [2, two]] as const) {
    const events = byRid.get(rid)!
    assert.equal(events.map(e => e.seq), events.map((_, i) => i + 1), `rid ${rid}: seq 1, 2, …`)
    const last = events[events.length - 1]
    assert.is(last.task.id, req.taskId, 'under the caller\'s task id')
    assert.is(last.task.status.state, 'TASK_STATE_COMPLETED')
  }
  assert.equal(byRid.get(3)!.map(a => [a.type, a.agents.map((g: any) => g.name)]), [['agents', ['builder']]])
  assert.equal(byRid.get(4)!.map(a => [a.type, a.code]), [['error', 'BAD_REQUEST']])
  // A frame without a rid cannot be answered as a request: an error without one, and the end.
  await write({ v: 1, type: 'agents' })
  const refusal = JSON.parse(dec.decode((await lp.read({ signal: AbortSignal.timeout(5000) })).subarray()))
  assert.equal([refusal.type, refusal.code, refusal.rid], ['error', 'BAD_REQUEST', undefined])
  await stream.close()
})

test('1.0.0 still served: a caller that opens a stream per request gets its call\'s events to a final one', async ctx => {
  const { b, x } = await withDeadline(calleeAndRawCaller(ctx), 60_000, 'setup')
  const stream = await x.dialProtocol(multiaddr(b.addr), A2A_TASK_PROTOCOL, { signal: AbortSignal.timeout(5000) })
  const lp = lpStream(stream)
  const req = call('old caller')
  await lp.write(enc.encode(JSON.stringify(req)))
  const events: any[] = []
  await withDeadline((async () => {
    for (;;) {
      const a = JSON.parse(dec.decode((await lp.read()).subarray()))
      assert.is(a.rid, undefined, 'no rid on 1.0.0')
      if (a.type === 'wait') continue
      events.push(a)
      if (a.final === true) return
    }
  })(), 20_000, 'the events')
  assert.is(events[events.length - 1].task.status.state, 'TASK_STATE_COMPLETED')
  await stream.close()
})

test('a callee that speaks only 1.0.0 (an older node): the caller daemon falls back to a stream per request and the SDK client gets its answer', async ctx => {
  const agent = await startTestAgent(ctx)
  const swarmKey = generateSwarmKey()
  const old = await startNode(ctx, swarmKey)
  const audit: A2AAuditEvent[] = []
  let caller = ''
  const tasks = new A2aTasks({
    node: old,
    dbPath: join(ctx.tmp('sov-old-'), 'tasks.db'),
    authorize: peer => peer === caller ? { ok: true } : { ok: false, reason: 'not the caller' },
    audit: e => { audit.push(e) },
    authenticate: () => undefined,
    listen: null,
    // An older node: it registers only 1.0.0.
    handleProtocol: async (protocol, handler, options) => {
      if (protocol !== A2A_TASK_PROTOCOL) return async () => {}
      await old.handle(protocol, handler, options)
      return async () => { await old.unhandle(protocol) }
    }
  })
  ctx.defer(async () => { await tasks.stop() })
  await tasks.start()
  await tasks.addAgent('builder', agent.url, 'operator')
  const keyFile = join(ctx.tmp('sov-key-'), 'swarm.key')
  writeFileSync(keyFile, formatSwarmKey(swarmKey))
  const a = await startA2ADaemon(ctx, { swarmKeyFile: keyFile, bootstrap: [old.getMultiaddrs()[0].toString()], config: { a2a: { http: { listen: '127.0.0.1:0' } } } })
  caller = a.peerId
  const token = (await sov(a.home, ['agent-token', 'issue', 'ci', '--scope', '/a2a/post', '--json'])).json.token
  const http = (await sov(a.home, ['status', '--json'])).json.a2aHttp
  const client = await withDeadline(clientFor(`${http}/peers/${old.peerId.toString()}/agents/builder`, token), 20_000, 'the card through the old node')
  for (const text of ['one', 'two']) {
    const task = await withDeadline(send(client, text), 20_000, `call "${text}"`)
    assert.is(task.status?.state, TaskState.TASK_STATE_COMPLETED)
    assert.is(textOf(task.artifacts[0]?.parts), `echo: ${text}`)
  }
  assert.equal(agent.received, ['one', 'two'])
  assert.ok(audit.some(e => e.type === 'A2A_TASK_CALLED' && e.actor === `peer:${a.peerId}`), 'the old node served the calls')
})

test.run()
