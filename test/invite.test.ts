// Provisioning by invite: one sealed line carries the swarm key and bootstrap peers; `sov join`
// makes a fresh home a member. Every refusal (wrong passphrase, altered, expired, other mesh,
// weak passphrase) is a clear error and writes nothing.
import * as assert from 'uvu/assert'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sodium from 'sodium-native'
import { generateSwarmKey, sealInvite, swarmKeyFingerprint } from '../mesh/index.js'
import { kitSuite, waitFor } from './kit/index.js'
import { daemonRequest, runDaemonIn, sov, startDaemon } from './kit/daemon.js'

const test = kitSuite('invite')
const PASS = 'correct horse battery staple'

function passFile (ctx: { tmp: () => string }, text: string): string {
  const f = join(ctx.tmp(), 'pass')
  writeFileSync(f, `${text}\n`, { mode: 0o600 })
  return f
}

test('invite then join: the new home gets the key (0600) and bootstrap, starts and meets the inviter; join on a running node connects', async ctx => {
  const a = await startDaemon(ctx)
  const pf = passFile(ctx, PASS)
  const inv = await sov(a.home, ['swarm-key', 'invite', '--passphrase-file', pf, '--expires', '2h', '--json'])
  assert.is(inv.code, 0, inv.stderr)
  assert.match(inv.json.invite, /^sov1[A-Za-z0-9_-]+$/)
  assert.is(inv.json.bootstrap[0], a.addr)
  assert.ok(inv.json.loopbackOnly)
  const key = readFileSync(join(a.home, 'swarm.key'), 'utf8')
  assert.not.ok(inv.stdout.includes(key.split('\n')[2]), 'the key is never printed in clear')

  const home = ctx.tmp('sov-home-')
  const joined = await sov(home, ['join', inv.json.invite, '--passphrase-file', pf, '--json'])
  assert.is(joined.code, 0, joined.stderr)
  assert.is(joined.json.daemonRunning, false)
  assert.is(readFileSync(join(home, 'swarm.key'), 'utf8'), key)
  assert.is(statSync(join(home, 'swarm.key')).mode & 0o777, 0o600)
  assert.equal(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).bootstrap, [a.addr])

  // The joined home only listens on port 0 in tests; the default would be 4001.
  const cfg = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
  writeFileSync(join(home, 'config.json'), JSON.stringify({ ...cfg, listen: ['/ip4/127.0.0.1/tcp/0'] }))
  const b = await runDaemonIn(ctx, home)
  await waitFor(async () => (await daemonRequest(a.home, 'status', {})).peers >= 1, 15_000, 'B to reach A through the bootstrap from the invite')

  const again = await sov(home, ['join', inv.json.invite, '--passphrase-file', pf, '--json'])
  assert.is(again.code, 0, again.stderr)
  assert.is(again.json.daemonRunning, true)
  assert.equal(again.json.connected, [a.peerId])
  assert.ok(b.peerId.startsWith('12D3KooW'))
})

