// Listings that tell the truth and dead letters you can work with (issue 14), through the built
// CLI and real daemons on loopback: cap list/revoke by prefix, expiry marks, send --wait,
// outbox last error and retry, dead/redrive/purge (audited), receive --follow, multi-part send.
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { SOV, runDaemonIn, sov } from './kit/daemon.js'
import { GENESIS_HASH, sealRow } from '../node/audit/index.js'
import { jcs } from '../protocol/index.js'
import { startA2ADaemon } from './kit/a2a.js'

const test = kitSuite('cli-a2a-admin')
const UNKNOWN_PEER = '12D3KooWGzQ8Yz2Cf6ZyGdUjKwYjDx2NLHhy2JbTTA3MygUbAPDs'

test('cap list shows full ids that cap revoke takes (or an 8-digit prefix); expired grants and tokens are marked', async ctx => {
  const a = await startA2ADaemon(ctx)
  const g1 = await sov(a.home, ['cap', 'grant', UNKNOWN_PEER, '/a2a/send', '--mailbox', 'x', '--expires', '1s', '--json'])
  const g2 = await sov(a.home, ['cap', 'grant', UNKNOWN_PEER, '/a2a/send', '--mailbox', 'y', '--json'])
  const tok = await sov(a.home, ['agent-token', 'issue', 'bot', '--scope', '/a2a/read:x', '--expires', '1s', '--json'])
  assert.is(tok.code, 0, tok.stderr)
  await new Promise(resolve => setTimeout(resolve, 1100))
  const human = await sov(a.home, ['cap', 'list'])
  assert.ok(human.stdout.includes(g1.json.id), 'the full id is printed')
  assert.match(human.stdout, new RegExp(`⌛ ${String(g1.json.id)} .* EXPIRED `))
  assert.match(human.stdout, new RegExp(`✓ ${String(g2.json.id)} .* until `))
  const list = await sov(a.home, ['cap', 'list', '--json'])
  assert.is(list.json.find((x: any) => x.id === g1.json.id).expired, true)
  assert.match((await sov(a.home, ['agent-token', 'list'])).stdout, /bot .* EXPIRED /)
  assert.is((await sov(a.home, ['agent-token', 'list', '--json'])).json[0].expired, true)
  const revoked = await sov(a.home, ['cap', 'revoke', String(g2.json.id).slice(0, 8), '--json'])
  assert.is(revoked.code, 0, revoked.stderr)
  assert.is(revoked.json.id, g2.json.id)
  assert.match((await sov(a.home, ['cap', 'list'])).stdout, new RegExp(`✗ ${String(g2.json.id)} .* REVOKED`))
  // audit verify is a read: the head does not move.
  const before = (await sov(a.home, ['status', '--json'])).json.audit.seq
  await sov(a.home, ['audit', 'verify'])
  await sov(a.home, ['audit', 'verify'])
  assert.is((await sov(a.home, ['status', '--json'])).json.audit.seq, before)
})

