// What a peer sends cannot break the receiving operator's tools (helper findings, stop 29), through
// the built CLI and real daemons on loopback: list answers stay inside one IPC frame (dead letters
// of big messages, many mailboxes, status), and a sender's file name cannot crash
// `a2a receive --out` or make it release messages it has already printed.
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { SOV, daemonRequest, sov } from './kit/daemon.js'
import { ipc, startA2ADaemon } from './kit/a2a.js'

const test = kitSuite('cli-bounded-answers')

function rawMessage (messageId: string, filename: string, bytes = 6): Record<string, unknown> {
  return { messageId, role: 'ROLE_USER', parts: [{ raw: Buffer.alloc(bytes, 0x61).toString('base64'), filename }] }
}

test('dead letters of 600 KB messages are listed 2 MiB at a time, saying how many are left; status counts past 100 mailboxes and `a2a mailboxes` pages by name', async ctx => {
  const b = await startA2ADaemon(ctx, { config: { limits: { maxDeliveries: 1 } } })
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  // Every mailbox: a peer with such a grant can make any number of them.
  assert.is((await sov(b.home, ['cap', 'grant', a.peerId, '/a2a/send'])).code, 0)
  const c = await ipc(ctx, a.home)
  // Six letters of ~800 KB of JSON each: 4.8 MB in all, over one 4 MiB IPC frame.
  for (let i = 0; i < 6; i++) await c.request('a2a.send', { peer: b.peerId, mailbox: 'big', message: rawMessage(`big-${i}`, `b${i}.bin`, 600_000) })
  for (let i = 0; i < 103; i++) await c.request('a2a.send', { peer: b.peerId, mailbox: `m${String(i).padStart(3, '0')}`, message: rawMessage(`m-${i}`, 'x') })
  await waitFor(async () => (await daemonRequest(b.home, 'status', {})).mailboxCount === 104, 30_000, 'all 104 mailboxes on B')
  // One delivery allowed: lease them for 1 s and let the leases run out.
  for (let i = 0; i < 6; i += 2) assert.is((await sov(b.home, ['a2a', 'receive', 'big', '--lease', '1s', '--max', '2', '--json'])).json.length, 2)
  await waitFor(async () => (await sov(b.home, ['a2a', 'mailboxes', '--json'])).json.find((m: any) => m.mailbox === 'big')?.dead === 6, 15_000, 'six dead letters')

  const dead = await sov(b.home, ['a2a', 'dead', 'big', '--json'])
  assert.is(dead.code, 0, dead.stdout + dead.stderr)
  assert.is(dead.json.length, 2, 'two 800 KB letters fit one answer')
  assert.equal(dead.json.map((m: any) => m.message.messageId), ['big-0', 'big-1'], 'the oldest first')
  const human = await sov(b.home, ['a2a', 'dead', 'big'])
  assert.is(human.code, 0, human.stderr)
  assert.match(human.stdout, /The oldest 2 of 6 dead letters \(an answer stops at 2 MiB\); redrive or purge these to see the next/)
  assert.is((await sov(b.home, ['a2a', 'dead', 'big', '--limit', '1', '--json'])).json.length, 1)

  const status = await sov(b.home, ['status', '--json'])
  assert.is(status.json.mailboxes.length, 100, 'status lists 100 mailboxes')
  assert.is(status.json.mailboxCount, 104)
  assert.match((await sov(b.home, ['status'])).stdout, /Mailboxes: {3}big \(0 ready, 0 leased, 6 dead\), m000 .* and 94 more \(`sov a2a mailboxes`\)/)
  const page1 = await sov(b.home, ['a2a', 'mailboxes', '--limit', '60'])
  assert.match(page1.stdout, /\nMore: sov a2a mailboxes --after m058\n$/)
  const page2 = await sov(b.home, ['a2a', 'mailboxes', '--limit', '60', '--after', 'm058', '--json'])
  assert.is(page2.json.length, 44)
  assert.is(page2.json[0].mailbox, 'm059')
  assert.is(page2.json[43].mailbox, 'm102')
  assert.is((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json.length, 104)
})

test('receive --follow --ack --out: NUL, newline and 300-character file names from a peer are saved safely; a message that cannot be saved is released, the ones printed before it stay acknowledged', async ctx => {
  const b = await startA2ADaemon(ctx)
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  assert.is((await sov(b.home, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'files'])).code, 0)
  const c = await ipc(ctx, a.home)
  const ids: string[] = []
  for (const [i, filename] of ['good-1.txt', 'a\u0000b\n.txt', 'x'.repeat(300)].entries()) {
    ids.push((await c.request('a2a.send', { peer: b.peerId, mailbox: 'files', message: rawMessage(`f-${i}`, filename) }) as any).id)
  }
  await waitFor(async () => (await sov(b.home, ['a2a', 'mailboxes', '--json'])).json[0]?.ready === 3, 15_000, 'three messages on B')
  const out = join(ctx.tmp(), 'out')
  const follow = async (): Promise<{ code: number | null, stdout: string, stderr: string }> => {
    const child = spawn(process.execPath, [SOV, '--home', b.home, 'a2a', 'receive', 'files', '--follow', '--ack', '--out', out, '--lease', '1h', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    ctx.defer(() => { child.kill('SIGKILL') })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    let code: number | null | undefined
    const exited = new Promise<void>(resolve => child.once('exit', c => { code = c; resolve() }))
    // Until it ends by itself (an error) or has taken everything (then it is stopped).
    const deadline = Date.now() + 15_000
    while (code === undefined && Date.now() < deadline) {
      if (((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json[0]?.ready ?? 0) === 0) {
        await new Promise(resolve => setTimeout(resolve, 500))
        child.kill('SIGTERM')
        break
      }
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    if (code === undefined) child.kill('SIGTERM')
    await exited
    return { code: code ?? null, stdout, stderr }
  }
  const first = await follow()
  assert.is(first.stdout.trim().split('\n').length, 3, first.stderr)
  assert.equal(readdirSync(out).sort(), [`${ids[0]}-0-good-1.txt`, `${ids[1]}-0-a_b_.txt`, `${ids[2]}-0-${'x'.repeat(100)}`].sort())
  assert.equal((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json, [], 'all three acknowledged')

  // A file that cannot be written (a directory in its place): the run ends naming it; the message
  // printed before it stays acknowledged, the unsaved one goes back to the queue.
  const more: string[] = []
  for (const [i, filename] of ['one.txt', 'two.txt'].entries()) {
    more.push((await c.request('a2a.send', { peer: b.peerId, mailbox: 'files', message: rawMessage(`g-${i}`, filename) }) as any).id)
  }
  mkdirSync(join(out, `${more[1]}-0-two.txt`))
  await waitFor(async () => (await sov(b.home, ['a2a', 'mailboxes', '--json'])).json[0]?.ready === 2, 15_000, 'two more on B')
  const second = await follow()
  assert.is(second.code, 1, second.stdout + second.stderr)
  // --json: the failure is the last document on stdout.
  const failure = JSON.parse(second.stdout.trim().split('\n').at(-1)!).error
  assert.is(failure?.code, 'UNAVAILABLE', second.stdout)
  assert.match(failure.message, new RegExp(`^Cannot save part 0 of message ${more[1]} to ".*${more[1]}-0-two.txt": EISDIR; free space or choose another --out directory \\(the message was not acknowledged\\)`))
  assert.ok(existsSync(join(out, `${more[0]}-0-one.txt`)))
  const left = await sov(b.home, ['a2a', 'receive', 'files', '--json'])
  assert.equal(left.json.map((m: any) => m.id), [more[1]], 'only the unsaved message came back')
})

test.run()
