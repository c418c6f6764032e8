// Errors that name the thing and the fix (issue 14): each refusal through the built CLI and a real
// daemon, with its code, exit status and the words a user needs; nothing written before the check.
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IpcClient } from '../cli/index.js'
import { newAddress } from '../finance/index.js'
import { kitSuite, waitFor } from './kit/index.js'
import { SOV, sov, startDaemon } from './kit/daemon.js'
import { textMessage } from './kit/a2a.js'
import { startElectrum } from './kit/electrum.js'

const test = kitSuite('cli-errors')

test('usage mistakes: exit 2, error[BAD_REQUEST] naming the flag, the value and the allowed range', async ctx => {
  const a = await startDaemon(ctx)
  const dir = ctx.tmp()
  const cases: Array<[string[], RegExp]> = [
    [['a2a', 'send', a.peerId, 'jobs', '--file', join(dir, 'missing.txt')], /--file ".*missing\.txt": no such file; check the path/],
    [['a2a', 'send', a.peerId, 'jobs', '--file', dir], /--file ".*": it is a directory/],
    [['a2a', 'send', a.peerId, 'jobs', '--data', '{nope'], /--data "\{nope": not valid JSON/],
    [['a2a', 'send', a.peerId, 'jobs', 'x', '--metadata', '[1]'], /--metadata "\[1\]": it must be a JSON object/],
    [['a2a', 'send', a.peerId, 'jobs', '--data', '{"n":1e400}'], /--data "\{"n":1e400\}": a number in it is beyond what JSON numbers hold \(it reads as Infinity\)/],
    [['a2a', 'send', a.peerId, 'jobs', ''], /Cannot send an empty text/],
    [['a2a', 'send', a.peerId, 'jobs', '--file', join(dir, 'missing.txt'), '--media-type', ''], /--media-type "": give a media type/],
    [['a2a', 'outbox', '--peer', 'notapeer'], /--peer "notapeer": not a PeerId/],
    [['a2a', 'ack', 'jobs', ''], /Cannot run a2a\.ack: leases\.0 "": must have at least 1 character \(got 0\)/],
    [['a2a', 'send', a.peerId, 'jobs', 'x', '--ttl', '31d'], /--ttl "31d": out of range; use 1s to 30d/],
    [['a2a', 'receive', 'jobs', '--wait', '10m'], /--wait "10m": out of range; use 0s to 5m/],
    [['a2a', 'receive', 'jobs', '--lease', 'soon'], /--lease "soon": not a duration; use e\.g\. 250ms/],
    [['a2a', 'receive', 'jobs', '--max', '5abc'], /--max "5abc": use a whole number from 1 to 1000/],
    [['cap', 'grant', a.peerId, '/a2a/send', '--expires', '0'], /--expires "0": out of range; use 1s to 3650d/],
    [['cap', 'grant', a.peerId, '/a2a/send', '--expires', '1ms'], /--expires "1ms": out of range/],
    [['cap', 'grant', a.peerId, '/a2a/send', '--expires', '99999999d'], /--expires "99999999d": out of range; use 1s to 3650d/],
    [['agent-token', 'issue', 'bot', '--scope', '/a2a/read', '--expires', '99999999d'], /--expires "99999999d": out of range/],
    [['swarm-key', 'invite', '--expires', '10s', '--passphrase-file', '/dev/null'], /--expires "10s": out of range; use 1m to 30d/],
    [['licence', 'payload', '--machine-id', ''], /--machine-id "": it is empty/],
    [['audit', 'purge', '--before', '2999-01-01', '--yes'], /Cannot purge the audit log: --before "2999-01-01" is in the future/],
    [['audit', 'purge', '--before', 'yesterday', '--yes'], /Cannot purge the audit log: --before "yesterday" is not an RFC 3339 date/],
    [['audit', 'purge', '--before', '2000-01-01'], /without confirmation: add --yes/],
    [['a2a', 'purge', 'jobs'], /without confirmation: add --yes/],
    [['--home', join(a.home, 'typo'), 'status'], /home ".*typo" \(from --home\): it does not exist/],
    [['cap', 'revoke', 'abc'], /grant id is 8 to 64 lowercase hex/],
    [['a2a'], /Cannot run `sov a2a`: give a command: send, receive/],
    [['agents', a.peerId], /Cannot ask .* for its agents: that is this node itself; `sov agent list` shows the agents it offers/]
  ]
  for (const [args, message] of cases) {
    const r = await sov(a.home, args)
    assert.is(r.code, 2, `sov ${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /^error\[BAD_REQUEST\]: /, r.stderr)
    assert.match(r.stderr, message, `sov ${args.join(' ')}`)
    assert.not.match(r.stderr, /Invalid value|Invalid length|Expected <=|Expected >=|waitMs|expiresS/, 'no schema text leaks')
  }
  // Nothing was signed or stored by the refused grants and tokens; the lists still work.
  const caps = await sov(a.home, ['cap', 'list', '--json'])
  assert.is(caps.code, 0, caps.stderr)
  assert.equal(caps.json, [])
  const tokens = await sov(a.home, ['agent-token', 'list', '--json'])
  assert.is(tokens.code, 0)
  assert.equal(tokens.json, [])
  // $SOV_TOKEN set but empty: said locally, naming the variable (it was sent as the token).
  const empty = await sov(a.home, ['status'], { env: { SOV_TOKEN: '' } })
  assert.is(empty.code, 1)
  assert.match(empty.stderr, /^error\[UNAUTHENTICATED\]: Cannot authenticate: \$SOV_TOKEN is set but empty; unset it/)
  const wrong = await sov(a.home, ['status'], { env: { SOV_TOKEN: 'sova_' + '0'.repeat(64) } })
  assert.match(wrong.stderr, /the token came from \$SOV_TOKEN: unset it/)
  // A reader that stops early ends the command quietly (it died on EPIPE with a stack trace).
  const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${SOV}" --home "${a.home}" audit tail -n 200 | head -c 0`], { encoding: 'utf8' })
  assert.not.match(piped.stderr, /EPIPE|Unhandled/, piped.stderr)
  // A refused init names the input and creates nothing (it left identity/ behind).
  const badKey = join(dir, 'bad.key')
  writeFileSync(badKey, 'garbage\n')
  for (const [args, message] of [[['--listen', 'not-a-multiaddr'], /field "listen\.0": "not-a-multiaddr" is not a multiaddr/], [['--swarm-key', badKey], /".*bad\.key": Cannot parse swarm key/]] as const) {
    const fresh = join(dir, `fresh-${args[0].slice(2)}`)
    const r = await sov(fresh, ['init', ...args])
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
    assert.not.ok(existsSync(fresh), `sov init ${args.join(' ')} created the home`)
  }
  const inspected = await sov(a.home, ['swarm-key', 'inspect', badKey])
  assert.match(inspected.stderr, /^error\[SWARM_KEY_INVALID\]: ".*bad\.key": Cannot parse swarm key/, 'the file is named, as init names it')
  // A purge that removed nothing (no such mailbox) changed nothing: no audit row.
  const head = (await sov(a.home, ['status', '--json'])).json.audit.seq
  const purged = await sov(a.home, ['a2a', 'purge', 'nosuchbox', '--yes', '--json'])
  assert.is(purged.code, 0, purged.stderr)
  assert.equal([purged.json.dead, purged.json.ready], [0, 0])
  assert.is((await sov(a.home, ['status', '--json'])).json.audit.seq, head)
  // config get and show fill in what the file leaves out (helper finding, stop 29: null).
  assert.is((await sov(a.home, ['config', 'get', 'a2a.http.blockingMaxMs'])).stdout.trim(), '60000')
  assert.is((await sov(a.home, ['config', 'get', 'limits.maxDeliveries', '--json'])).json.value, 5)
  assert.is((await sov(a.home, ['config', 'show', '--json'])).json.limits.maxEnvelopeBytes, 1024 * 1024)
  // An unknown grant id prefix is NOT_FOUND with where to look.
  const unknown = await sov(a.home, ['cap', 'revoke', 'deadbeef'])
  assert.is(unknown.code, 1)
  assert.match(unknown.stderr, /no grant id starts with it; list them with `sov cap list`/)
})

