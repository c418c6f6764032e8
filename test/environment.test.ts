// The daemon outlives its environment (issue 10 §4), through the built `sov` and real daemons:
// liveness is the kernel-released lock socket (a zombie or an unrelated pid in daemon.pid is not
// a daemon); a port in use, an IPC socket path the OS cannot bind and a read-only home are each a
// clear error[CODE] from both foreground and background start; a full disk under the daemon's log
// and stores stops nothing, and every message is delivered once space is back (tmpfs, root only).
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { spawn, execFileSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { SOV, sov } from './kit/daemon.js'
import { FAST_A2A, freePort, grantSend, startA2ADaemon, textMessage, ipc } from './kit/a2a.js'

const test = kitSuite('environment')
const PEER = '12D3KooWGzQ8Yz2Cf6ZyGdUjKwYjDx2NLHhy2JbTTA3MygUbAPDs'
const isRoot = process.getuid?.() === 0

async function initHome (home: string, port = 0): Promise<void> {
  const r = await sov(home, ['init', '--listen', `/ip4/127.0.0.1/tcp/${port}`])
  assert.is(r.code, 0, r.stderr)
}

/** Starts in the background and registers a stop (by the CLI, then by the pid it reported). */
async function startBg (ctx: any, home: string): Promise<{ code: number, stdout: string, stderr: string, json: any, pid?: number }> {
  const r = await sov(home, ['node', 'start', '--json'], { timeoutMs: 40_000 })
  if (r.code === 0) {
    const pid = r.json.pid as number
    ctx.defer(async () => {
      await sov(home, ['node', 'stop'], { timeoutMs: 30_000 })
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    })
    return { ...r, pid }
  }
  return r
}

test('a zombie daemon and an unrelated live pid in daemon.pid do not count as running: start, status and stop agree', async ctx => {
  const home = ctx.tmp('sov-home-')
  await initHome(home)
  // The daemon's parent is a shell that execs `sleep` and never reaps it: killed, it stays a zombie.
  const holder = spawn('sh', ['-c', `"${process.execPath}" "${SOV}" --home "${home}" node start --foreground >"${home}/fg.log" 2>&1 & echo $!; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] })
  ctx.defer(() => { holder.kill('SIGKILL') })
  const pid = Number(await new Promise<string>(resolve => holder.stdout!.once('data', d => { resolve(String(d).trim()) })))
  await waitFor(async () => (await sov(home, ['status', '--json'])).code === 0, 30_000, 'the daemon to serve')
  process.kill(pid, 'SIGKILL')
  await waitFor(() => /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), 5000, 'the daemon to be a zombie')
  assert.ok(existsSync(join(home, 'daemon.pid')), 'the pid file is left behind')
  const started = await startBg(ctx, home)
  assert.is(started.code, 0, `start refused next to a zombie: ${started.stderr}`)
  assert.is.not(started.pid, pid)
  const stopped = await sov(home, ['node', 'stop', '--json'], { timeoutMs: 30_000 })
  assert.is(stopped.code, 0, stopped.stderr)

  // daemon.pid naming a live process that is no daemon (this test runner).
  writeFileSync(join(home, 'daemon.pid'), `${process.pid}\n`)
  const status = await sov(home, ['status'])
  assert.is.not(status.code, 0)
  assert.match(status.stderr, /not running/)
  const again = await startBg(ctx, home)
  assert.is(again.code, 0, `start refused over an unrelated pid: ${again.stderr}`)
  const twice = await sov(home, ['node', 'start'], { timeoutMs: 30_000 })
  assert.is.not(twice.code, 0)
  assert.match(twice.stderr, new RegExp(`error\\[CONFLICT\\]: Cannot start: a daemon \\(pid ${again.pid!}\\) already runs`))
  assert.is((await sov(home, ['node', 'stop'], { timeoutMs: 30_000 })).code, 0)
})

test('a port in use and an IPC socket path too long for the OS: error[CODE] naming the address and the fix, foreground and background', async ctx => {
  const port = await freePort()
  const a = ctx.tmp('sov-home-')
  await initHome(a, port)
  assert.is((await startBg(ctx, a)).code, 0)
  const b = ctx.tmp('sov-home-')
  await initHome(b, port)
  const fg = await sov(b, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
  assert.is.not(fg.code, 0)
  assert.match(fg.stderr, new RegExp(`^error\\[CONFLICT\\]: Cannot listen on "/ip4/127.0.0.1/tcp/${port}": the port is already in use \\(EADDRINUSE\\); stop what uses it`))
  assert.not.match(fg.stderr, /at Server\.|node:net/, 'no stack trace')
  const bg = await sov(b, ['node', 'start'], { timeoutMs: 40_000 })
  assert.is.not(bg.code, 0)
  assert.not.match(bg.stdout, /Started/)
  assert.match(bg.stderr, new RegExp(`^error\\[CONFLICT\\]: Cannot start the daemon: Cannot listen on "/ip4/127.0.0.1/tcp/${port}".*\\(the daemon exited with code 1; log: `))

  const deep = join(ctx.tmp('sov-deep-'), 'd'.repeat(60), 'e'.repeat(60))
  mkdirSync(deep, { recursive: true })
  await initHome(deep)
  for (const args of [['node', 'start', '--foreground'], ['node', 'start']]) {
    const r = await sov(deep, args, { timeoutMs: 30_000 })
    assert.is.not(r.code, 0)
    assert.match(r.stderr, /error\[BAD_REQUEST\]: (Cannot start the daemon: )?Cannot listen on the IPC socket ".*sov\.sock": the path is \d+ bytes, longer than the 10\d a Unix socket allows; use a shorter --home/, `${args.join(' ')}: ${r.stderr}`)
  }
})

test('a peer store that cannot be opened is error[UNAVAILABLE] naming it and the fix, not INTERNAL "Database failed to open" (helper finding, full disk)', async ctx => {
  const home = ctx.tmp('sov-home-')
  await initHome(home)
  // A file where the LevelDB directory goes fails the open as a full disk does, without root.
  rmSync(join(home, 'peers', 'store'), { recursive: true, force: true })
  mkdirSync(join(home, 'peers'), { recursive: true })
  writeFileSync(join(home, 'peers', 'store'), 'in the way')
  const fg = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
  assert.is.not(fg.code, 0)
  assert.match(fg.stderr, /error\[UNAVAILABLE\]: (Cannot start the daemon: )?Cannot open the peer store ".*peers\/store": .+; free some space or move the path aside/, fg.stderr)
})

test(`a read-only home: error[UNAVAILABLE] naming the file, foreground and background${isRoot ? '' : ' (SKIPPED: needs root for a read-only bind mount)'}`, async ctx => {
  if (!isRoot) { console.warn('SKIPPED environment: read-only home needs root'); return }
  const rw = ctx.tmp('sov-home-')
  await initHome(rw)
  const ro = ctx.tmp('sov-ro-')
  execFileSync('mount', ['--bind', rw, ro])
  ctx.defer(() => { execFileSync('umount', [ro]) })
  execFileSync('mount', ['-o', 'remount,bind,ro', ro])
  const fg = await sov(ro, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
  assert.match(fg.stderr, /^error\[UNAVAILABLE\]: Cannot start: cannot write ".*daemon\.pid": the file system is read-only \(EROFS\)/)
  const bg = await sov(ro, ['node', 'start'], { timeoutMs: 30_000 })
  assert.is.not(bg.code, 0)
  assert.match(bg.stderr, /^error\[UNAVAILABLE\]: Cannot start the daemon: cannot write its log ".*daemon\.log" \(EROFS\)/)
  const fresh = join(ro, 'new-home')
  const init = await sov(fresh, ['init'])
  assert.match(init.stderr, /^error\[UNAVAILABLE\]: Cannot init the home: cannot write ".*new-home": the file system is read-only \(EROFS\)/)
  // Config writes too (they were error[INTERNAL] with the raw EROFS text).
  for (const args of [['config', 'set', 'limits.maxDeliveries', '3'], ['bootstrap', 'add', `/ip4/192.0.2.1/tcp/4001/p2p/${PEER}`]]) {
    const r = await sov(ro, args)
    assert.match(r.stderr, /^error\[UNAVAILABLE\]: Cannot change ".*config\.json": cannot write ".*config\.json": the file system is read-only \(EROFS\)/, args.join(' '))
  }
})

test(`disk full under the daemon: its log write fails, it keeps running, refuses deliveries as transient and takes them all once space is back${isRoot ? '' : ' (SKIPPED: needs root for tmpfs)'}`, async ctx => {
  if (!isRoot) { console.warn('SKIPPED environment: the disk-full test needs root (tmpfs)'); return }
  const mnt = ctx.tmp('sov-tmpfs-')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt])
  ctx.defer(() => { execFileSync('umount', ['-l', mnt]) })
  const a = await startA2ADaemon(ctx)
  const home = join(mnt, 'home')
  const port = await freePort()
  assert.is((await sov(home, ['init', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--swarm-key', join(a.home, 'swarm.key'), '--bootstrap', a.addr])).code, 0)
  const cfgPath = join(home, 'config.json')
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), a2a: FAST_A2A }))
  const b = await startBg(ctx, home)
  assert.is(b.code, 0, b.stderr)
  const bPeer = b.json.peerId as string
  await grantSend(home, a.peerId, 'inbox')
  const ca = await ipc(ctx, a.home)

  // Fill the file system to the last byte.
  const filler = join(mnt, 'filler')
  const fd = openSync(filler, 'w')
  const chunk = Buffer.alloc(1 << 20)
  try { for (let i = 0; i < 64; i++) writeSync(fd, chunk) } catch { /* full */ }
  try { for (let i = 0; i < 4096; i++) writeSync(fd, chunk.subarray(0, 1024)) } catch { /* full to the byte */ }
  closeSync(fd)
  // tmpfs keeps the slack of a file's last page: fill daemon.log's too, so the next log line fails.
  try { for (let i = 0; i < 8; i++) appendFileSync(join(home, 'daemon.log'), Buffer.alloc(1024, 0x2e)) } catch { /* full */ }
  const ids: string[] = []
  for (let i = 0; i < 30; i++) ids.push((await ca.request('a2a.send', { peer: bPeer, mailbox: 'inbox', message: textMessage(`full ${i} ${'x'.repeat(20_000)}`), ttlMs: 120_000 })).id)
  await new Promise(resolve => setTimeout(resolve, 4000))
  assert.ok((await ca.request('a2a.outbox', { status: 'queued' })).length > 0, 'deliveries were refused while the disk was full')
  assert.is((await sov(home, ['status', '--json'])).code, 0, 'the daemon still runs')
  rmSync(filler)
  await waitFor(async () => (await ca.request('a2a.outbox', { status: 'delivered' })).length === 30, 30_000, 'every message to be delivered once space is back')
  const mb = await sov(home, ['a2a', 'mailboxes', '--json'])
  assert.equal(mb.json, [{ mailbox: 'inbox', ready: 30, leased: 0, dead: 0 }])
  assert.is((await sov(home, ['node', 'stop'], { timeoutMs: 30_000 })).code, 0)
  assert.match(readFileSync(join(home, 'daemon.log'), 'utf8'), /Stopped\n$/, 'the log is written again once there is space')
})

test('a log that can no longer be written (its reader hung up: EPIPE) does not stop the daemon from stopping cleanly', async ctx => {
  const d = await startA2ADaemon(ctx)
  // Hang up on the daemon's stdout and stderr: every later log line fails with EPIPE.
  d.child.stdout!.destroy()
  d.child.stderr!.destroy()
  await new Promise(resolve => setTimeout(resolve, 200))
  const c = await ipc(ctx, d.home)
  assert.ok((await c.request('status', {})).peerId, 'still serving')
  const code = await d.stop()
  assert.is(code, 0, 'SIGTERM ends in a clean stop (its "Received SIGTERM" line could not be written)')
  const rows = readFileSync(join(d.home, 'audit', 'events.jsonl'), 'utf8')
  assert.match(rows.trim().split('\n').at(-1)!, /"type":"NODE_STOPPED"/)
})

test(`the audit log's disk full while the mailbox's is not: envelopes go on being accepted, and each gets its A2A_ACCEPTED row (marked recovered) at the next start (helper finding, stop 29: such acceptances were never recorded)${isRoot ? '' : ' (SKIPPED: needs root for tmpfs)'}`, async ctx => {
  if (!isRoot) { console.warn('SKIPPED environment: the audit disk-full test needs root (tmpfs)'); return }
  const a = await startA2ADaemon(ctx)
  const home = ctx.tmp('sov-home-')
  const port = await freePort()
  assert.is((await sov(home, ['init', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--swarm-key', join(a.home, 'swarm.key'), '--bootstrap', a.addr])).code, 0)
  const cfgPath = join(home, 'config.json')
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), a2a: FAST_A2A }))
  // audit/ (made by the first start) alone on a small file system of its own.
  const auditDir = join(home, 'audit')
  mkdirSync(auditDir, { mode: 0o700 })
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', auditDir])
  ctx.defer(() => { execFileSync('umount', ['-l', auditDir]) })
  let b = await startBg(ctx, home)
  assert.is(b.code, 0, b.stderr)
  const bPeer = b.json.peerId as string
  await grantSend(home, a.peerId, 'inbox')
  const filler = join(auditDir, 'filler')
  const fd = openSync(filler, 'w')
  try { for (let i = 0; i < 4096; i++) writeSync(fd, Buffer.alloc(1024)) } catch { /* full */ }
  closeSync(fd)
  const ca = await ipc(ctx, a.home)
  const ids: string[] = []
  // tmpfs keeps the slack of the log's last page: the first rows still fit in it.
  for (let i = 0; i < 60; i++) ids.push((await ca.request('a2a.send', { peer: bPeer, mailbox: 'inbox', message: textMessage(`unaudited ${i}`) })).id)
  await waitFor(async () => (await ca.request('a2a.outbox', { status: 'delivered' })).length === 60, 30_000, 'all sixty accepted by B')
  const rowsOf = (): any[] => readFileSync(join(auditDir, 'events.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l)).filter(r => r.type === 'A2A_ACCEPTED')
  const before = new Set(rowsOf().map(r => r.detail.id))
  const unrecorded = ids.filter(id => !before.has(id))
  assert.ok(unrecorded.length > 0, 'acceptances without a row while the audit disk is full')
  rmSync(filler)
  assert.is((await sov(home, ['node', 'stop'], { timeoutMs: 30_000 })).code, 0)
  b = await startBg(ctx, home)
  assert.is(b.code, 0, b.stderr)
  const rows = rowsOf()
  for (const id of ids) {
    const mine = rows.filter(r => r.detail.id === id)
    assert.is(mine.length, 1, `${id}: ${mine.length} A2A_ACCEPTED rows`)
    assert.is(mine[0].actor, `peer:${a.peerId}`)
    if (unrecorded.includes(id)) assert.is(mine[0].detail.recovered, true)
  }
  assert.is((await sov(home, ['audit', 'verify'])).code, 0)
  assert.is((await sov(home, ['node', 'stop'], { timeoutMs: 30_000 })).code, 0)
})

test.run()
