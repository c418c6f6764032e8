// `audit tail` never answers more than one IPC frame can carry (issue 10 §1: the same kind as
// `a2a receive` leasing more than its reply could hold): the daemon caps an answer by bytes and
// the CLI pages through the rest, so large rows come out whole and in order.
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { loadOrCreateIdentity } from '../mesh/index.js'
import { AuditLog } from '../node/audit/index.js'
import { kitSuite } from './kit/index.js'
import { runDaemonIn, sov } from './kit/daemon.js'

const test = kitSuite('audit-tail')
const ROWS = 600
const PAD_BYTES = 12 * 1024

test(`audit tail -n over ${ROWS} rows of 12 KiB (7 MiB, beyond one 4 MiB frame): every row, in order`, async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  // Written with the home's own key before the daemon starts, so it takes them as its history.
  const log = await AuditLog.open({ dir: join(home, 'audit'), privateKey: await loadOrCreateIdentity(join(home, 'identity', 'node.key')) })
  for (let i = 0; i < ROWS; i++) await log.append({ type: 'TEST_LARGE_ROW', actor: 'node', outcome: 'ok', detail: { i, pad: 'x'.repeat(PAD_BYTES) } })
  await log.close()
  await runDaemonIn(ctx, home)

  const r = await sov(home, ['audit', 'tail', '-n', '1000', '--json'])
  assert.is(r.code, 0, r.stderr)
  const large = (r.json as any[]).filter(row => row.type === 'TEST_LARGE_ROW')
  assert.equal(large.map(row => row.detail.i), Array.from({ length: ROWS }, (_, i) => i), 'every row, once, in order')
  const seqs = (r.json as any[]).map(row => row.seq)
  assert.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1), 'no row missing between pages')

  const last = await sov(home, ['audit', 'tail', '-n', '3', '--json'])
  assert.equal(last.json.map((row: any) => row.seq), seqs.slice(-3), 'a short tail is the newest rows')
})

test.run()
