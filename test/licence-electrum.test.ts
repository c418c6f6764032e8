// The Electrum client against a real Electrum-protocol server on 127.0.0.1 (TCP and TLS):
// negotiation, both header reply forms, batches, deadlines, broken servers, TLS trust,
// keepalive and reconnect.
import * as assert from 'uvu/assert'
import { connect } from 'node:net'
import { ElectrumClient, makeCertificate, newAddress, splitHeaders, verifyLicence } from '../finance/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('licence-electrum')

function client (ctx: { defer: (f: () => unknown) => void }, url: string, opts: ConstructorParameters<typeof ElectrumClient>[1] = {}): ElectrumClient {
  const c = new ElectrumClient(url, { keepaliveMs: 0, ...opts })
  ctx.defer(() => { c.close() })
  return c
}

async function rejection (p: Promise<unknown>): Promise<any> {
  try { await p } catch (err) { return err }
  throw new Error('expected a rejection')
}

/** Raw newline-framed exchange on a plain socket: what the server says to a client that skips steps. */
async function rawExchange (url: string, lines: string[], untilClose = false): Promise<{ replies: any[], closed: boolean }> {
  const { hostname, port } = new URL(url.replace('tcp:', 'http:'))
  const socket = connect(Number(port), hostname)
  let buf = ''
  let closed = false
  socket.setEncoding('utf8')
  socket.on('data', d => { buf += d })
  socket.on('close', () => { closed = true })
  await new Promise(resolve => socket.once('connect', resolve))
  for (const l of lines) socket.write(l + '\n')
  await waitFor(() => closed || (!untilClose && buf.split('\n').length > lines.length), 3000, 'server replies')
  socket.destroy()
  return { replies: buf.trim().split('\n').filter(Boolean).map(l => JSON.parse(l)), closed }
}

test('the server refuses any call before server.version (and a second server.version), as ElectrumX 1.6 does', async ctx => {
  const e = await startElectrum(ctx)
  const early = await rawExchange(e.tcp, ['{"jsonrpc":"2.0","id":1,"method":"blockchain.headers.subscribe","params":[]}'], true)
  assert.is(early.replies[0].error.code, 1)
  assert.match(early.replies[0].error.message, /use server\.version/)
  assert.ok(early.closed, 'the server disconnects after the refusal')
  const twice = await rawExchange(e.tcp, ['{"id":1,"method":"server.version","params":["x",["1.4","1.6"]]}', '{"id":2,"method":"server.version","params":["x","1.4"]}'])
  assert.equal(twice.replies[0].result, ['ElectrumX 1.20.0 (sov devnet)', '1.6'])
  assert.match(twice.replies[1].error.message, /already sent/)
})

test('the client negotiates 1.6 (headers as a list) or 1.4 (concatenated hex) and reads both', async ctx => {
  const a = await startElectrum(ctx)
  const b = await startElectrum(ctx, a.chain, { protocolMax: '1.4' })
  const ca = client(ctx, a.tcp)
  const cb = client(ctx, b.tcp)
  const ra = await ca.request<any>('blockchain.block.headers', [10, 5])
  const rb = await cb.request<any>('blockchain.block.headers', [10, 5])
  assert.is(ca.protocol, '1.6')
  assert.is(cb.protocol, '1.4')
  assert.ok(Array.isArray(ra.headers) && ra.hex === undefined)
  assert.ok(typeof rb.hex === 'string' && rb.headers === undefined)
  assert.equal(splitHeaders(ra, a.tcp), splitHeaders(rb, b.tcp))
  assert.is(splitHeaders(ra, a.tcp)[0], a.chain.headerHex(10))
  assert.throws(() => splitHeaders({ hex: 'ab', count: 1 }, a.tcp), /whole 80-byte headers/)
  assert.throws(() => splitHeaders({ headers: [a.chain.headerHex(1)], count: 2 }, a.tcp), /count 2 but sent 1/)
})

test('a request whose signal is already aborted fails with ELECTRUM_ERROR and leaves no unhandled rejection (CI, stop 33: the daemon exited 1 on SIGTERM during a licence check)', async ctx => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  ctx.defer(() => { process.off('unhandledRejection', onUnhandled) })
  const c = client(ctx, 'tcp://127.0.0.1:1')
  const stop = new AbortController()
  stop.abort()
  const err: any = await c.request('blockchain.headers.subscribe', [], { signal: stop.signal }).then(() => assert.unreachable('refused'), e => e)
  assert.is(err.code, 'ELECTRUM_ERROR')
  assert.match(err.message, /Cannot run blockchain\.headers\.subscribe on tcp:\/\/127\.0\.0\.1:1: aborted/)
  await new Promise(resolve => setTimeout(resolve, 100))
  assert.equal(unhandled, [], 'no unhandled rejection')
})