test('audit acknowledge: a damaged row fails verify until acknowledged (signed, audited); then it is listed, not hidden', async ctx => {
  const a = await startA2ADaemon(ctx)
  for (let i = 0; i < 3; i++) await sov(a.home, ['cap', 'grant', UNKNOWN_PEER, '/a2a/send', '--mailbox', `m${i}`])
  const path = join(a.home, 'audit', 'events.jsonl')
  const bytes = readFileSync(path)
  let nl = -1
  for (let i = 0; i < 2; i++) nl = bytes.indexOf(0x0a, nl + 1)
  bytes[nl + 20] ^= 0x01
  writeFileSync(path, bytes)
  const broken = await sov(a.home, ['audit', 'verify', '--json'])
  assert.is(broken.code, 3)
  assert.is(broken.json.firstBadSeq, 3)
  assert.is((await sov(a.home, ['audit', 'verify', '--json'])).json.firstBadSeq, 3, 'still broken: verify alone never forgives')
  const wrong = await sov(a.home, ['audit', 'acknowledge', '--seq', '4', '--reason', 'not this one'])
  assert.is(wrong.code, 2)
  assert.match(wrong.stderr, /the first break is at seq 3/)
  const ack = await sov(a.home, ['audit', 'acknowledge', '--seq', '3', '--reason', 'bit flip on a bad disk, ticket 7', '--json'])
  assert.is(ack.code, 0, ack.stdout + ack.stderr)
  assert.is(ack.json.verify.ok, true, JSON.stringify(ack.json.verify))
  const ok = await sov(a.home, ['audit', 'verify', '--json'])
  assert.is(ok.code, 0, ok.stdout)
  assert.equal(ok.json.acknowledged.map((x: any) => [x.seq, x.note]), [[3, 'bit flip on a bad disk, ticket 7']])
  assert.match((await sov(a.home, ['audit', 'verify'])).stdout, /Audit log OK: .*\n {2}acknowledged break at seq 3 \(row \d+\): bit flip/)
  const rows = (await sov(a.home, ['audit', 'tail', '-n', '5', '--json'])).json
  assert.ok(rows.some((r: any) => r.type === 'AUDIT_ACKNOWLEDGED' && r.detail.seq === 3 && /damaged/.test(r.detail.breakReason)))
  assert.is((await sov(a.home, ['audit', 'acknowledge', '--seq', '3', '--reason', 'again'])).code, 2, 'nothing left to acknowledge')
})

test('checkpoints removed offline: a row rewritten and the chain recomputed no longer passes, even after restarts sign new checkpoints over it (verify rule 7; helper finding, stop 29)', async ctx => {
  const a = await startA2ADaemon(ctx)
  assert.is((await sov(a.home, ['cap', 'grant', UNKNOWN_PEER, '/a2a/send', '--mailbox', 'x'])).code, 0)
  assert.is(await a.stop(), 0)
  const events = join(a.home, 'audit', 'events.jsonl')
  let prev = GENESIS_HASH
  const forged = readFileSync(events, 'utf8').trim().split('\n').map(l => {
    const r = JSON.parse(l)
    if (r.type === 'CAP_GRANTED') r.detail.mailbox = 'forged'
    const { row, line } = sealRow(r.seq, r.ts, r, jcs(r.detail), prev)
    prev = row.hash
    return line
  })
  writeFileSync(events, forged.join(''))
  rmSync(join(a.home, 'audit', 'checkpoints.jsonl'))
  for (let round = 0; round < 2; round++) {
    const d = await runDaemonIn(ctx, a.home)
    const v = await sov(a.home, ['audit', 'verify', '--json'])
    assert.is(v.code, 3, JSON.stringify(v.json))
    assert.match(v.json.reason, /^row \d+ records a clean stop, which signs a checkpoint, but checkpoints\.jsonl holds none from it to the next start: checkpoints were removed or cut/)
    assert.is(await d.stop(), 0)
  }
})

test('send --wait: exit 0 once accepted, exit 3 with the code when refused; retry re-queues it after a grant', async ctx => {
  const b = await startA2ADaemon(ctx)
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  const refused = await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', 'no grant yet', '--wait', '20s'])
  assert.is(refused.code, 3, refused.stderr)
  assert.match(refused.stderr, /^error\[FORBIDDEN\]: Cannot deliver ".*" to .*\/jobs: failed: /)
  const refusedJson = await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', 'again', '--wait', '--json'])
  assert.is(refusedJson.code, 3)
  assert.is(refusedJson.json.status, 'failed')
  assert.is(refusedJson.json.code, 'FORBIDDEN')

  assert.is((await sov(b.home, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'jobs'])).code, 0)
  const retried = await sov(a.home, ['a2a', 'retry', refusedJson.json.id, '--json'])
  assert.is(retried.code, 0, retried.stderr)
  await waitFor(async () => (await sov(a.home, ['a2a', 'outbox', '--json'])).json.find((m: any) => m.id === refusedJson.json.id)?.status === 'delivered', 15_000, 'the retried message to be delivered')
  const again = await sov(a.home, ['a2a', 'retry', refusedJson.json.id])
  assert.is(again.code, 2)
  assert.match(again.stderr, /it is delivered, not failed/)

  const ok = await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', 'granted', '--wait', '20s', '--json'])
  assert.is(ok.code, 0, ok.stderr)
  assert.is(ok.json.status, 'delivered')
})

