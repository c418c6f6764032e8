// Hostile agents, peers' cards and local clients against the A2A endpoint (helper findings,
// stop 26), through real daemons, the built `sov` and a raw HTTP server playing the agent:
// answers and cards that never end are read no further than their bounds; a card's 0.3 endpoint
// fields and non-http links never reach local clients, nor its control characters a terminal;
// the endpoint refuses foreign Host names, slow headers and connections past its cap; one agent's
// streams are capped; client errors leave no stack in the log; JSON nested past 64 levels is
// refused at the endpoint.
import * as assert from 'uvu/assert'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { kitSuite, waitFor, withDeadline, type KitContext } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend } from './kit/a2a.js'
import { pair, rpc, send } from './kit/a2a-http.js'

const test = kitSuite('a2a-hostile')

const MiB = 1024 * 1024
/** The most a hostile route writes, so a node that never stops reading still ends the test. */
const HOSTILE_LIMIT = 256 * MiB

interface Hostile { url: string, sent: Map<string, number>, closed: Set<string>, posts: Map<string, number> }

/**
 * A raw HTTP "agent" on loopback. Routes under `/NAME`:
 * - `huge`: a card whose body never ends;
 * - `bigresp`: a valid card (no streaming), and a JSON-RPC answer whose body never ends;
 * - `js`: a card with 0.3 endpoint fields, javascript: links and terminal escapes;
 * - `noid`: a valid card (no streaming), and a JSON-RPC answer holding a task without an id.
 * `sent` counts the bytes each endless body wrote; `closed` names those whose reader hung up;
 * `posts` counts the JSON-RPC requests each route got.
 */
