// Hostile IPC input against a live daemon: every input gets an error or a close, and the daemon
// still answers `status` afterwards with its memory back near where it was.
import * as assert from 'uvu/assert'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { encodeFrame, FrameDecoder } from '../protocol/index.js'
import { kitSuite } from './kit/index.js'
import { sov, startDaemon } from './kit/daemon.js'

const test = kitSuite('ipc-fuzz')

function rssKiB (pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
}

/** Sends `bytes` (then optionally half-closes) and resolves with what happened: frames or a close. */
async function probe (path: string, bytes: Buffer[], opts: { end?: boolean, waitMs?: number } = {}): Promise<{ frames: any[], closed: boolean }> {
  return await new Promise(resolve => {
    const s: Socket = connect(path)
    const decoder = new FrameDecoder()
    const frames: any[] = []
    let closed = false
    const finish = (): void => { clearTimeout(timer); s.destroy(); resolve({ frames, closed }) }
    const timer = setTimeout(finish, opts.waitMs ?? 7000)
    s.on('data', d => {
      try { frames.push(...decoder.push(d)) } catch { /* a garbled reply counts as nothing */ }
      if (frames.some(f => f.ok === false)) finish()
    })
    s.on('error', () => {})
    s.on('close', () => { closed = true; finish() })
    s.on('connect', () => {
      for (const b of bytes) s.write(b)
      if (opts.end === true) s.end()
    })
  })
}

function frameOf (len: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(len >>> 0, 0)
  return Buffer.concat([h, body])
}

// The decoder joins a frame's pieces once it has them all: joining at every piece copied a
// 4 MiB frame read in 64 KiB pieces ~32 times over, and in 4 KiB pieces ~512 times (2 GiB).
test('a 4 MiB frame arriving in 1,024 pieces is decoded with its bytes copied once', () => {
  const body = { id: 1, type: 'a2a.send', text: 'x'.repeat(4 * 1024 * 1024 - 64) }
  const frame = encodeFrame(body)
  const decoder = new FrameDecoder()
  const concat = Buffer.concat
  let copied = 0
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total)
    copied += out.length
    return out
  }) as typeof Buffer.concat
  const frames: any[] = []
  try {
    for (let at = 0; at < frame.length; at += 4096) frames.push(...decoder.push(frame.subarray(at, at + 4096)))
  } finally {
    Buffer.concat = concat
  }
  assert.is(frames.length, 1)
  assert.is(frames[0].text.length, body.text.length)
  assert.is(decoder.pending, 0)
  assert.ok(copied <= frame.length, `copied ${copied} bytes to decode a frame of ${frame.length}`)
})

test('frames split anywhere, and several in one piece, decode in order', () => {
  const frames = [encodeFrame({ a: 1 }), encodeFrame({ b: 'é'.repeat(300) }), encodeFrame([]), encodeFrame({ c: null })]
  const all = Buffer.concat(frames)
  for (const step of [1, 2, 3, 5, 7, 64, all.length]) {
    const decoder = new FrameDecoder()
    const out: unknown[] = []
    for (let at = 0; at < all.length; at += step) out.push(...decoder.push(all.subarray(at, at + step)))
    assert.equal(out, [{ a: 1 }, { b: 'é'.repeat(300) }, [], { c: null }], `pieces of ${step} bytes`)
    assert.is(decoder.pending, 0)
  }
})

test('5,000 hostile inputs each get an error or a close; the daemon keeps serving', async ctx => {
  const d = await startDaemon(ctx)
  const sock = join(d.home, 'sov.sock')
  const token = readFileSync(join(d.home, 'operator.token'), 'utf8').trim()
  const hello = encodeFrame({ type: 'hello', version: 1, token })
  const rssBefore = rssKiB(d.pid)

  const cases: Array<() => Buffer[]> = [
    () => [randomBytes(1 + Math.floor(Math.random() * 256))],
    () => [frameOf(100, randomBytes(10))],
    () => [frameOf(4 * 1024 * 1024 + 1 + Math.floor(Math.random() * 1e6), Buffer.alloc(0))],
    () => [frameOf(0xffffffff, randomBytes(8))],
    () => [encodeFrame({ type: 'hello', version: 1, token }).subarray(0, 6)],
    () => [frameOf(9, Buffer.from('{not json'))],
    () => [encodeFrame({ type: 'hello', version: 2, token })],
    () => [encodeFrame({ type: 'hello', version: 1, token: 42 })],
    () => [encodeFrame([1, 2, 3])],
    () => [encodeFrame(null)],
    () => [encodeFrame({ id: 1, type: 'status' })],
    () => [encodeFrame({ type: 'hello', version: 1, token: randomBytes(32).toString('hex') })],
    () => [hello, encodeFrame({ id: 'x', type: 'status' })],
    () => [hello, encodeFrame({ id: 7, type: 'no.such' })],
    () => [hello, encodeFrame({ id: 8, type: 'peers.connect', addr: 12 })],
    () => [hello, encodeFrame({ id: 9, type: 'a2a.receive', mailbox: '../../etc', max: -1 })],
    () => [hello, frameOf(20, Buffer.from('{"id":1,"type":"stat'))]
  ]

  const total = 5000
  let handled = 0
  let next = 0
  const authFailuresExpected = { count: 0 }
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < total) {
      const i = next++
      const kind = i % cases.length
      const truncated = kind === 1 || kind === 4 || kind === 16
      const r = await probe(sock, cases[kind](), { end: truncated, waitMs: truncated ? 7000 : 7000 })
      if (kind === 11) authFailuresExpected.count++
      if (r.closed || r.frames.some(f => f.ok === false)) handled++
      else assert.unreachable(`case ${kind} got neither an error nor a close: ${JSON.stringify(r.frames)}`)
    }
  }))
  assert.is(handled, total)

  // Many idle connections that never say hello: they are closed, and others are still served.
  const idle: Socket[] = []
  for (let i = 0; i < 150; i++) { const s = connect(sock); s.on('error', () => {}); idle.push(s) }
  const during = await sov(d.home, ['status', '--json'])
  assert.is(during.code, 0, during.stderr)
  for (const s of idle) s.destroy()

  const after = await sov(d.home, ['status', '--json'])
  assert.is(after.code, 0, after.stderr)
  assert.is(after.json.peerId, d.peerId)
  const grown = rssKiB(d.pid) - rssBefore
  assert.ok(grown < 96 * 1024, `daemon RSS grew by ${grown} KiB (bound 96 MiB)`)
})

test.run()
