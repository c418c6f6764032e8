// The forwarder's fetch for http: agents (a2a/tasks/http-fetch.ts, issue 11 performance) against
// a real node:http server on loopback: what the SDK's JSON-RPC transport reads of a Response, and
// the errors the forwarder tells apart (a timeout, a refused connection, a body cut short).
import * as assert from 'uvu/assert'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { localFetch } from '../a2a/index.js'
import { kitSuite, waitFor, type KitContext } from './kit/index.js'
import { freePort } from './kit/a2a.js'

const test = kitSuite('a2a-http-fetch')

async function serve (ctx: KitContext, handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', d => { body += d })
    req.on('end', () => { handler(req, res, body) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  ctx.defer(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
}

function client (ctx: KitContext): typeof fetch {
  const f = localFetch()
  ctx.defer(() => { f.close() })
  return f.fetch
}

test('a JSON-RPC POST: method, headers and body reach the server; status, headers and json() come back; the socket is kept alive', async ctx => {
  const seen: Array<{ method?: string, type?: string, body: string, port?: number }> = []
  const url = await serve(ctx, (req, res, body) => {
    seen.push({ method: req.method, type: req.headers['content-type'], body, port: req.socket.remotePort })
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { echo: JSON.parse(body).params } }))
  })
  const f = client(ctx)
  for (const n of [1, 2]) {
    const r = await f(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { n } }) })
    assert.is(r.ok, true)
    assert.is(r.status, 200)
    assert.is(r.headers.get('Content-Type'), 'application/json')
    assert.equal(await r.json(), { jsonrpc: '2.0', id: 1, result: { echo: { n } } })
  }
  assert.equal(seen.map(s => [s.method, s.type]), [['POST', 'application/json'], ['POST', 'application/json']])
  assert.is(seen[0].port, seen[1].port, 'one kept-alive connection')
})

test('an SSE answer arrives on body event by event, before the server ends it; an error status is not ok and its text() readable', async ctx => {
  let finish = (): void => {}
  const url = await serve(ctx, (req, res) => {
    if (req.url === '/bad') { res.writeHead(500, { 'Content-Type': 'text/plain' }).end('nope'); return }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    res.write('data: {"a":1}\n\n')
    finish = () => { res.end('data: {"a":2}\n\n') }
  })
  const f = client(ctx)
  const r = await f(url, { method: 'POST', body: '{}' })
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader()
  assert.is((await reader.read()).value, 'data: {"a":1}\n\n', 'the first event while the answer is still open')
  finish()
  assert.is((await reader.read()).value, 'data: {"a":2}\n\n')
  assert.is((await reader.read()).done, true)
  const bad = await f(`${url}bad`, { method: 'POST', body: '{}' })
  assert.equal([bad.ok, bad.status, await bad.text()], [false, 500, 'nope'])
})

test('bounded answers: an SSE stream of 3 MiB in 64 KiB events is read whole (the bound is per event, events end in \\n\\n, \\r\\n\\r\\n or \\r\\r, split across chunks); one event, or a JSON body, past 1 MiB + 64 KiB errors the body with TOO_LARGE and the server sees the connection dropped', async ctx => {
  const KiB = 1024
  const ends = ['\n\n', '\r\n\r\n', '\r\r']
  let dropped = 0
  const url = await serve(ctx, (req, res) => {
    res.once('close', () => { if (!res.writableFinished) dropped++ })
    const pad = (n: number): string => 'data: ' + 'x'.repeat(n) + '\n'
    if (req.url === '/many') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' })
      // Each event is written in two pieces, the second holding half of its blank line.
      for (let i = 0; i < 48; i++) { const e = ends[i % 3]; res.write(pad(64 * KiB) + e.slice(0, e.length / 2)); res.write(e.slice(e.length / 2)) }
      res.end()
      return
    }
    // 64 MiB with back-pressure: far more than socket buffers hold, so a reader that stops shows.
    res.writeHead(200, { 'Content-Type': req.url === '/one' ? 'text/event-stream' : 'application/json' })
    let n = 0
    const pump = (): void => {
      while (n++ < 1024 && !res.destroyed) if (!res.write(pad(64 * KiB))) { res.once('drain', pump); return }
      res.end()
    }
    pump()
  })
  const f = client(ctx)
  let total = 0
  for await (const chunk of (await f(`${url}many`, { method: 'POST', body: '{}' })).body!) total += chunk.byteLength
  assert.ok(total > 3 * 1024 * KiB, `read ${total} bytes`)
  for (const path of ['one', 'json']) {
    const r = await f(`${url}${path}`, { method: 'POST', body: '{}' })
    const err = await r.text().then(() => undefined, (e: Error) => e)
    assert.ok(err !== undefined, `${path}: the body was read whole`)
    assert.match(err!.message, /error\[TOO_LARGE\]|passed 1114112 bytes/, `${path}: ${err!.message}`)
  }
  await waitFor(() => dropped === 2, 5000, 'both connections dropped')
})

test('errors as fetch gives them: a timeout rejects with TimeoutError, a closed port with ECONNREFUSED, a body cut short errors its stream', async ctx => {
  const url = await serve(ctx, (req, res) => {
    if (req.url === '/cut') { res.writeHead(200, { 'Content-Type': 'text/event-stream' }); res.write('data: {}\n\n'); setTimeout(() => { res.socket?.destroy() }, 50); return }
    // /slow: never answers
  })
  const f = client(ctx)
  const slow = await f(`${url}slow`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(200) }).catch((e: Error) => e)
  assert.is((slow as Error).name, 'TimeoutError')
  const refused = await f(`http://127.0.0.1:${await freePort()}/`, { method: 'POST', body: '{}' }).catch((e: any) => e)
  assert.match(`${refused.code} ${refused.message}`, /ECONNREFUSED/)
  const cut = await f(`${url}cut`, { method: 'POST', body: '{}' })
  const reader = cut.body!.getReader()
  await reader.read()
  const broke = await reader.read().then(() => undefined, (e: Error) => e)
  assert.ok(broke instanceof Error, 'the stream errors')
  assert.match(broke.message, /aborted|ECONNRESET|socket hang up/)
})

test.run()