test('join refuses a wrong passphrase, an altered invite, an expired invite and another mesh, writing nothing', async ctx => {
  const key = generateSwarmKey()
  const boot = ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWEAH2Zg5F7hwM4z1HxrFpSpZqcBv8oYqyn5ke6Gz3Q4Bp']
  const cheap = { opslimit: 1, memlimitBytes: 8 * 2 ** 20 }
  const fingerprint = swarmKeyFingerprint(key)
  const invite = await sealInvite({ key, bootstrap: boot, expires: Math.floor(Date.now() / 1000) + 3600, fingerprint }, PASS, cheap)
  const expired = await sealInvite({ key, bootstrap: boot, expires: Math.floor(Date.now() / 1000) - 1, fingerprint }, PASS, cheap)
  const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
  const pf = passFile(ctx, PASS)

  const cases: Array<{ name: string, invite: string, pass: string, code: string, message: RegExp }> = [
    { name: 'wrong passphrase', invite, pass: passFile(ctx, 'another long passphrase'), code: 'INVITE_INVALID', message: /wrong passphrase, or the invite was altered/ },
    { name: 'altered ciphertext', invite: flip(invite, invite.length - 10), pass: pf, code: 'INVITE_INVALID', message: /wrong passphrase, or the invite was altered/ },
    { name: 'altered header (KDF cost)', invite: flip(invite, 8), pass: pf, code: 'INVITE_INVALID', message: /altered|cost/ },
    { name: 'cut short', invite: invite.slice(0, 30), pass: pf, code: 'INVITE_INVALID', message: /too short/ },
    { name: 'not an invite', invite: 'hello', pass: pf, code: 'INVITE_INVALID', message: /does not start with "sov1"/ },
    { name: 'expired', invite: expired, pass: pf, code: 'INVITE_INVALID', message: /expired at/ }
  ]
  for (const c of cases) {
    const home = ctx.tmp('sov-home-')
    const r = await sov(home, ['join', c.invite, '--passphrase-file', c.pass])
    assert.is(r.code, 2, `${c.name}: ${r.stderr}`)
    assert.ok(r.stderr.startsWith(`error[${c.code}]`), `${c.name}: ${r.stderr}`)
    assert.match(r.stderr, c.message, c.name)
    assert.equal(readdirSync(home), [], `${c.name}: nothing written`)
  }

  // A home that already belongs to another mesh (its key came from elsewhere, so it may be
  // shared); a key that `init` made and nobody has yet is replaced instead (cli-kubo test).
  const other = ctx.tmp('sov-home-')
  const otherKey = join(ctx.tmp(), 'other.key')
  assert.is((await sov(other, ['swarm-key', 'generate', '--out', otherKey])).code, 0)
  assert.is((await sov(other, ['init', '--listen', '/ip4/127.0.0.1/tcp/0', '--swarm-key', otherKey])).code, 0)
  const before = readFileSync(join(other, 'swarm.key'))
  const configBefore = readFileSync(join(other, 'config.json'))
  const r = await sov(other, ['join', invite, '--passphrase-file', pf])
  assert.is(r.code, 1)
  assert.match(r.stderr, /^error\[CONFLICT\]: Cannot join: this home already belongs to mesh [0-9a-f]{32}, and the invite is for mesh/)
  assert.ok(readFileSync(join(other, 'swarm.key')).equals(before), 'swarm.key unchanged')
  assert.ok(readFileSync(join(other, 'config.json')).equals(configBefore), 'config unchanged')
})

test('invite refuses a weak passphrase, and needs a terminal or --passphrase-file', async ctx => {
  const home = ctx.tmp('sov-home-')
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/4999'])).code, 0)
  for (const weak of ['short', 'aaaaaaaaaaaaaaaa', '123456789012', 'mypassword-is-long']) {
    const r = await sov(home, ['swarm-key', 'invite', '--passphrase-file', passFile(ctx, weak)])
    assert.is(r.code, 2, weak)
    assert.match(r.stderr, /^error\[BAD_REQUEST\]: Cannot seal the invite: the passphrase is too weak/)
  }
  const noTty = await sov(home, ['swarm-key', 'invite'])
  assert.is(noTty.code, 2)
  assert.match(noTty.stderr, /no terminal; give --passphrase-file/)
  // Offline (no daemon), the invite uses the configured listen address.
  const ok = await sov(home, ['swarm-key', 'invite', '--passphrase-file', passFile(ctx, PASS), '--json'])
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.json.bootstrap[0], /^\/ip4\/127\.0\.0\.1\/tcp\/4999\/p2p\/12D3KooW/)
  assert.ok(existsSync(join(home, 'swarm.key')))
})

/**
 * An invite sealed by hand around any `content` (the format of mesh/invite.ts: version byte,
 * Argon2id cost, salt, nonce, XChaCha20-Poly1305 over the JSON with the header as associated
 * data): what a forger holding the passphrase could make.
 */
function forgeInvite (content: unknown, passphrase: string): string {
  const [ops, mem] = [1, 8 * 2 ** 20]
  const header = Buffer.alloc(1 + 4 + 4 + 16 + 24)
  header[0] = 1
  header.writeUInt32BE(ops, 1)
  header.writeUInt32BE(mem / 1024, 5)
  sodium.randombytes_buf(header.subarray(9))
  const key = Buffer.alloc(32)
  sodium.crypto_pwhash(key, Buffer.from(passphrase), header.subarray(9, 25), ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13)
  const plain = Buffer.from(typeof content === 'string' ? content : JSON.stringify(content))
  const cipher = Buffer.alloc(plain.length + 16)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, plain, header, null, header.subarray(25), key)
  return 'sov1' + Buffer.concat([header, cipher]).toString('base64url')
}

