// Housekeeping habits from Kubo (issue 14) through the built CLI: config show/get/set checked with
// the daemon's schema (unknown keys refused everywhere), bootstrap list/add/rm, init then join in
// either order with --listen, devnet status/mine, and --help on every command.
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, waitFor } from './kit/index.js'
import { sov, startDaemon } from './kit/daemon.js'

const test = kitSuite('cli-kubo')
const PEER = '12D3KooWGzQ8Yz2Cf6ZyGdUjKwYjDx2NLHhy2JbTTA3MygUbAPDs'

test('config get/set/show use the daemon schema; unknown keys, bad addresses and [] are refused by the CLI and the daemon', async ctx => {
  const home = ctx.tmp()
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const set = await sov(home, ['config', 'set', 'limits.maxDeliveries', '3', '--json'])
  assert.is(set.code, 0, set.stderr)
  assert.is((await sov(home, ['config', 'get', 'limits.maxDeliveries'])).stdout.trim(), '3')
  assert.equal((await sov(home, ['config', 'show', '--json'])).json.listen, ['/ip4/127.0.0.1/tcp/0'])
  const cases: Array<[string[], RegExp]> = [
    [['config', 'set', 'lisen', '[]'], /config key "lisen": "lisen" is unknown; allowed at the top: listen, bootstrap/],
    [['config', 'set', 'limits.maxEnvelopeByte', '1'], /"limits.maxEnvelopeByte" is unknown; allowed in "limits": maxEnvelopeBytes, maxDeliveries/],
    [['config', 'set', 'limits.maxDeliveries', '0'], /field "limits.maxDeliveries": must be at least 1 \(got 0\)/],
    // What the daemon parses at start is parsed by config set too (it was written, then start failed).
    [['config', 'set', 'a2a.http.listen', 'abc'], /field "a2a.http.listen": "abc" is not 0 \(off\), a port, or HOST:PORT with a loopback HOST/],
    [['config', 'set', 'a2a.http.listen', '0.0.0.0:4011'], /field "a2a.http.listen": "0.0.0.0:4011" is not/],
    [['config', 'set', 'listen', '["garbage"]'], /field "listen.0": "garbage" is not a multiaddr/],
    [['config', 'set', 'bootstrap', '["/ip4/192.0.2.1/tcp/1/p2p/12D3KooWEAH2Zg5F7hwM4z1HxrFpSpZqcBv8oYqyn5ke6Gz3Q4Bp", "x"]'], /field "bootstrap.1": "x" is not a multiaddr/],
    [['config', 'set', 'announce', '["garbage"]'], /field "announce.0": "garbage" is not a multiaddr/],
    [['config', 'set', 'relay.use', '["garbage"]'], /field "relay.use.0": "garbage" is not a multiaddr/],
    // A timer longer than Node's 2^31 - 1 ms fires at once (helper finding, stop 33).
    [['config', 'set', 'a2a.http.blockingMaxMs', '999999999999'], /field "a2a.http.blockingMaxMs": must be at most 2147483647 \(got 999999999999\)/],
    [['config', 'set', 'a2a.sweepIntervalMs', '3000000000'], /field "a2a.sweepIntervalMs": must be at most 2147483647 \(got 3000000000\)/],
    [['config', 'set', 'licence.recheckS', '3000000'], /field "licence.recheckS": must be at most 2147483 \(got 3000000\)/],
    [['config', 'set', 'relay.durationLimitS', '3000000'], /field "relay.durationLimitS": must be at most 2147483 \(got 3000000\)/],
    [['config', 'get', 'nope'], /"nope" is unknown/],
    [['bootstrap', 'add', '/ip4/192.0.2.1/tcp/4001'], /must end with \/p2p\/<PeerId>/],
    [['bootstrap', 'rm', '/ip4/192.0.2.1/tcp/4001/p2p/' + PEER], /it is not a bootstrap peer/]
  ]
  for (const [args, message] of cases) {
    const r = await sov(home, args)
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
  }
  assert.is(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).limits.maxDeliveries, 3, 'refused sets wrote nothing')

  const addr = `/ip4/192.0.2.1/tcp/4001/p2p/${PEER}`
  assert.is((await sov(home, ['bootstrap', 'add', addr])).code, 0)
  assert.equal((await sov(home, ['bootstrap', 'list', '--json'])).json, [addr])
  assert.is((await sov(home, ['bootstrap', 'rm', addr])).code, 0)
  assert.equal((await sov(home, ['bootstrap', 'list', '--json'])).json, [])

  // The daemon refuses the same mistakes at start, naming the key; [] is not a config.
  const path = join(home, 'config.json')
  const good = readFileSync(path, 'utf8')
  for (const [text, message] of [[JSON.stringify({ ...JSON.parse(good), lisen: [] }), /unknown key "lisen"/], ['[]', /must be a JSON object/]] as const) {
    writeFileSync(path, text)
    const r = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
    const licence = await sov(home, ['licence', 'payload'])
    assert.is(licence.code, 2, 'offline commands read config with the same schema')
  }
  // In the background: the same exit status and this run's error only, from a timestamped log.
  writeFileSync(join(home, 'daemon.log'), 'error[INTERNAL]: an old failure from an earlier run\n')
  writeFileSync(path, JSON.stringify({ ...JSON.parse(good), lisen: [] }))
  const bg = await sov(home, ['node', 'start'], { timeoutMs: 40_000 })
  assert.is(bg.code, 2, bg.stderr)
  assert.match(bg.stderr, /^error\[BAD_REQUEST\]: Cannot start the daemon: Cannot read config ".*": unknown key "lisen"/)
  assert.not.match(bg.stderr, /old failure/)
  assert.match(readFileSync(join(home, 'daemon.log'), 'utf8'), /\n\d{4}-\d\d-\d\dT[\d:.]+Z error\[BAD_REQUEST\]/)
  writeFileSync(path, good)
  const init = await sov(home, ['init', '--swarm-key', join(home, 'swarm.key')])
  assert.not.match(init.stdout, /new key/, 'init --swarm-key FILE does not call it a new key')
})