test('outbox shows the last error of a queued message and takes --peer and --limit', async ctx => {
  const a = await startA2ADaemon(ctx)
  for (const n of [1, 2, 3]) assert.is((await sov(a.home, ['a2a', 'send', UNKNOWN_PEER, 'jobs', `m${n}`])).code, 0)
  const row = await waitFor(async () => {
    const r = await sov(a.home, ['a2a', 'outbox', '--peer', UNKNOWN_PEER, '--limit', '2', '--json'])
    return r.json.length === 2 && r.json[0].lastError !== undefined ? r.json : undefined
  }, 20_000, 'a last error')
  assert.match(row[0].lastError, /no address for peer/)
  assert.match((await sov(a.home, ['a2a', 'outbox'])).stdout, /queued \(\d+ attempts\)  last error: no address for peer/)
  assert.equal((await sov(a.home, ['a2a', 'outbox', '--peer', a.peerId, '--json'])).json, [])
  // A --peer that is no PeerId is said (it printed "Outbox empty").
  const notPeer = await sov(a.home, ['a2a', 'outbox', '--peer', 'someone-else'])
  assert.is(notPeer.code, 2)
  assert.match(notPeer.stderr, /--peer "someone-else": not a PeerId/)
  const wait = await sov(a.home, ['a2a', 'send', UNKNOWN_PEER, 'jobs', 'x', '--wait', '1s'])
  assert.is(wait.code, 1)
  assert.match(wait.stderr, /error\[TIMEOUT\]: Cannot confirm ".*": still queued after 1s/)
  // A TTL that runs out during the wait is no answer either: exit 1 (it was 3, the refusal code).
  const expired = await sov(a.home, ['a2a', 'send', UNKNOWN_PEER, 'jobs', 'x', '--ttl', '1s', '--wait', '5s'])
  assert.is(expired.code, 1, expired.stdout + expired.stderr)
  assert.match(expired.stderr, /error\[TIMEOUT\]: Cannot deliver ".*" to .*\/jobs: expired: TTL ran out/)
})

