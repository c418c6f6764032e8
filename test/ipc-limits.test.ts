// The IPC socket's limits against a live daemon (helper findings, stop 30): no token, or the
// weakest agent token, can take the socket from the operator — connections that never say hello
// give way to new ones, one agent token holds at most 64 sessions, and agents together leave room
// for the operator — and a client that has not said hello cannot make the daemon buffer more than
// a hello's worth (16 KiB) per connection.
import * as assert from 'uvu/assert'
import { connect, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { encodeFrame, FrameDecoder, MAX_HELLO_BYTES } from '../protocol/index.js'
import { kitSuite, waitFor } from './kit/index.js'
import { sov, startDaemon } from './kit/daemon.js'
import { IpcClient } from '../cli/index.js'

const test = kitSuite('ipc-limits')

function rssKiB (pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
}

/** A connection that writes `bytes` at once and records what the daemon answers. */
function open (path: string, bytes: Buffer[] = []): { socket: Socket, frames: any[], closed: () => boolean } {
  const socket = connect(path)
  const decoder = new FrameDecoder()
  const frames: any[] = []
  let closed = false
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  socket.on('data', d => { try { frames.push(...decoder.push(d)) } catch {} })
  socket.on('connect', () => { for (const b of bytes) socket.write(b) })
  return { socket, frames, closed: () => closed }
}

test('an agent token with the weakest scope holds at most 64 sessions; the operator still connects and revokes it, which ends them all', async ctx => {
  const d = await startDaemon(ctx)
  const sock = join(d.home, 'sov.sock')
  const issued = await sov(d.home, ['agent-token', 'issue', 'hog', '--scope', '/a2a/read:nothing', '--json'])
  assert.is(issued.code, 0, issued.stderr)
  const hello = encodeFrame({ type: 'hello', version: 1, token: issued.json.token })
  // In waves of 16, each answered before the next: all 256 at once would also meet the cap of
  // 32 connections waiting for hello (the oldest give way), more or less often with the load.
  const conns: Array<ReturnType<typeof open>> = []
  ctx.defer(() => { for (const c of conns) c.socket.destroy() })
  for (let i = 0; i < 256; i += 16) {
    const wave = Array.from({ length: 16 }, () => open(sock, [hello]))
    conns.push(...wave)
    await waitFor(() => wave.every(c => c.frames.length > 0 || c.closed()), 15_000, 'a wave of sessions to be answered')
  }
  const held = conns.filter(c => c.frames[0]?.ok === true)
  assert.is(held.length, 64, 'one agent token holds 64 sessions at most')
  const refused = conns.filter(c => /agent "hog": it holds 64, the most one agent token may hold/.test(c.frames[0]?.error?.message ?? ''))
  assert.is(refused.length, 192, 'the rest are refused at their hello')
  assert.ok(refused.every(c => c.frames[0].error.code === 'UNAVAILABLE'))
  assert.not.match(JSON.stringify(conns.map(c => c.frames)), new RegExp(issued.json.token.slice(5, 21)), 'no part of the token in any answer')

  const status = await sov(d.home, ['status', '--json'])
  assert.is(status.code, 0, status.stderr)
  assert.is((await sov(d.home, ['agent-token', 'revoke', 'hog'])).code, 0)
  await waitFor(() => held.every(c => c.closed()), 10_000, 'the revoked token\'s sessions to end')
})

test('connections that never say hello give way: with 300 held, the operator\'s CLI is served; a first frame past 16 KiB is refused before it is buffered', async ctx => {
  const d = await startDaemon(ctx)
  const sock = join(d.home, 'sov.sock')
  const idle = Array.from({ length: 300 }, () => open(sock))
  ctx.defer(() => { for (const c of idle) c.socket.destroy() })
  await new Promise(resolve => setTimeout(resolve, 500))
  const during = await sov(d.home, ['status', '--json'])
  assert.is(during.code, 0, during.stderr)
  assert.is(during.json.peerId, d.peerId)
  const evicted = idle.find(c => c.frames[0]?.ok === false)
  assert.match(evicted?.frames[0].error.message ?? '', /connections are waiting for theirs and this one is the oldest/)
  for (const c of idle) c.socket.destroy()

  const rssBefore = rssKiB(d.pid)
  const big = Buffer.alloc(4)
  big.writeUInt32BE(4 * 1024 * 1024, 0)
  const body = Buffer.alloc(3 * 1024 * 1024, 0x7b)
  const hogs = Array.from({ length: 200 }, () => open(sock, [big, body]))
  ctx.defer(() => { for (const c of hogs) c.socket.destroy() })
  await waitFor(() => hogs.every(c => c.closed()), 15_000, 'every oversized hello to be refused and closed')
  const first = hogs.find(c => c.frames[0]?.error?.code === 'TOO_LARGE')?.frames[0]
  assert.match(first?.error?.message ?? '', new RegExp(`exceeds ${MAX_HELLO_BYTES} \\(the first frame, hello\\)`))
  const grown = rssKiB(d.pid) - rssBefore
  console.log(`daemon RSS grew by ${grown} KiB with 200 × 3 MiB of refused hellos sent`)
  assert.ok(grown < 64 * 1024, `daemon RSS grew by ${grown} KiB with 200 × 3 MiB of unauthenticated frames sent (bound 64 MiB)`)
  const after = await sov(d.home, ['status', '--json'])
  assert.is(after.code, 0, after.stderr)
})

test('one connection pipelines 20 long-poll receives: each ends at its wait, and no listener-leak warning reaches the daemon\'s output (more than ten listeners on a connection is pipelining)', async ctx => {
  const d = await startDaemon(ctx)
  const c = await IpcClient.open(d.home)
  ctx.defer(() => { c.close() })
  const got = await Promise.all(Array.from({ length: 20 }, async () => await c.request('a2a.receive', { mailbox: 'inbox', waitMs: 1500 })))
  assert.equal(got, Array.from({ length: 20 }, () => []))
  assert.not.match(d.output(), /MaxListenersExceededWarning/)
})

test.run()