test('a running daemon applies what it can of a config change (bootstrap add dials now) and names what needs a restart; SIGHUP too', async ctx => {
  const a = await startDaemon(ctx)
  const b = await startDaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key') })
  const added = await sov(a.home, ['bootstrap', 'add', b.addr, '--json'])
  assert.is(added.code, 0, added.stderr)
  assert.equal(added.json.dialled, [{ addr: b.addr, ok: true }])
  assert.equal(added.json.applied, ['bootstrap'])
  assert.ok((await sov(a.home, ['peers', '--json'])).json.some((p: any) => p.peerId === b.peerId && p.connected))
  const set = await sov(a.home, ['config', 'set', 'limits.maxDeliveries', '9'])
  assert.is(set.code, 0)
  assert.match(set.stdout, /The daemon runs: restart it to apply .*limits/)
  process.kill(a.pid, 'SIGHUP')
  await waitFor(() => /Config reloaded: applied bootstrap; restart needed for limits/.test(a.output()), 10_000, 'the SIGHUP reload line')
})

test('init then join, and join then init, both work; join takes --listen; a shared key is never replaced', async ctx => {
  const a = await startDaemon(ctx)
  const pf = join(ctx.tmp(), 'pass')
  writeFileSync(pf, 'correct horse battery staple\n')
  const inv = await sov(a.home, ['swarm-key', 'invite', '--passphrase-file', pf, '--json'])
  assert.is(inv.code, 0, inv.stdout)
  const invite = inv.json.invite
  assert.not.ok(existsSync(join(a.home, 'swarm.key.unshared')), 'an invite marks the key shared')

  const first = ctx.tmp()
  assert.is((await sov(first, ['init'])).code, 0)
  const joined = await sov(first, ['join', invite, '--passphrase-file', pf, '--listen', '/ip4/127.0.0.1/tcp/0', '--json'])
  assert.is(joined.code, 0, joined.stdout + joined.stderr)
  assert.match(joined.json.replacedKey, /swarm\.key\.replaced-[0-9a-f]{32}$/)
  assert.is((await sov(first, ['swarm-key', 'inspect', join(first, 'swarm.key'), '--json'])).json.fingerprint, joined.json.fingerprint)
  assert.equal((await sov(first, ['config', 'get', 'listen', '--json'])).json.value, ['/ip4/127.0.0.1/tcp/0'])

  const second = ctx.tmp()
  assert.is((await sov(second, ['join', invite, '--passphrase-file', pf])).code, 0)
  const init = await sov(second, ['init', '--json'])
  assert.is(init.code, 0)
  assert.is(init.json.fingerprint, joined.json.fingerprint, 'init keeps the joined key')

  // A home whose key was shared (by invite) is never switched to another mesh.
  const other = await startDaemon(ctx)
  const otherInvite = (await sov(other.home, ['swarm-key', 'invite', '--passphrase-file', pf, '--json'])).json.invite
  const refused = await sov(a.home, ['join', otherInvite, '--passphrase-file', pf])
  assert.is(refused.code, 1)
  assert.match(refused.stderr, /already belongs to mesh/)
})