test('a damaged agents.json or peers/revoked.json is named with what to do', async ctx => {
  for (const [file, what] of [['agents.json', 'agent tokens'], [join('peers', 'revoked.json'), 'revoked peers']]) {
    const home = ctx.tmp()
    const init = await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.is(init.code, 0, init.stderr)
    mkdirSync(join(home, 'peers'), { recursive: true })
    writeFileSync(join(home, file), '{"agents": [tru')
    const r = await sov(home, ['node', 'start', '--foreground'], { timeoutMs: 30_000 })
    assert.is.not(r.code, 0)
    assert.match(r.stderr, new RegExp(`Cannot read ${what} ".*${file.replace('/', '\\/')}": .*; restore it from a backup, or move it aside`), r.stderr)
  }
})

test('licence verify of a txid the server does not know says so, not DaemonError -5', async ctx => {
  const home = ctx.tmp()
  const e = await startElectrum(ctx)
  const vendor = newAddress('p2wpkh')
  const r = await sov(home, ['licence', 'verify', '--txid', 'ab'.repeat(32), '--vendor', vendor.address, '--sats', '1000', '--network', 'regtest', '--electrum', e.tcp, '--machine-id', 'm'])
  assert.is(r.code, 1)
  assert.match(r.stdout + r.stderr, /the server does not know it \(not broadcast yet, or a transaction of another network/)
  assert.not.match(r.stdout + r.stderr, /DaemonError/)
})

test('a trusted self-signed certificate for another name: the message says which names it has', async ctx => {
  const home = ctx.tmp()
  const { generate } = await import('selfsigned')
  const pems = await generate([{ name: 'commonName', value: 'electrum.example' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 3_600_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'electrum.example' }] }]
  } as any)
  const e = await startElectrum(ctx, undefined, { cert: { cert: pems.cert, key: pems.private, fingerprint: '' } })
  const ca = join(home, 'ca.pem')
  writeFileSync(ca, pems.cert)
  const vendor = newAddress('p2wpkh')
  const r = await sov(home, ['licence', 'verify', '--txid', 'ab'.repeat(32), '--vendor', vendor.address, '--sats', '1000', '--network', 'regtest', '--electrum', e.ssl, '--electrum-ca', ca, '--machine-id', 'm'])
  assert.is(r.code, 1)
  assert.match(r.stdout + r.stderr, /its TLS certificate is for electrum\.example, not "127\.0\.0\.1"; connect by a name it lists/)
  assert.not.match(r.stderr, /pass that certificate with --electrum-ca/)
})

