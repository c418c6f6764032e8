// The --json contract (issue 14, DESIGN §4): every command, run once with --json through the built
// CLI against real daemons, prints exactly one JSON document on stdout — its result, or
// {"error":{"code","message"}} with the same exit status — and nothing else.
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite } from './kit/index.js'
import { sov, startDaemon, type SovResult } from './kit/daemon.js'

const test = kitSuite('cli-json')

/** stdout is one JSON document (JSON.parse of all of it), and a failure is `{"error":{…}}`. */
function assertOneDocument (args: string[], r: SovResult): void {
  const what = `sov ${args.join(' ')} → exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
  assert.ok(r.json !== undefined, `stdout is not one JSON document: ${what}`)
  if (r.code === 0) assert.not.ok(r.json !== null && typeof r.json === 'object' && 'error' in r.json && !Array.isArray(r.json), `success carries an error: ${what}`)
  else if (r.code !== 3) {
    assert.type(r.json.error?.code, 'string', what)
    assert.type(r.json.error?.message, 'string', what)
    assert.is(r.stderr.includes('error['), false, `--json failure also printed to stderr: ${what}`)
  }
}

test('every command with --json prints exactly one JSON document on stdout, success or failure', async ctx => {
  const a = await startDaemon(ctx)
  const b = await startDaemon(ctx, { bootstrap: [a.addr], swarmKeyFile: join(a.home, 'swarm.key') })
  const pf = join(ctx.tmp(), 'pass')
  writeFileSync(pf, 'correct horse battery staple\n')
  const keyOut = join(ctx.tmp(), 'new.key')
  const fresh = join(ctx.tmp(), 'fresh')

  const grant = await sov(a.home, ['cap', 'grant', b.peerId, '/a2a/send', '--mailbox', 'jobs', '--json'])
  assert.is(grant.code, 0, grant.stderr)
  const invite = await sov(a.home, ['swarm-key', 'invite', '--passphrase-file', pf, '--json'])
  assert.is(invite.code, 0, invite.stderr)

  // [args, expected exit code (-1: any)]: every command group and verb at least once, plus parse errors.
  const runs: Array<[string[], number]> = [
    [['--version'], 0],
    [['--help'], 0],
    [['cap', 'grant', '--help'], 0],
    [['status'], 0],
    [['peers'], 0],
    [['peers', 'list'], 0],
    [['peers', 'connect', b.addr], 0],
    [['peers', 'ping', b.peerId], 0],
    [['peers', 'unrevoke', b.peerId], 0],
    [['cap', 'list'], 0],
    [['cap', 'grant', b.peerId, '/a2a/send', '--mailbox', 'other', '--expires', '1h'], 0],
    [['cap', 'revoke', String(grant.json.id).slice(0, 8)], 0],
    [['agent-token', 'issue', 'bot', '--scope', '/a2a/read:jobs'], 0],
    [['agent-token', 'list'], 0],
    [['agent-token', 'revoke', 'bot'], 0],
    [['audit', 'tail', '-n', '3'], 0],
    [['audit', 'verify'], 0],
    [['audit', 'checkpoint'], 0],
    [['audit', 'purge', '--before', '2000-01-01', '--yes'], 0],
    [['a2a', 'send', b.peerId, 'jobs', 'hello'], 0],
    [['a2a', 'receive', 'jobs'], 0],
    [['a2a', 'ack', 'jobs', 'nope'], -1],
    [['a2a', 'nack', 'jobs', 'nope'], -1],
    [['a2a', 'outbox', '--limit', '5'], 0],
    [['a2a', 'mailboxes'], 0],
    [['a2a', 'dead', 'jobs'], 0],
    [['a2a', 'redrive', 'jobs', '--all'], 0],
    [['a2a', 'purge', 'jobs', '--dead', '--yes'], 0],
    [['a2a', 'retry', 'nope'], 1],
    [['swarm-key', 'generate', '--out', keyOut], 0],
    [['swarm-key', 'inspect', keyOut], 0],
    [['licence', 'payload', '--machine-id', 'box'], 0],
    [['licence', 'status'], 3],
    [['licence', 'verify', '--txid', '00'.repeat(32)], 2],
    [['audit', 'acknowledge', '--seq', '1', '--reason', 'nothing broken'], 2],
    [['config', 'show'], 0],
    [['config', 'get', 'listen'], 0],
    [['config', 'set', 'limits.maxDeliveries', '7'], 0],
    [['bootstrap', 'list'], 0],
    [['devnet', 'status'], 1],
    [['devnet', 'mine', '2'], 1],
    [['devnet', 'reset', '--yes'], 0],
    [['token', 'rotate'], 0],
    [['--home', fresh, 'init', '--listen', '/ip4/127.0.0.1/tcp/0'], 0],
    [['--home', join(ctx.tmp(), 'joined'), 'join', invite.json.invite, '--passphrase-file', pf], 0],
    // Usage errors, each the one JSON document.
    [['nosuch'], 2],
    [['a2a'], 2],
    [['cap', 'revoke'], 2],
    [['status', '--bogus'], 2],
    [['--home', join(a.home, 'typo'), 'status'], 2],
    [['a2a', 'receive', 'jobs', '--wait', '10m'], 2]
  ]
  for (const [args, code] of runs) {
    const r = await sov(a.home, [...args, '--json'])
    assertOneDocument(args, r)
    if (code !== -1) assert.is(r.code, code, `sov ${args.join(' ')}: ${r.stdout} ${r.stderr}`)
  }

  const version = await sov(a.home, ['--version', '--json'])
  assert.type(version.json.version, 'string')
  const help = await sov(a.home, ['cap', 'grant', '--help', '--json'])
  assert.match(help.json.help, /--home/)
  const status = await sov(a.home, ['status', '--json'])
  assert.is(status.json.home, a.home)
  assert.match(status.json.fingerprint, /^[0-9a-f]{32}$/)

  // node start / stop in the background, and --foreground --json: one document once it serves.
  const started = await sov(fresh, ['node', 'start', '--json'])
  assertOneDocument(['node', 'start'], started)
  assert.is(started.code, 0, started.stderr)
  const stopped = await sov(fresh, ['node', 'stop', '--json'])
  assertOneDocument(['node', 'stop'], stopped)
  assert.is(stopped.code, 0)
})

test('node start --foreground --json: one document on stdout once it serves; progress on stderr', async ctx => {
  const home = ctx.tmp()
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const { spawn } = await import('node:child_process')
  const { SOV } = await import('./kit/daemon.js')
  const { waitFor } = await import('./kit/index.js')
  const child = spawn(process.execPath, [SOV, '--home', home, 'node', 'start', '--foreground', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.defer(() => { child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { err += d })
  await waitFor(() => { try { return JSON.parse(out).peerId } catch { return undefined } }, 30_000, 'the ready document')
  child.kill('SIGTERM')
  const code = await new Promise(resolve => child.once('exit', resolve))
  assert.is(code, 0)
  const doc = JSON.parse(out)
  assert.equal(Object.keys(doc).sort(), ['addrs', 'fingerprint', 'home', 'peerId', 'pid', 'version'])
  assert.match(err, /Listening on /)
})

test('audit tail --follow --json is NDJSON: one row a line', async ctx => {
  const a = await startDaemon(ctx)
  const { spawn } = await import('node:child_process')
  const { SOV } = await import('./kit/daemon.js')
  const child = spawn(process.execPath, [SOV, '--home', a.home, 'audit', 'tail', '-n', '2', '--follow', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  ctx.defer(() => { child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', d => { out += d })
  const { waitFor } = await import('./kit/index.js')
  await waitFor(() => out.split('\n').filter(Boolean).length >= 1, 10_000, 'the last rows')
  await sov(a.home, ['cap', 'grant', '12D3KooWGzQ8Yz2Cf6ZyGdUjKwYjDx2NLHhy2JbTTA3MygUbAPDs', '/a2a/send', '--json'])
  await waitFor(() => /CAP_GRANTED/.test(out), 10_000, 'the new row to follow')
  child.kill('SIGINT')
  const lines = out.split('\n').filter(Boolean)
  for (const line of lines) assert.type(JSON.parse(line).seq, 'number')
})

test.run()