test('devnet status and mine N: the height moves and status shows it', async ctx => {
  const home = ctx.tmp()
  ctx.defer(async () => { if (existsSync(join(home, 'devnet', 'devnet.json'))) await sov(home, ['devnet', 'stop']) })
  const none = await sov(home, ['devnet', 'status'])
  assert.is(none.code, 1)
  assert.match(none.stderr, /no devnet is running \(start one with `sov devnet start`\)/)
  assert.is((await sov(home, ['devnet', 'start'])).code, 0)
  const before = await sov(home, ['devnet', 'status', '--json'])
  assert.is(before.code, 0, before.stderr)
  const mined = await sov(home, ['devnet', 'mine', '3', '--json'])
  assert.equal(mined.json, { mined: 3, height: before.json.height + 3 })
  assert.match((await sov(home, ['devnet', 'status'])).stdout, new RegExp(`height ${String(before.json.height + 3)}, 0 in the mempool`))
  assert.is((await sov(home, ['devnet', 'mine', '0'])).code, 2)
  assert.is((await sov(home, ['devnet', 'stop'])).code, 0)
})

test('--help on every command lists the global flags and an example', async ctx => {
  const home = ctx.tmp()
  const groups = ['agent', 'a2a', 'cap', 'audit', 'peers', 'agent-token', 'swarm-key', 'node', 'licence', 'devnet', 'config', 'bootstrap', 'token']
  const top = await sov(home, ['--help'])
  const commands: string[][] = []
  for (const name of [...top.stdout.split('Commands:')[1].matchAll(/^ {2}([a-z0-9-]+)\b/gm)].map(m => m[1]).filter(n => n !== 'help')) {
    if (!groups.includes(name)) { commands.push([name]); continue }
    const sub = await sov(home, [name, '--help'])
    for (const s of [...sub.stdout.split('Commands:')[1].matchAll(/^ {2}([a-z0-9-]+)\b/gm)].map(m => m[1]).filter(n => n !== 'help')) commands.push([name, s])
  }
  assert.ok(commands.length >= 40, `found ${commands.length} commands`)
  for (let i = 0; i < commands.length; i += 8) {
    const batch = commands.slice(i, i + 8)
    const runs = await Promise.all(batch.map(async c => await sov(home, [...c, '--help'])))
    runs.forEach((r, j) => {
      const name = `sov ${batch[j].join(' ')}`
      assert.is(r.code, 0, name)
      assert.match(r.stdout, /Global Options:[\s\S]*--home <dir>[\s\S]*--json/, `${name} lists the global flags`)
      assert.match(r.stdout, /\nExample:\n {2}sov /, `${name} shows an example`)
    })
  }
  assert.match((await sov(home, ['cap', 'grant', '--help'])).stdout, /\/a2a\/send .*\/cap\/admin/s, 'cap grant lists the commands')
})

test.run()