async function hostileAgent (ctx: KitContext): Promise<Hostile> {
  const sent = new Map<string, number>()
  const closed = new Set<string>()
  const posts = new Map<string, number>()
  let base = ''
  const endless = (res: ServerResponse, name: string, head: string): void => {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    const chunk = Buffer.alloc(256 * 1024, 0x20)
    let n = 0
    res.once('close', () => { sent.set(name, n); closed.add(name) })
    const pump = (): void => {
      if (n === 0) { res.write(head); n += head.length }
      while (n < HOSTILE_LIMIT && !res.destroyed) {
        n += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
  }
  const card = (name: string, extra: Record<string, unknown> = {}): string => JSON.stringify({
    name, description: `hostile ${name}`, version: '1.0.0',
    supportedInterfaces: [{ url: `${base}/${name}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
    capabilities: { streaming: false }, defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'], skills: [], ...extra
  })
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const [, name, rest] = /^\/([^/]+)(.*)$/.exec(req.url ?? '') ?? []
    if (req.method === 'GET' && rest === '/.well-known/agent-card.json') {
      if (name === 'huge') { endless(res, 'card', '{"name":"huge","supportedInterfaces":[1],"pad":"'); return }
      const extra = name === 'js'
        ? {
            description: 'ok\u001b[2J\u001b]0;PWNED\u0007\u001b[31mRED\r\nFAKE-LINE error[OK]: all good\u202e',
            url: 'javascript:alert(1)',
            additionalInterfaces: [{ url: 'http://attacker.example/steal', transport: 'JSONRPC' }],
            preferredTransport: 'JSONRPC',
            security: [{ evil: [] }],
            supportsAuthenticatedExtendedCard: true,
            iconUrl: 'javascript:alert(2)',
            documentationUrl: 'https://example.org/docs',
            provider: { url: 'javascript:alert(3)', organization: 'Hostile Inc.' }
          }
        : {}
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(card(name, extra))
      return
    }
    if (req.method === 'POST') posts.set(name, (posts.get(name) ?? 0) + 1)
    if (req.method === 'POST' && name === 'noid') {
      let body = ''
      req.on('data', d => { body += d })
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(body).id, result: { task: { id: '', contextId: 'c', status: { state: 'TASK_STATE_WORKING' } } } }))
      })
      return
    }
    if (req.method === 'POST' && name === 'html') {
      res.writeHead(500, { 'Content-Type': 'text/html' })
      res.end('<!DOCTYPE html><html><body><pre>Traceback: File "/home/secret/agent/app.py", line 42</pre></body></html>')
      return
    }
    if (req.method === 'POST' && name === 'bigresp') {
      let body = ''
      req.on('data', d => { body += d })
      req.on('end', () => {
        const id = JSON.parse(body).id
        endless(res, 'answer', `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"task":{"id":"t1","contextId":"c1","status":{"state":"TASK_STATE_WORKING"},"metadata":{"pad":"`)
      })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  ctx.defer(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return { url: base, sent, closed, posts }
}

test('CORE-SEND-LIMIT: an agent answer that never ends is cut at 1 MiB + 64 KiB (the call ends FAILED naming TOO_LARGE); a card that never ends is refused at agent add; each time the agent sees its connection dropped after a few MiB; an agent\'s HTML error page reaches the caller as its status only', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const h = await hostileAgent(ctx)

  const huge = await sov(p.b.home, ['agent', 'add', 'huge', '--url', `${h.url}/huge`], { timeoutMs: 30_000 })
  assert.is(huge.code, 2, huge.stderr)
  assert.match(huge.stderr, /serves a card of over 65536 bytes, more than a card may have/)
  await waitFor(() => h.closed.has('card'), 10_000, 'the card fetch to hang up')
  assert.ok(h.sent.get('card')! < 16 * MiB, `the node read ${h.sent.get('card')} bytes of an endless card`)

  assert.is((await sov(p.b.home, ['agent', 'add', 'bigresp', '--url', `${h.url}/bigresp`])).code, 0)
  await grantSend(p.b.home, p.a.peerId, 'bigresp')
  const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'm-endless', role: 'ROLE_USER', parts: [{ text: 'x' }] } } })
  const r = await withDeadline(rpc(`${p.http}/peers/${p.b.peerId}/agents/bigresp`, call, p.token), 30_000, 'the call to fail')
  const task = r.json.result?.task
  assert.is(task?.status?.state, 'TASK_STATE_FAILED', JSON.stringify(r.json).slice(0, 500))
  assert.match(task.status.message.parts[0].text, /^error\[TOO_LARGE\]: Cannot deliver to agent "bigresp": Cannot read the agent's answer: it passed 1114112 bytes/)
  await waitFor(() => h.closed.has('answer'), 10_000, 'the answer to hang up')
  assert.ok(h.sent.get('answer')! < 16 * MiB, `the node read ${h.sent.get('answer')} bytes of an endless answer`)
  // An agent's HTML error page stays on B: the caller reads its status only.
  assert.is((await sov(p.b.home, ['agent', 'add', 'html', '--url', `${h.url}/html`])).code, 0)
  await grantSend(p.b.home, p.a.peerId, 'html')
  const paged = await withDeadline(rpc(`${p.http}/peers/${p.b.peerId}/agents/html`, call.replace('m-endless', 'm-html'), p.token), 30_000, 'the call to the html agent')
  const failed = paged.json.result?.task?.status
  assert.is(failed?.state, 'TASK_STATE_FAILED', JSON.stringify(paged.json).slice(0, 500))
  assert.is(failed.message.parts[0].text, 'error[UNAVAILABLE]: Cannot deliver to agent "html": HTTP error for SendMessage! Status: 500 Internal Server Error (its body is not a JSON-RPC answer)')
  // A task without an id: the call fails saying so, after the one request (no GetTask of "").
  assert.is((await sov(p.b.home, ['agent', 'add', 'noid', '--url', `${h.url}/noid`])).code, 0)
  await grantSend(p.b.home, p.a.peerId, 'noid')
  const noid = await withDeadline(rpc(`${p.http}/peers/${p.b.peerId}/agents/noid`, call.replace('m-endless', 'm-noid'), p.token), 30_000, 'the call to the noid agent')
  assert.is(noid.json.result?.task?.status?.state, 'TASK_STATE_FAILED', JSON.stringify(noid.json).slice(0, 500))
  assert.is(noid.json.result.task.status.message.parts[0].text, 'error[UNAVAILABLE]: Cannot deliver to agent "noid": it answered with a task without an id')
  assert.is(h.posts.get('noid'), 1)
  const next = await withDeadline(send(p.client, 'after the endless one'), 30_000, 'the next call')
  assert.is(next.status?.state, 3, 'builder still answers (TASK_STATE_COMPLETED)')
})

test('CARD-001: a card with 0.3 endpoint fields and javascript: links reaches local clients without them; its control characters reach no terminal (sov agents, sov agent list, sov agent add)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const h = await hostileAgent(ctx)
  const added = await sov(p.b.home, ['agent', 'add', 'js', '--url', `${h.url}/js`])
  assert.is(added.code, 0, added.stderr)
  await grantSend(p.b.home, p.a.peerId, 'js')
  // sov agents asks B again (A's list from the setup holds builder only).
  const remote = await sov(p.a.home, ['agents', p.b.peerId])
  const card = await (await fetch(`${p.http}/peers/${p.b.peerId}/agents/js/.well-known/agent-card.json`)).json() as any
  for (const k of ['url', 'additionalInterfaces', 'preferredTransport', 'security', 'supportsAuthenticatedExtendedCard', 'iconUrl']) {
    assert.not.ok(k in card, `${k} is served: ${JSON.stringify(card[k])}`)
  }
  assert.not.match(JSON.stringify(card), /javascript:|attacker\.example/)
  assert.is(card.documentationUrl, 'https://example.org/docs', 'an https link stays')
  assert.equal(card.provider, { organization: 'Hostile Inc.' })
  assert.equal(card.supportedInterfaces, [{ url: `${p.http}/peers/${p.b.peerId}/agents/js`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }])

  const outputs = [added.stdout, (await sov(p.b.home, ['agent', 'list'])).stdout, remote.stdout]
  for (const out of outputs) {
    // eslint-disable-next-line no-control-regex
    assert.not.match(out, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/, `a control character reached the terminal: ${JSON.stringify(out)}`)
    assert.match(out, /ok\\u\{1b\}\[2J\\u\{1b\}\]0;PWNED\\u\{7\}/)
    assert.not.match(out, /^FAKE-LINE/m, 'the description cannot forge a line')
  }
  assert.is((await sov(p.a.home, ['agents', p.b.peerId, '--json'])).json.find((a: any) => a.name === 'js').description.slice(0, 4), 'ok\u001b[', '--json keeps the text as it is')
})

/** A GET with the Host header we choose (fetch does not let one set it). */
async function getWithHost (url: string, host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { headers: { Host: host } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.once('error', reject)
    req.end()
  })
}

test('the endpoint: a Host that is no loopback name is 403 (DNS rebinding); a client that never finishes its headers is dropped within seconds; connections past 512 are closed as they come, and the CLI still reaches the daemon', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const cardUrl = `${p.http}/peers/${p.b.peerId}/agents/builder/.well-known/agent-card.json`
  assert.is(await getWithHost(cardUrl, 'evil.example'), 403)
  assert.is(await getWithHost(cardUrl, 'evil.example:80'), 403)
  for (const ok of [new URL(p.http).host, `localhost:${new URL(p.http).port}`]) assert.is(await getWithHost(cardUrl, ok), 200, ok)

  const port = Number(new URL(p.http).port)
  const sockets: Socket[] = []
  ctx.defer(() => { for (const s of sockets) s.destroy() })
  let closed = 0
  const open = async (): Promise<Socket> => await new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => { s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); resolve(s) })
    s.once('error', () => {})
    s.once('close', () => { closed++ })
    s.once('error', reject)
    sockets.push(s)
  })
  const slow = await open()
  // Read what comes: a socket nobody reads never emits 'end' (the 408 and the FIN sat unread in
  // the test's buffer, which made this test fail now and then).
  let answer = ''
  slow.on('data', d => { answer += String(d) })
  const slowClosed = new Promise<void>(resolve => { slow.once('end', () => { resolve() }) })
  await withDeadline(slowClosed, 25_000, 'a client that never finishes its headers to be dropped (408 after 10 s)')
  assert.match(answer, /^HTTP\/1\.1 408 /)
  closed = 0
  for (let i = 0; i < 560; i++) await open()
  await waitFor(() => closed >= 40, 10_000, `connections past the cap to be closed (${closed} so far)`)
  const st = await sov(p.a.home, ['status', '--json'])
  assert.is(st.code, 0, st.stderr)
})

