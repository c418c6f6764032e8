// SIGKILL in the middle of a burst of appends (a child process writing ~5 MB waves): after each
// restart the log verifies, a torn last line is detected and moved aside, and every row the child
// was told is durable is there.
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { AuditLog } from '../node/audit/index.js'
import { kitSuite, repoPath, waitFor } from './kit/index.js'

const test = kitSuite('audit-crash')
const CHILD = repoPath('dist', 'test', 'fixtures', 'audit-child.js')
const KILLS = 5

test('SIGKILL during a burst: the log verifies after restart and nothing answered as durable is missing', async ctx => {
  const key = await generateKeyPair('Ed25519')
  const dir = ctx.tmp('sov-audit-crash-')
  writeFileSync(join(dir, 'key.pb'), privateKeyToProtobuf(key))
  let torn = 0
  for (let round = 0; round < KILLS; round++) {
    const child = spawn(process.execPath, [CHILD, 'burst', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(child, 'exit')
    ctx.defer(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
    let out = ''
    child.stdout.on('data', d => { out += d })
    const durable = (): number[] => [...out.matchAll(/durable (\d+)/g)].map(m => Number(m[1]))
    await waitFor(() => durable().length >= 1, 30_000, 'the child to make a wave durable')
    if (round % 2 === 0) {
      // Kill the moment the file starts growing: most likely in the middle of a write.
      const path = join(dir, 'events.jsonl')
      const size = statSync(path).size
      const until = Date.now() + 2000
      while (statSync(path).size === size && Date.now() < until) { /* spin: the child is on the other core */ }
    } else {
      await new Promise(resolve => setTimeout(resolve, 7 + round * 13))
    }
    child.kill('SIGKILL')
    await exited
    const answered = Math.max(...durable())

    const log = await AuditLog.open({ dir, privateKey: key, warn: () => {} })
    try {
      assert.ok(log.head.seq >= answered, `round ${round}: the head ${log.head.seq} is behind the last row answered as durable (${answered})`)
      const v = await log.verify()
      assert.ok(v.ok, `round ${round}: ${v.reason} at ${v.firstBadSeq}`)
      const recovered = (await log.tail(3)).filter(r => r.type === 'AUDIT_TORN_TAIL')
      torn += recovered.length
      const saved = readdirSync(dir).filter(f => f.startsWith('events.jsonl.torn-')).length
      assert.is(saved, torn, 'every torn tail is kept in its own recovery file')
    } finally {
      await log.close()
    }
  }
  console.log(`  (${KILLS} kills, ${torn} torn tails recovered)`)
})

test.run()
