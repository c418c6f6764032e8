// mailbox.db gives space back once a mailbox that held large messages has drained (issue 14):
// freed pages are returned with SQLite's incremental vacuum and a truncating WAL checkpoint, by
// the daemon's own sweep, through real daemons and the built `sov`.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { sov } from './kit/daemon.js'
import { grantSend, startA2ADaemon } from './kit/a2a.js'

const test = kitSuite('mailbox-space')
const FILES = 12
const FILE_BYTES = 700_000

function dbBytes (home: string): number {
  return ['mailbox.db', 'mailbox.db-wal'].reduce((n, f) => n + (existsSync(join(home, f)) ? statSync(join(home, f)).size : 0), 0)
}

test(`${FILES} files of 700 KB received and acknowledged: mailbox.db shrinks back below 2 MiB`, async ctx => {
  const a = await startA2ADaemon(ctx)
  const b = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  await grantSend(b.home, a.peerId, 'inbox')
  const file = join(ctx.tmp(), 'blob.bin')
  writeFileSync(file, Buffer.alloc(FILE_BYTES, 7))
  for (let i = 0; i < FILES; i++) assert.is((await sov(a.home, ['a2a', 'send', b.peerId, 'inbox', '--file', file, '--json'])).code, 0)
  await waitFor(async () => (await sov(b.home, ['a2a', 'mailboxes', '--json'])).json?.[0]?.ready === FILES, 30_000, 'the files to arrive', 200)
  const full = dbBytes(b.home)
  assert.ok(full > 8 * 2 ** 20, `mailbox.db and its WAL hold the messages (${full} bytes)`)

  let acked = 0
  while (acked < FILES) {
    const got = await sov(b.home, ['a2a', 'receive', 'inbox', '--max', '10', '--json'])
    assert.is(got.code, 0, got.stderr)
    const ack = await sov(b.home, ['a2a', 'ack', 'inbox', ...got.json.map((m: any) => m.lease), '--json'])
    acked += ack.json.count
  }
  await waitFor(() => dbBytes(b.home) < 2 * 2 ** 20, 15_000, `mailbox.db to give space back (was ${full} bytes)`, 200)
})

test.run()