test('dead letters: list with reason and deliveries, redrive (audited when it moved something; an id given twice is one), nack says what died, purge --dead/--ready --yes (audited)', async ctx => {
  const b = await startA2ADaemon(ctx, { config: { limits: { maxDeliveries: 1 } } })
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  await sov(b.home, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'jobs'])
  for (const n of [1, 2]) assert.is((await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', `m${n}`, '--wait', '20s'])).code, 0)
  // One delivery allowed: lease both for 1 s and let them run out.
  const got = await sov(b.home, ['a2a', 'receive', 'jobs', '--lease', '1s', '--json'])
  assert.is(got.json.length, 2)
  const dead = await waitFor(async () => {
    const r = await sov(b.home, ['a2a', 'dead', 'jobs', '--json'])
    return r.json.length === 2 ? r.json : undefined
  }, 10_000, 'two dead letters')
  assert.is(dead[0].deliveries, 1)
  assert.match(dead[0].reason, /lease ran out after 1 deliveries/)
  assert.match((await sov(b.home, ['a2a', 'dead', 'jobs'])).stdout, /1 deliveries {2}died .*: lease ran out/)

  // A redrive that moves nothing is refused and writes no audit row.
  const nothing = await sov(b.home, ['a2a', 'redrive', 'jobs', 'not-an-id', '--json'])
  assert.is(nothing.code, 1)
  assert.not.ok((await sov(b.home, ['audit', 'tail', '-n', '100', '--json'])).json.some((r: any) => r.type === 'A2A_REDRIVE'), 'no row for a redrive that moved nothing')
  const one = await sov(b.home, ['a2a', 'redrive', 'jobs', dead[0].id, dead[0].id, 'not-an-id', '--json'])
  assert.is(one.code, 1, 'an id that is not a dead letter is reported')
  assert.equal(one.json.redriven, [dead[0].id])
  assert.equal(one.json.missing, ['not-an-id'])
  const all = await sov(b.home, ['a2a', 'redrive', 'jobs', '--all', '--json'])
  assert.equal(all.json.redriven, [dead[1].id])
  const boxes = await sov(b.home, ['a2a', 'mailboxes', '--json'])
  assert.equal(boxes.json, [{ mailbox: 'jobs', ready: 2, leased: 0, dead: 0 }])
  const again = await sov(b.home, ['a2a', 'receive', 'jobs', '--json'])
  assert.is(again.json[0].deliveries, 1, 'the delivery count starts again')
  // Lease names do not: a consumer still holding a lease from before the redrive is stale (its
  // ack took the new consumer's lease, helper finding).
  assert.equal(again.json.map((m: any) => m.lease).sort(), got.json.map((m: any) => `${String(m.id)}.2`).sort())
  const stale = await sov(b.home, ['a2a', 'ack', 'jobs', got.json[0].lease, '--json'])
  assert.is(stale.json?.error?.code, 'CONFLICT', stale.stdout + stale.stderr)
  const nacked = await sov(b.home, ['a2a', 'nack', 'jobs', ...again.json.map((m: any) => m.lease)])
  assert.match(nacked.stdout, /^Returned 0; 2 reached the delivery limit and went to the dead letters/, 'the human output says where they went')

  const purgedReady = await sov(b.home, ['a2a', 'purge', 'jobs', '--ready', '--yes', '--json'])
  assert.is(purgedReady.code, 0, purgedReady.stderr)
  assert.is(purgedReady.json.dead, 0)
  const purgedDead = await sov(b.home, ['a2a', 'purge', 'jobs', '--dead', '--yes', '--json'])
  assert.is(purgedDead.json.dead, 2, 'the nacked ones died (one delivery allowed)')
  const rows = (await sov(b.home, ['audit', 'tail', '-n', '100', '--json'])).json
  assert.ok(rows.some((r: any) => r.type === 'A2A_REDRIVE' && r.detail.count === 1 && r.detail.missing === 1), 'the id given twice counts once')
  assert.ok(rows.some((r: any) => r.type === 'A2A_PURGE' && r.detail.which === 'dead' && r.detail.dead === 2))
})

test('send with several ordered parts, stdin, ids and metadata; receive --follow --json is NDJSON and releases leases on exit', async ctx => {
  const b = await startA2ADaemon(ctx)
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  await sov(b.home, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'jobs'])
  const dir = ctx.tmp()
  writeFileSync(join(dir, 'spec.bin'), Buffer.from([1, 2, 3]))
  const first = ['a2a', 'send', b.peerId, 'jobs', '--text', 'first', '--data', '[1,2]', '--file', join(dir, 'spec.bin'),
    '--file', '-', '--data', '"s"', '--media-type', 'application/x-test', '--context-id', 'ctx-1', '--task-id', 'task-9',
    '--metadata', '{"k":"v"}', '--message-id', 'msg-1', '--wait', '20s']
  const sent = await sov(a.home, [...first, '--json'], { input: 'from stdin' })
  assert.is(sent.code, 0, sent.stderr)
  // Sent again with its --message-id (a script's retry after a lost answer): queued once, and
  // said on stderr (stdout stays the id).
  const again = await sov(a.home, [...first, '--json'], { input: 'from stdin' })
  assert.is(again.code, 0, again.stderr)
  assert.is(again.json.id, sent.json.id, 'the first message\'s id')
  assert.is(again.json.duplicate, true)
  const plain = await sov(a.home, first, { input: 'from stdin' })
  assert.is(plain.stdout.split(' ')[0], sent.json.id)
  assert.match(plain.stderr, new RegExp(`^note: message msg-1 was already queued to ${b.peerId}/jobs as ${String(sent.json.id)}: nothing new was sent; other content needs a new --message-id`))
  const blank = await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', 'x', '--message-id', ' '])
  assert.is(blank.code, 2)
  assert.match(blank.stderr, /^error\[BAD_REQUEST\]: Cannot use --message-id " ": use 1 to 256 characters, not only spaces/)

  const out = join(dir, 'out')
  const child = spawn(process.execPath, [SOV, '--home', b.home, 'a2a', 'receive', 'jobs', '--follow', '--json', '--lease', '1h', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.defer(() => { child.kill('SIGKILL') })
  let stdout = ''
  child.stdout.on('data', d => { stdout += d })
  await waitFor(() => stdout.includes('\n'), 15_000, 'the first NDJSON line')
  assert.is((await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', 'second', '--wait', '20s'])).code, 0)
  await waitFor(() => stdout.split('\n').filter(Boolean).length === 2, 15_000, 'the second line')
  const lines = stdout.split('\n').filter(Boolean).map(l => JSON.parse(l))
  const m = lines[0].message
  assert.equal(m.parts.map((p: any) => Object.keys(p).find(k => ['text', 'data', 'raw'].includes(k))), ['text', 'data', 'raw', 'raw', 'data'])
  assert.equal(m.parts[1].data, [1, 2])
  assert.is(m.parts[4].data, 's')
  assert.is(m.parts[2].filename, 'spec.bin')
  assert.is(m.parts[2].mediaType, 'application/x-test')
  assert.is(Buffer.from(m.parts[3].raw, 'base64').toString(), 'from stdin')
  assert.is(m.messageId, 'msg-1')
  assert.is(m.contextId, 'ctx-1')
  assert.is(m.taskId, 'task-9')
  assert.equal(m.metadata, { k: 'v' })
  assert.equal(readFileSync(join(out, `${String(lines[0].id)}-2-spec.bin`)), Buffer.from([1, 2, 3]))
  assert.is(readdirSync(out).length, 2)

  const leased = await sov(b.home, ['a2a', 'mailboxes', '--json'])
  assert.is(leased.json[0].leased, 2)
  child.kill('SIGINT')
  const code = await new Promise(resolve => child.once('exit', resolve))
  assert.is(code, 0)
  const after = await sov(b.home, ['a2a', 'mailboxes', '--json'])
  assert.is(after.json[0].leased, 0, 'Ctrl-C released the leases')
  assert.is(after.json[0].ready, 2)

  // Many polls in one follower: each used to add an abort listener (a warning at the 11th).
  const more = await Promise.all(Array.from({ length: 10 }, async (_, i) => await sov(a.home, ['a2a', 'send', b.peerId, 'jobs', `more ${i}`, '--wait', '20s'])))
  assert.ok(more.every(r => r.code === 0), more.map(r => r.stderr).join(''))
  const many = spawn(process.execPath, [SOV, '--home', b.home, 'a2a', 'receive', 'jobs', '--follow', '--json', '--max', '1', '--ack'], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.defer(() => { many.kill('SIGKILL') })
  let manyOut = ''
  let manyErr = ''
  many.stdout.on('data', d => { manyOut += d })
  many.stderr.on('data', d => { manyErr += d })
  await waitFor(() => manyOut.split('\n').filter(Boolean).length === 12, 30_000, '12 messages, one poll each')
  many.kill('SIGINT')
  assert.is(await new Promise(resolve => many.once('exit', resolve)), 0)
  assert.not.match(manyErr, /MaxListenersExceeded/, manyErr)
})

test.run()