test('STREAM-LIMIT: one agent holds at most 32 open streams (the 33rd is HTTP 429), and one more once a stream closes; SubscribeToTask of an unknown task is TaskNotFound with no stack in the log; params nested 5,000 deep are -32602 naming the depth', async ctx => {
  const p = await withDeadline(pair(ctx, { streaming: false }), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'slow 20000 job', { returnImmediately: true }), 10_000, 'SendMessage')
  const subscribe = async (id: string, signal?: AbortSignal): Promise<Response> => await fetch(p.base, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0', Authorization: `Bearer ${p.token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SubscribeToTask', params: { id } }),
    signal
  })
  const streams: AbortController[] = []
  // The responses are held: fetch (undici) cancels the body of a Response collected unread, which
  // closed a stream early now and then on Node 22 (the 33rd was then 200).
  const held: Response[] = []
  ctx.defer(() => { for (const s of streams) s.abort(); held.length = 0 })
  for (let i = 0; i < 32; i++) {
    const ac = new AbortController()
    streams.push(ac)
    const res = await subscribe(task.id, ac.signal)
    held.push(res)
    assert.is(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/)
  }
  const over = await subscribe(task.id)
  assert.is(over.status, 429)
  assert.match((await over.json() as any).error.message, /^error\[UNAVAILABLE\]: agent "ci" holds 32 open streams, the most one agent may \(32\)/)
  streams.pop()!.abort()
  await waitFor(async () => { const r = await subscribe(task.id, AbortSignal.timeout(2000)).catch(() => undefined); if (r?.status === 200) { void r.body?.cancel(); return true } return false }, 10_000, 'a stream to be free again')

  for (const s of streams) s.abort()
  const missing = await waitFor(async () => { const r = await subscribe('no-such-task'); return r.status === 429 ? undefined : await r.json() as any }, 10_000, 'the streams to close')
  assert.is(missing.error?.code, -32001, JSON.stringify(missing))
  const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
  const nested = await rpc(p.base, `{"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"deep","role":"ROLE_USER","parts":[{"text":"x"}],"metadata":${deep}}}}`, p.token)
  assert.is(nested.json.error?.code, -32602, JSON.stringify(nested.json).slice(0, 300))
  assert.match(nested.json.error.message, /Invalid params: the value at \$\.params\.message\.metadata(\.a)+ is nested deeper than 64 levels/)
  assert.is(nested.json.id, 7)
  assert.not.match(p.a.output(), /TaskNotFound|Pre-stream error|\n\s+at /, 'no stack and no request id in the log')
  assert.equal(p.agent.received, ['slow 20000 job'], 'nothing else reached the agent')
})

test.run()