test('a batch is answered by id; a server error fails only the caller with ELECTRUM_ERROR', async ctx => {
  const e = await startElectrum(ctx)
  const c = client(ctx, e.tcp)
  const r = await c.batch([['blockchain.block.header', [3]], ['server.ping', []], ['blockchain.block.header', [4]]])
  assert.equal(r, [e.chain.headerHex(3), null, e.chain.headerHex(4)])
  const err = await rejection(c.request('blockchain.block.header', [99_999]))
  assert.is(err.code, 'ELECTRUM_ERROR')
  assert.match(err.message, /out of range/)
  const unknown = await rejection(c.request('blockchain.no_such_method'))
  assert.match(unknown.message, /-32601/)
  assert.is(await c.request('server.ping'), null, 'the connection is still usable')
})

test('a request without an answer times out with TIMEOUT; other requests keep working', async ctx => {
  const e = await startElectrum(ctx, undefined, { lie: { kind: 'noAnswer', method: 'blockchain.transaction.get' } })
  const c = client(ctx, e.tcp, { requestTimeoutMs: 300 })
  const started = Date.now()
  const err = await rejection(c.request('blockchain.transaction.get', ['00'.repeat(32), false]))
  assert.is(err.code, 'TIMEOUT')
  assert.match(err.message, /no answer within 300 ms/)
  assert.ok(Date.now() - started < 2000)
  assert.is(await c.request('server.ping', [], { timeoutMs: 5000 }), null)
})

test('garbage, an endless line and a disconnect mid-reply each fail the request with ELECTRUM_ERROR, memory bounded', async ctx => {
  const e = await startElectrum(ctx)
  for (const [kind, pattern] of [['garbage', /not JSON/], ['endlessLine', /exceeds 1048576 bytes/], ['disconnectMidReply', /closed before the reply/]] as const) {
    e.server.lie = { kind, method: 'server.banner' }
    const c = client(ctx, e.tcp, { maxLineBytes: 1024 * 1024, requestTimeoutMs: 5000 })
    const err = await withDeadline(rejection(c.request('server.banner')), 5000, kind)
    assert.is(err.code, 'ELECTRUM_ERROR', kind)
    assert.match(err.message, pattern, kind)
    // After the lie stops, the same client reconnects on its next request.
    e.server.lie = null
    assert.match(await c.request<string>('server.banner'), /ElectrumX/, `${kind}: reconnect`)
  }
})

test('TLS: the server certificate given as PEM is trusted; without it, or with another PEM, it is refused clearly', async ctx => {
  const e = await startElectrum(ctx)
  const ok = client(ctx, e.ssl, { ca: e.ca })
  assert.match(await ok.request<string>('server.banner'), /ElectrumX/)

  const untrusted = client(ctx, e.ssl, { connectAttempts: 3 })
  const err = await rejection(untrusted.request('server.banner'))
  assert.is(err.code, 'ELECTRUM_ERROR')
  assert.match(err.message, /TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT/)
  assert.match(err.message, /--electrum-ca/)
  assert.is(e.server.seen.get('server.version') ?? 0, 1, 'an untrusted server never hears a request')

  const other = await makeCertificate('someone-else')
  const wrong = client(ctx, e.ssl, { ca: other.cert })
  assert.match((await rejection(wrong.request('server.banner'))).message, /not trusted/)
})

test('an idle connection sends server.ping; a closed port fails fast after a few backed-off attempts', async ctx => {
  const e = await startElectrum(ctx)
  const c = client(ctx, e.tcp, { keepaliveMs: 200 })
  await c.connect()
  await waitFor(() => (e.server.seen.get('server.ping') ?? 0) >= 1, 3000, 'a keepalive ping')

  const port = Number(e.tcp.split(':').pop())
  await e.server.stop()
  const dead = client(ctx, `tcp://127.0.0.1:${port}`, { reconnectMinMs: 20 })
  const started = Date.now()
  const err = await rejection(dead.request('server.ping'))
  assert.is(err.code, 'ELECTRUM_ERROR')
  assert.match(err.message, /connection refused/)
  assert.ok(Date.now() - started < 3000)
})

test('verification fails over: a first server that does not answer is followed by a second that does', async ctx => {
  const chain = (await startElectrum(ctx)).chain
  const silent = await startElectrum(ctx, chain, { lie: { kind: 'noAnswer', method: 'blockchain.transaction.get' } })
  const honest = await startElectrum(ctx, chain)
  const vendor = newAddress('p2wpkh')
  const { txid } = chain.payLicence({ to: vendor.address, sats: 1000n, machineId: 'm', confirmations: 1 })
  const quick = client(ctx, silent.tcp, { requestTimeoutMs: 400 })
  const patient = client(ctx, honest.tcp)
  const v = await verifyLicence({ txid, vendorAddress: vendor.address, requiredSats: 1000n, network: 'regtest', minConf: 1, machineId: 'm' }, [quick, patient])
  assert.is(v.status, 'valid')
  assert.equal(v.attempts.map(a => a.status), ['error', 'valid'])
  assert.is(v.attempts[0].error?.code, 'TIMEOUT')
  assert.is(v.source, honest.tcp)
})

test.run()
