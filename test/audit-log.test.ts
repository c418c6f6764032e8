// The audit log on real files, in-process: chain, group commit, checkpoints, tamper detection,
// torn tails, purge, fail-closed writes (a child under `ulimit -f`).
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { appendFileSync, constants, existsSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import canonicalizeModule from 'canonicalize'
import { AuditLog, GENESIS_HASH, PURGE_TYPE, prepareEvent, sealRow, verifyAudit, verifyAuditFiles, type AuditRow } from '../node/audit/index.js'
import { jcs } from '../protocol/index.js'
import { kitSuite, repoPath, withDeadline } from './kit/index.js'

const test = kitSuite('audit-log')
const ev = (i: number) => ({ type: 'TEST_ROW', actor: 'operator', outcome: 'ok' as const, detail: { i, note: `row ${i}`, nested: { a: [1, 2, i] } } })

async function openLog (ctx: any, dir: string, key: PrivateKey, checkpointEvery = 100): Promise<AuditLog> {
  const log = await AuditLog.open({ dir, privateKey: key, checkpointEvery, warn: () => {} })
  ctx.defer(async () => { await log.close() })
  return log
}

/** A closed log of `n` rows (checkpoints every 100 and at close) and its files' contents. */
async function makeLog (ctx: any, n: number, key: PrivateKey): Promise<{ dir: string, events: Buffer, checkpoints: string }> {
  const dir = ctx.tmp('sov-audit-')
  const log = await AuditLog.open({ dir, privateKey: key, checkpointEvery: 100, warn: () => {} })
  // In groups of 10, as rows arrive in a daemon: checkpoints land every 100 rows.
  for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, async (_, j) => await log.append(ev(i + j + 1))))
  await log.close()
  return { dir, events: readFileSync(join(dir, 'events.jsonl')), checkpoints: readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8') }
}

const lines = (buf: Buffer): string[] => buf.toString('utf8').split('\n').filter(l => l !== '')
const join2 = (ls: string[]): Buffer => Buffer.from(ls.map(l => l + '\n').join(''), 'utf8')

test('appended rows are durable when append resolves, chain from genesis and verify', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await openLog(ctx, dir, key)
  const r1 = await log.append(ev(1))
  assert.is(r1.seq, 1)
  assert.is(r1.prev, GENESIS_HASH)
  const onDisk = readFileSync(join(dir, 'events.jsonl'), 'utf8')
  assert.ok(onDisk.endsWith('\n') && onDisk.includes(r1.hash), 'the row is in the file when append resolves')
  const r2 = await log.append(ev(2))
  assert.is(r2.prev, r1.hash)
  assert.equal(log.head, { seq: 2, hash: r2.hash })
  const v = await log.verify()
  assert.equal([v.ok, v.rows, v.firstBadSeq], [true, 2, null])
})

test('rows appended together share one write and one fdatasync (group commit)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const log = await openLog(ctx, ctx.tmp('sov-audit-'), key, 10_000)
  const rows = await Promise.all(Array.from({ length: 1000 }, async (_, i) => await log.append(ev(i))))
  assert.equal(rows.map(r => r.seq), Array.from({ length: 1000 }, (_, i) => i + 1), 'rows keep append order')
  assert.ok(log.stats.writes <= 3, `1000 rows took ${log.stats.writes} writes`)
  assert.ok((await log.verify()).ok)
})

