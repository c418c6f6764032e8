// A devnet restart keeps its chain, vendor, ports and certificate (issue 14), after `devnet stop`
// and after SIGKILL, so a licence paid before still verifies against the same URLs and CA file;
// a kept port now taken, a damaged state file and `devnet reset` say what to do. Through the
// built `sov`, as a user runs it.
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { sov } from './kit/daemon.js'

const test = kitSuite('devnet-restart')
const MACHINE = 'restart-box'

/** `devnet start --json` in `home`, stopped after the test if it still runs. */
async function start (ctx: { defer: (f: () => unknown) => void }, home: string): Promise<any> {
  const r = await sov(home, ['devnet', 'start', '--json'])
  assert.is(r.code, 0, r.stdout + r.stderr)
  ctx.defer(async () => { if (alive(r.json.pid)) await sov(home, ['devnet', 'stop']) })
  return r.json
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

async function verify (home: string, s: any, txid: string): Promise<void> {
  const r = await sov(home, ['licence', 'verify', '--txid', txid, '--vendor', s.vendorAddress, '--sats', '50000', '--network', 'regtest',
    '--electrum', s.ssl, '--electrum-ca', s.caFile, '--min-conf', '2', '--machine-id', MACHINE])
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /^Licence VALID/)
}

function sameDevnet (now: any, before: any, what: string): void {
  assert.is(now.tcp, before.tcp, `${what}: same TCP URL`)
  assert.is(now.ssl, before.ssl, `${what}: same TLS URL`)
  assert.is(now.caFile, before.caFile, `${what}: same CA file`)
  assert.is(now.vendorAddress, before.vendorAddress, `${what}: same vendor`)
  assert.equal(now.vendorAddresses, before.vendorAddresses, `${what}: same vendor addresses of every type`)
  assert.is(now.resumed, true, `${what}: says it resumed`)
}

test('a devnet stopped, or killed with SIGKILL, comes back with its blocks, vendor, ports and CA file: a paid licence still verifies', async ctx => {
  const home = ctx.tmp()
  const first = await start(ctx, home)
  assert.is(first.resumed, false)
  const ca = readFileSync(first.caFile, 'utf8')
  const pay = await sov(home, ['devnet', 'pay', '--to', first.vendorAddress, '--sats', '50000', '--machine-id', MACHINE, '--confirmations', '2'])
  assert.is(pay.code, 0, pay.stderr)
  const txid = pay.stdout.trim()
  await verify(home, first, txid)
  const dir = join(home, 'devnet')
  for (const f of ['setup.json', 'chain.json']) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} holds private keys: 0600`)
  const height = (await sov(home, ['devnet', 'status', '--json'])).json.height

  assert.is((await sov(home, ['devnet', 'stop'])).code, 0)
  const second = await start(ctx, home)
  sameDevnet(second, first, 'after stop')
  assert.is(second.height, height, 'the same chain')
  assert.is(readFileSync(second.caFile, 'utf8'), ca, 'the same certificate')
  await verify(home, second, txid)

  // Blocks mined and a payment left in the mempool just before SIGKILL are kept too: chain.json
  // is written before the answer.
  assert.is((await sov(home, ['devnet', 'mine', '3'])).code, 0)
  const waiting = await sov(home, ['devnet', 'pay', '--to', first.vendorAddress, '--sats', '50000', '--machine-id', MACHINE, '--confirmations', '0'])
  assert.is(waiting.code, 0, waiting.stderr)
  process.kill(second.pid, 'SIGKILL')
  await waitFor(() => !alive(second.pid), 10_000, 'the devnet to die')
  const third = await start(ctx, home)
  sameDevnet(third, first, 'after SIGKILL')
  assert.is(third.height, height + 3)
  assert.is(readFileSync(third.caFile, 'utf8'), ca)
  await verify(home, third, txid)
  assert.match((await sov(home, ['devnet', 'status'])).stdout, new RegExp(`height ${String(height + 3)}, 1 in the mempool`))
  // The miner's coins came back with the chain: it confirms the waiting payment and pays again.
  assert.is((await sov(home, ['devnet', 'mine', '1'])).code, 0)
  const later = await sov(home, ['devnet', 'pay', '--to', first.vendorAddress, '--sats', '50000', '--machine-id', MACHINE, '--confirmations', '2'])
  assert.is(later.code, 0, later.stderr)
  await verify(home, third, waiting.stdout.trim())
  await verify(home, third, later.stdout.trim())
})

test('a kept port now taken, a damaged chain.json and devnet reset: each says what to do', async ctx => {
  const home = ctx.tmp()
  const dir = join(home, 'devnet')
  const first = await start(ctx, home)
  assert.is((await sov(home, ['devnet', 'stop'])).code, 0)

  const port = Number(first.tcp.split(':').pop())
  const squatter = createServer()
  await new Promise<void>(resolve => squatter.listen(port, '127.0.0.1', resolve))
  ctx.defer(async () => { await new Promise(resolve => squatter.close(resolve)) })
  const taken = await sov(home, ['devnet', 'start'])
  assert.is(taken.code, 1, taken.stderr)
  assert.match(taken.stderr, new RegExp(`error\\[CONFLICT\\]: Cannot start the devnet: Cannot serve Electrum over TCP on "127\\.0\\.0\\.1:${port}": the port is in use`))
  assert.match(taken.stderr, /keeps the ports of its last run[\s\S]*`--tcp-port 0`/)
  // Asked for any free port, it moves there and keeps the new one.
  const moved = await sov(home, ['devnet', 'start', '--tcp-port', '0', '--json'])
  assert.is(moved.code, 0, moved.stderr)
  ctx.defer(async () => { if (alive(moved.json.pid)) await sov(home, ['devnet', 'stop']) })
  assert.is.not(moved.json.tcp, first.tcp)
  assert.is(moved.json.ssl, first.ssl)
  assert.is(moved.json.vendorAddress, first.vendorAddress)
  assert.is((await sov(home, ['devnet', 'stop'])).code, 0)
  const again = await start(ctx, home)
  assert.is(again.tcp, moved.json.tcp, 'the new port is kept')
  const running = await sov(home, ['devnet', 'reset', '--yes'])
  assert.is(running.code, 1)
  assert.match(running.stderr, /error\[CONFLICT\]: Cannot reset the devnet: it runs .*sov devnet stop/)
  assert.is((await sov(home, ['devnet', 'stop'])).code, 0)

  writeFileSync(join(dir, 'chain.json'), '{"v":1,"miner":')
  const damaged = await sov(home, ['devnet', 'start'])
  assert.is(damaged.code, 1)
  assert.match(damaged.stderr, /error\[INTERNAL\]: Cannot start the devnet: Cannot read the devnet's state ".*chain\.json": it is not valid JSON/)
  assert.match(damaged.stderr, /`sov devnet reset --yes`/)

  const unasked = await sov(home, ['devnet', 'reset'])
  assert.is(unasked.code, 2, 'no --yes and no terminal to ask on')
  assert.ok(existsSync(join(dir, 'setup.json')))
  const reset = await sov(home, ['devnet', 'reset', '--yes', '--json'])
  assert.is(reset.code, 0, reset.stderr)
  assert.is(reset.json.removed.length, 3)
  const fresh = await start(ctx, home)
  assert.is(fresh.resumed, false)
  assert.is.not(fresh.vendorAddress, first.vendorAddress)
})

test.run()
