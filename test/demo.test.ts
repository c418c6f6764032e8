// `sov demo` end to end, as a person runs it: it must finish in under a minute and leave no
// process and no temp dir behind — also when interrupted with Ctrl-C halfway.
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { kitSuite, waitFor } from './kit/index.js'
import { SOV } from './kit/daemon.js'

const test = kitSuite('demo')

/** Pids of processes whose command line mentions `path`. */
function processesUsing (path: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter(p => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path)) out.push(Number(pid))
    } catch { /* gone */ }
  }
  return out
}

function startDemo (ctx: { defer: (f: () => unknown) => void }, args: string[]): { child: ReturnType<typeof spawn>, out: () => string, err: () => string, exit: Promise<number | null> } {
  const child = spawn(process.execPath, [SOV, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { err += d })
  const exit = new Promise<number | null>(resolve => child.once('close', code => { resolve(code) }))
  ctx.defer(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, out: () => out, err: () => err, exit }
}

test('sov demo runs every step in under a minute and leaves nothing behind', async ctx => {
  const started = Date.now()
  const demo = startDemo(ctx, ['--json'])
  const code = await demo.exit
  const took = Date.now() - started
  assert.is(code, 0, demo.err())
  const r = JSON.parse(demo.out())
  assert.ok(r.ok)
  assert.equal(r.steps.map((s: any) => s.step), [
    'start node A with a new swarm key', 'make a sealed invite on A', 'join B and C with the invite, start them',
    'grant /a2a/send: A → B:inbox, B → C:inbox', 'send A → B and B → C; receive and ack',
    'a message without a grant is refused (C → A)', 'verify the three audit logs', 'pay and verify a licence on the devnet'
  ])
  assert.ok(took < 60_000, `took ${took} ms`)
  assert.match(demo.err(), /✓ pay and verify a licence on the devnet .*valid/)
  assert.not.ok(existsSync(r.root), 'the temp dir is gone')
  assert.equal(processesUsing(r.root), [], 'no process is left')
})

test('Ctrl-C halfway stops every daemon and removes every file', async ctx => {
  const demo = startDemo(ctx, [])
  const root = await waitFor(() => /Working in (\S+)/.exec(demo.out())?.[1], 20_000, 'the demo to start')
  await waitFor(() => demo.out().includes('✓ join B and C'), 40_000, 'three daemons to run')
  assert.ok(processesUsing(root).length >= 3, 'daemons were running')
  demo.child.kill('SIGINT')
  const code = await demo.exit
  assert.is(code, 1)
  assert.match(demo.err(), /interrupted/)
  assert.not.ok(existsSync(root), 'the temp dir is gone')
  await waitFor(() => processesUsing(root).length === 0, 10_000, 'every process to exit')
})

test.run()
