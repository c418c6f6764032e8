// A consumer never loses a message it did not see (issue 10 §1), through real daemons and the
// built `sov`: receive batches sized by bytes (a reply that could not carry its leases used to
// count them anyway), acks and nacks naming their lease (a stale one is CONFLICT), and a damaged mailbox.db that stops
// the daemon untouched.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { daemonRequest, sov } from './kit/daemon.js'
import { grantSend, ipc, startA2ADaemon, textMessage } from './kit/a2a.js'

const test = kitSuite('a2a-consumer')

async function pair (ctx: Parameters<typeof startA2ADaemon>[0]) {
  const a = await startA2ADaemon(ctx)
  const b = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  await grantSend(b.home, a.peerId, 'inbox')
  return { a, b }
}

async function sendFile (ctx: { tmp: () => string }, from: string, to: string, bytes: number): Promise<string> {
  const f = join(ctx.tmp(), 'blob.bin')
  writeFileSync(f, Buffer.alloc(bytes, 7))
  const r = await sov(from, ['a2a', 'send', to, 'inbox', '--file', f, '--json'])
  assert.is(r.code, 0, r.stderr)
  return r.json.id
}

async function arrived (home: string, n: number): Promise<void> {
  await waitFor(async () => {
    const r = await daemonRequest(home, 'a2a.mailboxes', {})
    return r[0]?.ready === n
  }, 30_000, `${n} messages to arrive`, 200)
}

test('five 700 KB files, a 1 MiB envelope and a small text all come out of `a2a receive --max 10`, each on its first delivery', async ctx => {
  const { a, b } = await pair(ctx)
  const ids = []
  for (let i = 0; i < 5; i++) ids.push(await sendFile(ctx, a.home, b.peerId, 700_000))
  ids.push(await sendFile(ctx, a.home, b.peerId, 760_000)) // base64 ≈ 1,013,000 bytes: an envelope near 1 MiB
  const small = await sov(a.home, ['a2a', 'send', b.peerId, 'inbox', 'small', '--json'])
  ids.push(small.json.id)
  await arrived(b.home, 7)
  const got: any[] = []
  for (let round = 0; round < 10 && got.length < 7; round++) {
    const r = await sov(b.home, ['a2a', 'receive', 'inbox', '--max', '10', '--json'])
    assert.is(r.code, 0, `receive failed: ${r.stderr}`)
    assert.ok(r.json.length >= 1, 'at least one message always fits')
    got.push(...r.json)
  }
  assert.equal(got.map(m => m.id).sort(), [...ids].sort())
  assert.ok(got.every(m => m.deliveries === 1 && m.lease === `${m.id}.1`), 'no lease was counted without its reply')
  const ack = await sov(b.home, ['a2a', 'ack', 'inbox', ...got.map(m => m.lease), '--json'])
  assert.is(ack.json.count, 7, ack.stderr)
})

test('a late ack or nack naming a lease that ran out and was taken again is CONFLICT and changes nothing', async ctx => {
  const { a, b } = await pair(ctx)
  await sov(a.home, ['a2a', 'send', b.peerId, 'inbox', 'once', '--json'])
  await arrived(b.home, 1)
  const first = (await sov(b.home, ['a2a', 'receive', 'inbox', '--lease', '1s', '--json'])).json[0]
  assert.is(first.lease, `${first.id}.1`)
  await new Promise(resolve => setTimeout(resolve, 1200))
  const second = (await sov(b.home, ['a2a', 'receive', 'inbox', '--lease', '30s', '--json'])).json[0]
  assert.is(second.lease, `${first.id}.2`)
  for (const verb of ['ack', 'nack']) {
    const late = await sov(b.home, ['a2a', verb, 'inbox', first.lease])
    assert.is(late.code, 1, `${verb} must fail`)
    assert.match(late.stderr, /error\[CONFLICT\]: .*leased again/)
  }
  const bare = await sov(b.home, ['a2a', 'ack', 'inbox', first.id])
  assert.match(bare.stderr, /error\[BAD_REQUEST\]: Cannot parse lease/, 'a bare id names no lease')
  assert.equal((await sov(b.home, ['a2a', 'mailboxes', '--json'])).json, [{ mailbox: 'inbox', ready: 0, leased: 1, dead: 0 }], 'the second consumer still holds it')
  const ok = await sov(b.home, ['a2a', 'ack', 'inbox', second.lease, '--json'])
  assert.equal(ok.json, { count: 1, acked: [second.lease], missing: [] })
})

for (const [what, damage] of [
  ['emptied (0 bytes)', (p: string) => { truncateSync(p, 0) }],
  ['half-truncated', (p: string) => { truncateSync(p, Math.floor(statSync(p).size / 2)) }]
] as const) {
  test(`a ${what} mailbox.db stops the daemon with an error naming the file and the recovery, and is left as it was`, async ctx => {
    const { a, b } = await pair(ctx)
    const c = await ipc(ctx, a.home)
    for (let i = 0; i < 20; i++) await c.request('a2a.send', { peer: b.peerId, mailbox: 'inbox', message: textMessage(`m${i} ${'x'.repeat(2000)}`) })
    await arrived(b.home, 20)
    assert.is(await b.stop(), 0)
    const db = join(b.home, 'mailbox.db')
    damage(db)
    const before = readFileSync(db)
    const r = await sov(b.home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
    assert.is.not(r.code, 0, 'the daemon must not start')
    assert.match(r.stderr, /error\[INTERNAL\]: Cannot open mailbox database ".*mailbox\.db": .*left untouched\. Restore it from a backup/)
    assert.ok(readFileSync(db).equals(before), 'mailbox.db was not overwritten')
  })
}

test.run()