test('peers ping: a peer we revoked, and a peer that revoked us, are both named with the fix', async ctx => {
  const a = await startDaemon(ctx)
  const b = await startDaemon(ctx, { bootstrap: [a.addr], swarmKeyFile: join(a.home, 'swarm.key') })
  await waitFor(async () => (await sov(b.home, ['peers', 'ping', a.peerId, '--json'])).code === 0, 20_000, 'B to reach A')
  assert.is((await sov(a.home, ['peers', 'revoke', b.peerId])).code, 0)
  const theyRevoked = await sov(b.home, ['peers', 'ping', a.peerId])
  assert.is(theyRevoked.code, 1)
  assert.match(theyRevoked.stderr, new RegExp(`it may have revoked this node \\(${b.peerId}\\): its operator can run \`sov peers unrevoke ${b.peerId}\``), theyRevoked.stderr)
  const weRevoked = await sov(a.home, ['peers', 'ping', b.peerId])
  assert.match(weRevoked.stderr, new RegExp(`this node has revoked it; allow it again with \`sov peers unrevoke ${b.peerId}\``))
  // The listing marks it; unrevoke lets it back in.
  const listed = await sov(a.home, ['peers', '--json'])
  assert.ok(listed.json.some((p: any) => p.peerId === b.peerId && p.revoked === true), listed.stdout)
  assert.match((await sov(a.home, ['peers'])).stdout, /✗ \S+ {2}REVOKED/)
  const un = await sov(a.home, ['peers', 'unrevoke', b.peerId, '--json'])
  assert.is(un.json.wasRevoked, true)
  await waitFor(async () => (await sov(b.home, ['peers', 'ping', a.peerId, '--json'])).code === 0, 20_000, 'B to reach A again')
  const audit = await sov(a.home, ['audit', 'tail', '-n', '50', '--json'])
  assert.ok(audit.json.some((row: any) => row.type === 'PEER_UNREVOKED'))
})

test('a daemon lost with changes in flight: each error names the request, says it may have been carried out and how to look', async ctx => {
  const a = await startDaemon(ctx)
  const b = await startDaemon(ctx)
  const client = await IpcClient.open(a.home)
  ctx.defer(() => { client.close() })
  const sends = Array.from({ length: 50 }, async (_, i) => await client.request('a2a.send', { peer: b.peerId, mailbox: 'jobs', message: textMessage(`in flight ${i}`) }).then(() => null, (err: Error) => err))
  const listing = client.request('cap.list', {}).then(() => null, (err: Error) => err)
  await a.kill()
  const lost = (await Promise.all(sends)).filter(e => e !== null)
  assert.ok(lost.length > 0, 'the kill came before some answers')
  for (const err of lost) assert.match(err.message, /^Lost the daemon connection: .* while a2a\.send waited for its answer; it may have been carried out: send it again with the same --message-id \(queued once\), or `sov a2a outbox --peer PEER` lists it if it was queued$/)
  // A request that changes nothing gets no such warning.
  const list = await listing
  if (list !== null) assert.not.match(list.message, /carried out/)
})

test.run()