test('events.jsonl is written O_DSYNC: one call on the thread pool writes and syncs a batch (issue 15)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await openLog(ctx, dir, key)
  await log.append(ev(1))
  const events = realpathSync(join(dir, 'events.jsonl'))
  const fd = readdirSync('/proc/self/fd').find(fd => { try { return readlinkSync(`/proc/self/fd/${fd}`) === events } catch { return false } })
  assert.ok(fd !== undefined, 'events.jsonl is open')
  const flags = parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd as string}`, 'utf8'))![1], 8)
  assert.ok((flags & constants.O_DSYNC) === constants.O_DSYNC, `flags 0${flags.toString(8)} lack O_DSYNC`)
})

test('rows queued during a write are submitted before that write\'s rows are answered (issue 15: sealing overlaps the sync)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const log = await openLog(ctx, ctx.tmp('sov-audit-'), key, 10_000)
  const first = log.append(ev(1))
  // The end-of-tick flush submits row 1; its write cannot complete before this code yields to the event loop.
  await Promise.resolve()
  await Promise.resolve()
  assert.is(log.stats.submitted, 1, 'row 1 is on its way alone')
  const rest = [2, 3, 4, 5].map(async i => await log.append(ev(i)))
  const submittedWhenAnswered = await first.then(() => log.stats.submitted)
  assert.is(submittedWhenAnswered, 5, 'rows 2-5 were handed to the file system before row 1 was answered')
  assert.equal((await Promise.all(rest)).map(r => r.seq), [2, 3, 4, 5])
  assert.equal(log.batchSizes, [1, 4])
})

test('a row that cannot be written is refused, cut off the file again, and so is the next (fail closed)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  writeFileSync(join(dir, 'key.pb'), privateKeyToProtobuf(key))
  const child = spawn('sh', ['-c', `ulimit -f 4 && exec "${process.execPath}" "${repoPath('dist', 'test', 'fixtures', 'audit-child.js')}" fill "${dir}"`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  await withDeadline(once(child, 'exit'), 20_000, 'the fill child to finish')
  const r = JSON.parse(out)
  assert.is(r.refused?.code, 'UNAVAILABLE', out)
  assert.match(r.refused.message, /Cannot write the audit log ".*events\.jsonl": /, 'the refusal names the file')
  assert.is(r.second, 'UNAVAILABLE', 'the log keeps refusing while it cannot write')
  assert.is(r.head, r.lastDurable, 'the head never moves past the last durable row')
  const log = await openLog(ctx, dir, key)
  assert.is(log.head.seq, r.lastDurable, 'no trace of the refused row')
  assert.not.ok(readdirSync(dir).some(f => f.includes('.torn-')), 'the failed write left no torn line')
  assert.ok((await log.verify()).ok)
})

test('a 300-row log: flipping any byte of a row makes verify report exactly that row', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const { events, checkpoints } = await makeLog(ctx, 300, key)
  const clean = await verifyAudit({ events, checkpoints, publicKey: key.publicKey })
  assert.equal([clean.ok, clean.rows, clean.checkpoints], [true, 300, 3])
  let start = 0
  let checked = 0
  for (let seq = 1; seq <= 300; seq++) {
    const end = events.indexOf(0x0a, start) // the row's newline
    // A byte inside the row (varies with seq), its last byte, and its newline.
    for (const pos of [start + ((seq * 7919) % (end - start)), end - 1, end]) {
      const copy = Buffer.from(events)
      copy[pos] ^= 0x01
      const v = await verifyAudit({ events: copy, checkpoints, publicKey: key.publicKey })
      assert.is(v.ok, false, `flip at byte ${pos} (row ${seq}) went unnoticed`)
      assert.is(v.firstBadSeq, seq, `flip at byte ${pos}: reported ${v.firstBadSeq} (${v.reason}), expected ${seq}`)
      checked++
    }
    start = end + 1
  }
  assert.is(checked, 900)
})

test('a deleted, duplicated or reordered row, a cut tail and a rolled-back copy are each reported', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const { events, checkpoints } = await makeLog(ctx, 300, key)
  const rows = lines(events)
  const verify = async (ls: string[] | Buffer) => await verifyAudit({ events: Array.isArray(ls) ? join2(ls) : ls, checkpoints, publicKey: key.publicKey })
  const cases: Array<[string, string[] | Buffer, number, RegExp]> = [
    ['row 150 deleted', rows.filter((_, i) => i !== 149), 150, /missing/],
    ['row 1 deleted', rows.slice(1), 1, /missing/],
    ['row 150 duplicated', [...rows.slice(0, 150), rows[149], ...rows.slice(150)], 151, /duplicated/],
    ['rows 150 and 151 swapped', [...rows.slice(0, 149), rows[150], rows[149], ...rows.slice(151)], 150, /out of order/],
    ['last 10 rows cut off', rows.slice(0, 290), 291, /cut off/],
    ['last row cut in the middle', events.subarray(0, events.length - 40), 300, /incomplete/],
    ['an empty log with checkpoints', [], 1, /cut off/]
  ]
  for (const [what, input, seq, reason] of cases) {
    const v = await verify(input)
    assert.is(v.ok, false, `${what}: not reported`)
    assert.is(v.firstBadSeq, seq, `${what}: reported ${v.firstBadSeq} (${v.reason})`)
    assert.match(v.reason ?? '', reason, what)
  }
})

test('rows rewritten with a recomputed chain are caught by the next signed checkpoint', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const { events, checkpoints } = await makeLog(ctx, 300, key)
  const rows = lines(events).map(l => JSON.parse(l) as AuditRow)
  // Whoever edits the file can recompute every hash after the edit, but cannot sign.
  let prev = rows[118].hash
  const forged = rows.map((r, i) => {
    if (i < 119) return JSON.stringify(r)
    const detail = i === 119 ? { ...r.detail, note: 'nothing happened here' } : r.detail
    const edited = { type: r.type, actor: r.actor, outcome: r.outcome, detail }
    const { row, line } = sealRow(r.seq, r.ts, edited, prepareEvent(edited), prev)
    prev = row.hash
    return line.slice(0, -1)
  })
  const v = await verifyAudit({ events: join2(forged), checkpoints, publicKey: key.publicKey })
  assert.is(v.ok, false)
  assert.is(v.firstBadSeq, 200)
  assert.match(v.reason ?? '', /rows 101\.\.200 were rewritten/)

  const other = await generateKeyPair('Ed25519')
  const w = await verifyAudit({ events, checkpoints, publicKey: other.publicKey })
  assert.is(w.ok, false, 'checkpoints signed by another key are not accepted')
  assert.match(w.reason ?? '', /bad signature/)
})

test('a torn last line is moved aside on open, recorded by a row, and the log verifies', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const { dir } = await makeLog(ctx, 20, key)
  const torn = '{"actor":"operator","detail":{"i":21,"no'
  appendFileSync(join(dir, 'events.jsonl'), torn)
  const log = await openLog(ctx, dir, key)
  const saved = readdirSync(dir).filter(f => f.startsWith('events.jsonl.torn-'))
  assert.is(saved.length, 1, 'the torn bytes are kept in a recovery file')
  assert.is(readFileSync(join(dir, saved[0]), 'utf8'), torn)
  const [row] = await log.tail(1)
  assert.is(row.type, 'AUDIT_TORN_TAIL')
  assert.equal(row.detail, { file: 'events.jsonl', bytes: torn.length, savedAs: saved[0], afterSeq: 20 })
  assert.is(row.seq, 21)
  const v = await log.verify()
  assert.ok(v.ok, v.reason)
})

test('the running log reports its file cut short under it; a restart records the mismatch', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await AuditLog.open({ dir, privateKey: key, checkpointEvery: 10, warn: () => {} })
  for (let i = 1; i <= 25; i++) await log.append(ev(i))
  const path = join(dir, 'events.jsonl')
  const keep = lines(readFileSync(path)).slice(0, 23)
  truncateSync(path, join2(keep).length)
  const v = await log.verify()
  assert.equal([v.ok, v.firstBadSeq], [false, 24], v.reason)
  await log.close()
  // At restart the last checkpoint (seq 25) is beyond the log's end: recorded, and verify keeps
  // saying so even after new rows take the lost seqs.
  const again = await openLog(ctx, dir, key)
  const rows = await again.tail(5)
  assert.ok(rows.some(r => r.type === 'AUDIT_INCONSISTENT' && /cut off or the log was rolled back/.test(String(r.detail.reason))))
  for (let i = 0; i < 5; i++) await again.append(ev(100 + i))
  const w = await again.verify()
  assert.is(w.ok, false)
  assert.is(w.firstBadSeq, 25, w.reason)
  assert.match(w.reason ?? '', /differs from the signed checkpoint/)
})

test('the running log reports its checkpoints file removed, emptied or rolled back under it (helper finding: verify said OK, or INTERNAL ENOENT)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await openLog(ctx, dir, key, 1000)
  for (let i = 1; i <= 20; i++) await log.append(ev(i))
  const first = await log.checkpoint()
  const cpPath = join(dir, 'checkpoints.jsonl')
  const older = readFileSync(cpPath)
  for (let i = 21; i <= 30; i++) await log.append(ev(i))
  const last = await log.checkpoint()
  const good = readFileSync(cpPath)
  assert.ok((await log.verify()).ok)
  const lacks = new RegExp(`checkpoints\\.jsonl lacks the checkpoint at seq ${last.seq} this daemon holds as its last`)
  for (const [what, damage] of [
    ['removed', () => { rmSync(cpPath) }],
    ['emptied', () => { writeFileSync(cpPath, '') }],
    ['rolled back', () => { writeFileSync(cpPath, older) }]
  ] as Array<[string, () => void]>) {
    damage()
    const v = await log.verify()
    assert.equal([v.ok, v.firstBadSeq], [false, last.seq], `${what}: ${String(v.reason)}`)
    assert.match(v.reason ?? '', lacks, what)
    writeFileSync(cpPath, good)
  }
  assert.ok((await log.verify()).ok, 'whole again')
  assert.ok(first.seq < last.seq)
  // The next checkpoint after a removal goes to a new file at the path, not into the deleted one
  // (a purge's checkpoint went there and the purge could never verify), and the loss is a row.
  rmSync(cpPath)
  await log.append(ev(31))
  const next = await log.checkpoint()
  assert.ok(readFileSync(cpPath, 'utf8').includes(`"seq":${next.seq}`), 'written where verify reads')
  await log.append(ev(32))
  const rows = await log.tail(5)
  assert.ok(rows.some(r => r.type === 'AUDIT_INCONSISTENT' && /checkpoints\.jsonl was removed, cut or replaced/.test(String(r.detail.reason))), rows.map(r => r.type).join(','))
  assert.ok((await log.verify()).ok)
})

test('purge drops old rows, anchors the cut in a signed purge row, and the chain still verifies', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await openLog(ctx, dir, key, 30)
  for (let i = 1; i <= 50; i++) await log.append(ev(i))
  await new Promise(resolve => setTimeout(resolve, 20))
  const cut = new Date()
  await new Promise(resolve => setTimeout(resolve, 20))
  for (let i = 51; i <= 80; i++) await log.append(ev(i))
  const before = (await log.tail(1, 49))[0]
  assert.is(before.seq, 50)

  const r = await log.purge(cut, 'operator')
  assert.equal([r.purged, r.throughSeq, r.anchor, r.seq], [50, 50, before.hash, 81])
  const kept = lines(readFileSync(join(dir, 'events.jsonl'))).map(l => JSON.parse(l) as AuditRow)
  assert.is(kept[0].seq, 51)
  assert.is(kept[0].prev, before.hash, 'no re-genesis: the first kept row still links to the dropped one')
  const purgeRow = kept[kept.length - 1]
  assert.equal([purgeRow.type, purgeRow.detail.throughSeq, purgeRow.detail.anchor], [PURGE_TYPE, 50, before.hash])
  const cps = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l))
  assert.ok(cps.every(c => c.seq > 50), 'checkpoints of dropped rows are gone')
  assert.ok(cps.some(c => c.seq === 81 && c.hash === purgeRow.hash), 'the purge row is checkpointed')
  assert.ok((await log.verify()).ok)
  await log.append(ev(82))
  assert.is((await log.tail(1, 81))[0].prev, purgeRow.hash)
  await log.close()
  const files = await verifyAuditFiles(join(dir, 'events.jsonl'), join(dir, 'checkpoints.jsonl'), key.publicKey)
  assert.ok(files.ok, files.reason)

  // Dropping more rows by hand is not a purge: nothing signed anchors the new start.
  const rows = lines(readFileSync(join(dir, 'events.jsonl')))
  const cpText = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8')
  const v = await verifyAudit({ events: join2(rows.slice(5)), checkpoints: cpText, publicKey: key.publicKey })
  assert.equal([v.ok, v.firstBadSeq], [false, 51], v.reason)
  // Nor is a self-made purge row at the end without a checkpoint naming it.
  const last = JSON.parse(rows[rows.length - 1]) as AuditRow
  const purgeEv = { type: PURGE_TYPE, actor: 'operator', outcome: 'ok' as const, detail: { throughSeq: 55, anchor: (JSON.parse(rows[4]) as AuditRow).hash } }
  const forged = sealRow(last.seq + 1, new Date().toISOString(), purgeEv, prepareEvent(purgeEv), last.hash)
  const w = await verifyAudit({ events: join2([...rows.slice(5), forged.line.slice(0, -1)]), checkpoints: cpText, publicKey: key.publicKey })
  assert.equal([w.ok, w.firstBadSeq], [false, 51], w.reason)
})

test('a purge while rows keep arriving checkpoints its own row and ends; the log verifies (helper finding: it wrote on under load and signed a later head)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await openLog(ctx, dir, key, 1000)
  for (let i = 1; i <= 40; i++) await log.append(ev(i))
  await new Promise(resolve => setTimeout(resolve, 5))
  const cut = new Date()
  // Rows arrive as requests do, each tick, whether or not earlier ones are written (bounded).
  let purging = true
  const appended: Array<Promise<AuditRow>> = []
  const writers = Array.from({ length: 4 }, async () => {
    for (let i = 0; purging && i < 3000; i++) {
      appended.push(log.append(ev(100 + i)))
      await new Promise(resolve => setImmediate(resolve))
    }
  })
  await new Promise(resolve => setTimeout(resolve, 5))
  const r = await log.purge(cut, 'operator')
  purging = false
  await Promise.all(writers)
  await Promise.all(appended)
  assert.is(r.purged, 40)
  const cps = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l))
  assert.ok(cps.some(c => c.seq === r.seq), `a checkpoint names the purge row ${String(r.seq)} (${cps.map(c => c.seq).join(',')})`)
  const v = await log.verify()
  assert.ok(v.ok, v.reason)
})

test('the copy of a purge the node died in is removed at the next open, and the log is whole (helper finding: 46 MB left behind)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const { dir } = await makeLog(ctx, 30, key)
  const leftover = join(dir, 'events.jsonl.purge-99999')
  writeFileSync(leftover, 'half a copy')
  const warned: string[] = []
  const log = await AuditLog.open({ dir, privateKey: key, warn: line => { warned.push(line) } })
  ctx.defer(async () => { await log.close() })
  assert.not.ok(existsSync(leftover))
  assert.match(warned.join('\n'), /removed events\.jsonl\.purge-99999/)
  assert.ok((await log.verify()).ok)
})

test('tail serves recent rows from memory and older ones from the file', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await AuditLog.open({ dir, privateKey: key, tailWindow: 50, warn: () => {} })
  ctx.defer(async () => { await log.close() })
  await Promise.all(Array.from({ length: 200 }, async (_, i) => await log.append(ev(i + 1))))
  assert.equal((await log.tail(3)).map(r => r.seq), [198, 199, 200])
  assert.equal((await log.tail(3, 10)).map(r => r.seq), [11, 12, 13], 'rows after seq 10 come from the file')
  assert.equal((await log.tail(1000, 195)).map(r => r.seq), [196, 197, 198, 199, 200])
  assert.equal(await log.tail(10, 200), [])
})

test('a tail far behind the window finds its place by bisection, not by reading the whole file (helper finding: 64 such tails held the daemon for minutes)', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const log = await AuditLog.open({ dir, privateKey: key, tailWindow: 50, warn: () => {} })
  ctx.defer(async () => { await log.close() })
  // Details that hold a member named seq too: only the row's own seq may steer the search.
  for (let i = 0; i < 20_000; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, async (_, k) => await log.append({ type: 'TEST_ROW', actor: 'operator', outcome: 'ok', detail: { seq: 1, i: i + k, pad: 'p'.repeat(100) } })))
  }
  const size = statSync(join(dir, 'events.jsonl')).size
  for (const after of [0, 1, 9_999, 12_345, 19_940]) {
    const before = log.stats.tailBytesRead
    const rows = await log.tail(5, after)
    assert.equal(rows.map(r => r.seq), [1, 2, 3, 4, 5].map(k => after + k), `after ${after}`)
    const read = log.stats.tailBytesRead - before
    assert.ok(read < 2 * 1024 * 1024 && read < size / 2, `after ${after}: read ${read} of ${size} bytes`)
  }
})

test('a row carrying a known secret is written with the secret redacted', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-')
  const secret = 'f00dfeed'.repeat(8)
  const log = await AuditLog.open({ dir, privateKey: key, secrets: () => [secret], warn: () => {} })
  ctx.defer(async () => { await log.close() })
  const row = await log.append({ type: 'TEST_ROW', actor: 'operator', outcome: 'ok', detail: { oops: `token=${secret}` } })
  assert.is(row.detail.oops, 'token=[redacted]')
  assert.not.ok(readFileSync(join(dir, 'events.jsonl'), 'utf8').includes(secret))
  assert.ok(existsSync(join(dir, 'checkpoints.jsonl')))
})

test('jcs writes what the canonicalize package writes, on 4,000 generated values and the edge cases (issue 15 fast path)', () => {
  const canonicalize = canonicalizeModule as unknown as (v: unknown) => string
  let seed = 0x5eed
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n }
  const names = ['a', 'b', 'B', 'Z', '', 'é', '\u0080', '😀', '\ud83d\ude00x', 'a\u0000', '__proto__', '10', '9', '01', 'constructor', 'toString', 'aa', 'a b']
  const numbers = [0, -0, 1, -1, 0.1 + 0.2, 1e21, 1e-7, 123456789012345680000, 2 ** 53, -(2 ** 31), 5e-324, 1.7976931348623157e308]
  const strings = ['', 'x', '"', '\\', '\n\t\u0001\u001f', '\u007f', 'é😀', '\u2028\u2029', '</script>']
  const gen = (depth: number): unknown => {
    const k = rand(depth > 4 ? 4 : 7)
    if (k === 0) return numbers[rand(numbers.length)]
    if (k === 1) return strings[rand(strings.length)]
    if (k === 2) return [true, false, null][rand(3)]
    if (k === 3) return rand(1000) - 500
    if (k === 4) return Array.from({ length: rand(4) }, () => rand(8) === 0 ? undefined : gen(depth + 1))
    const o: Record<string, unknown> = rand(5) === 0 ? Object.create(null) : {}
    for (let i = rand(6); i > 0; i--) Object.defineProperty(o, names[rand(names.length)], { value: rand(8) === 0 ? undefined : gen(depth + 1), enumerable: true, writable: true, configurable: true })
    return o
  }
  for (let i = 0; i < 4000; i++) {
    const v = gen(0)
    assert.is(jcs(v), canonicalize(v), JSON.stringify(v))
  }
  // Members JSON.parse makes that an assignment would not (`__proto__`), integer-like names
  // (enumerated numerically), objects with toJSON, nesting to the limit: each as the package writes it.
  const edge = [
    JSON.parse('{"b":1,"__proto__":{"z":1,"a":2},"a":[{"__proto__":3}]}'),
    { 10: 'x', 9: 'y', a: { 2: 1, 1: 2 } },
    { when: new Date(0), b: [new Date(1)] },
    JSON.parse('['.repeat(63) + '{"b":1,"a":2}' + ']'.repeat(63))
  ]
  for (const v of edge) assert.is(jcs(v), canonicalize(v), JSON.stringify(v))
  assert.throws(() => jcs({ a: Number.NaN }), /NaN/)
  assert.throws(() => jcs({ a: [Infinity] }), /Infinity/)
  assert.throws(() => jcs({ a: { ['x\udc00']: 1 } }), /lone UTF-16 surrogate/)
  // 64 levels are taken (above), 65 are not (MAX_JSON_DEPTH: what no edge accepts).
  assert.throws(() => jcs(JSON.parse('['.repeat(64) + '{"b":1}' + ']'.repeat(64))), /nested deeper than 64 levels/)
})

test.run()