test('join refuses a forged invite whose content this node would not write — another inner version, extra members, an expiry that never comes, a bootstrap address that cannot be dialled — writing nothing; seal refuses such addresses too (helper finding, stop 30)', async ctx => {
  const key = generateSwarmKey()
  const peer = '12D3KooWEAH2Zg5F7hwM4z1HxrFpSpZqcBv8oYqyn5ke6Gz3Q4Bp'
  const good = { v: 1, key: Buffer.from(key).toString('base64'), fp: swarmKeyFingerprint(key), bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`], exp: Math.floor(Date.now() / 1000) + 3600 }
  const pf = passFile(ctx, PASS)
  const cases: Array<[string, string, RegExp]> = [
    ['inner version 7', JSON.stringify({ ...good, v: 7 }), /not version 1 as this node writes it/],
    ['an extra member', JSON.stringify({ ...good, extra: 'x' }), /members bootstrap, exp, extra, fp, key, v/],
    ['exp 1e400 (Infinity: never expires)', JSON.stringify(good).replace(/"exp":\d+/, '"exp":1e400'), /lacks a valid key, bootstrap list, fingerprint or expiry/],
    ['a QUIC bootstrap address', JSON.stringify({ ...good, bootstrap: [`/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${peer}`] }), /quic-v1 connections would not carry the swarm key/],
    ['a bootstrap address without /p2p/', JSON.stringify({ ...good, bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }), /must end with \/p2p\/<PeerId>/]
  ]
  for (const [name, content, message] of cases) {
    const home = ctx.tmp('sov-home-')
    const r = await sov(home, ['join', forgeInvite(content, PASS), '--passphrase-file', pf])
    assert.is(r.code, 2, `${name}: ${r.stderr}`)
    assert.ok(r.stderr.startsWith('error[INVITE_INVALID]'), `${name}: ${r.stderr}`)
    assert.match(r.stderr, message, name)
    assert.equal(readdirSync(home), [], `${name}: nothing written`)
  }
  const ok = ctx.tmp('sov-home-')
  const joined = await sov(ok, ['join', forgeInvite(good, PASS), '--passphrase-file', pf, '--json'])
  assert.is(joined.code, 0, `the same forger's well-formed invite is taken: ${joined.stderr}`)
  try {
    await sealInvite({ key, bootstrap: ['/ip4/127.0.0.1/tcp/4001'], expires: good.exp, fingerprint: good.fp }, PASS, { opslimit: 1, memlimitBytes: 8 * 2 ** 20 })
    assert.unreachable('sealed an address without /p2p/')
  } catch (err) {
    assert.match((err as Error).message, /Cannot seal the invite: bootstrap address "\/ip4\/127.0.0.1\/tcp\/4001" must end with \/p2p\/<PeerId>/)
  }
})

test('bootstrap and relay.use take only addresses a member can be dialled at, everywhere they come in: init, config set, bootstrap add', async ctx => {
  const peer = '12D3KooWEAH2Zg5F7hwM4z1HxrFpSpZqcBv8oYqyn5ke6Gz3Q4Bp'
  const home = ctx.tmp('sov-home-')
  const quic = `/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${peer}`
  const bare = '/ip4/127.0.0.1/tcp/4001'
  for (const [args, message] of [
    [['init', '--bootstrap', quic], /quic-v1 connections would not carry the swarm key/],
    [['init', '--bootstrap', bare], /must end with \/p2p\/<PeerId>/]
  ] as Array<[string[], RegExp]>) {
    const r = await sov(home, args)
    assert.is(r.code, 2, r.stderr)
    assert.match(r.stderr, message)
    assert.equal(readdirSync(home), [], 'a refused init creates nothing')
  }
  assert.is((await sov(home, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])).code, 0)
  const before = readFileSync(join(home, 'config.json'), 'utf8')
  for (const [args, message] of [
    [['bootstrap', 'add', quic], /quic-v1 connections would not carry the swarm key/],
    [['bootstrap', 'add', bare], /must end with \/p2p\/<PeerId>/],
    [['config', 'set', 'bootstrap', JSON.stringify([bare])], /must end with \/p2p\/<PeerId>/],
    [['config', 'set', 'relay.use', JSON.stringify([quic])], /quic-v1 connections would not carry the swarm key|relay\.use/]
  ] as Array<[string[], RegExp]>) {
    const r = await sov(home, args)
    assert.ok(r.code !== 0, `${args.join(' ')} was taken`)
    assert.match(r.stderr, message, args.join(' '))
  }
  assert.is(readFileSync(join(home, 'config.json'), 'utf8'), before, 'nothing written')
  assert.is((await sov(home, ['bootstrap', 'add', `/ip4/127.0.0.1/tcp/4001/p2p/${peer}`])).code, 0)
})

test.run()
