/**
 * `sov demo`: the whole product end to end on loopback, in temporary homes, through the same
 * `sov` commands a person would type: three daemons, an invite joining the second and third,
 * grants, A2A messages both ways, audit verification, and a licence paid and verified on the
 * devnet. Every step is timed; every process and file is removed at the end — also on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SovError, isErrorCode, unavailable } from '../protocol/index.js'

const SOV = fileURLToPath(new URL('./main.js', import.meta.url))
/** Deadline of one `sov` command inside the demo. */
const STEP_TIMEOUT_MS = 60_000
const PASSPHRASE = 'amber falcon tide copper lantern'
const MACHINE_ID = 'sov-demo-machine'
const LICENCE_SATS = 50_000

export interface DemoStep { step: string, ms: number, detail: string }
export interface DemoResult { ok: boolean, root: string, steps: DemoStep[], totalMs: number, cleanedUp: boolean }

interface Run { code: number, stdout: string, stderr: string, json: any }

class Demo {
  readonly root = mkdtempSync(join(tmpdir(), 'sov-demo-'))
  readonly steps: DemoStep[] = []
  private readonly running = new Set<ChildProcess>()
  private readonly homes: string[] = []
  private devnetHome?: string
  private readonly log: (line: string) => void

  constructor (log: (line: string) => void) { this.log = log }

  home (name: string): string {
    const h = join(this.root, name)
    this.homes.push(h)
    return h
  }

  /** Runs `sov --home HOME args…`; a non-zero exit is an error carrying sov's own message. */
  async sov (home: string, args: string[], allowFail = false): Promise<Run> {
    const child = spawn(process.execPath, [SOV, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.running.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS)
    const code = await new Promise<number>(resolve => child.once('close', c => { resolve(c ?? 1) }))
    clearTimeout(timer)
    this.running.delete(child)
    let json: any
    try { json = JSON.parse(stdout) } catch { json = undefined }
    if (code !== 0 && !allowFail) {
      let err: { code?: string, message?: string } | undefined
      try { err = JSON.parse(stderr).error } catch {}
      throw new SovError(isErrorCode(err?.code) ? err.code : 'INTERNAL', `\`sov ${args.join(' ')}\` failed: ${err?.message ?? stderr.trim()}`)
    }
    return { code, stdout, stderr, json }
  }

  async step<T> (name: string, fn: () => Promise<{ detail: string, value?: T }>): Promise<T | undefined> {
    const t = performance.now()
    const { detail, value } = await fn()
    const ms = Math.round(performance.now() - t)
    this.steps.push({ step: name, ms, detail })
    this.log(`✓ ${name.padEnd(44)} ${String(ms).padStart(6)} ms  ${detail}`)
    return value
  }

  async startDaemon (home: string): Promise<{ peerId: string, addr: string }> {
    const s = (await this.sov(home, ['node', 'start', '--json'])).json
    const addr = (s.addrs as string[]).find(a => a.startsWith('/ip4/127.')) ?? s.addrs[0]
    return { peerId: s.peerId, addr: addr.includes('/p2p/') ? addr : `${addr}/p2p/${s.peerId as string}` }
  }

  useDevnet (home: string): void { this.devnetHome = home }

  /** Stops daemons and the devnet through their own commands, then removes every file. */
  async cleanup (): Promise<boolean> {
    for (const child of this.running) child.kill('SIGKILL')
    const stops = this.homes.map(async h => await this.sov(h, ['node', 'stop'], true).catch(() => undefined))
    if (this.devnetHome !== undefined) stops.push(this.sov(this.devnetHome, ['devnet', 'stop'], true).catch(() => undefined))
    await Promise.all(stops)
    rmSync(this.root, { recursive: true, force: true })
    return true
  }
}

async function waitUntil (check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms
  while (!await check()) {
    if (Date.now() > until) throw unavailable(`Cannot finish the demo: ${what} did not happen within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

export async function runDemo (log: (line: string) => void = line => { process.stdout.write(line + '\n') }): Promise<DemoResult> {
  const demo = new Demo(log)
  log(`Working in ${demo.root} (removed at the end)`)
  const started = performance.now()
  let interrupted = false
  const onSignal = (): void => { interrupted = true; log('Interrupted; cleaning up…') }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let failure: unknown
  try {
    await runSteps(demo, () => interrupted)
  } catch (err) {
    failure = err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  const cleanedUp = await demo.cleanup()
  log(`✓ ${'cleaned up every process and file'.padEnd(44)}`)
  if (interrupted) throw unavailable('Cannot finish the demo: interrupted (everything it started was stopped and removed)')
  if (failure !== undefined) throw failure
  return { ok: true, root: demo.root, steps: demo.steps, totalMs: Math.round(performance.now() - started), cleanedUp }
}

async function runSteps (demo: Demo, interrupted: () => boolean): Promise<void> {
  const check = (): void => { if (interrupted()) throw unavailable('interrupted') }
  const [ha, hb, hc] = [demo.home('a'), demo.home('b'), demo.home('c')]
  const passFile = join(demo.root, 'passphrase')
  writeFileSync(passFile, PASSPHRASE + '\n', { mode: 0o600 })
  const loopback0 = ['--listen', '/ip4/127.0.0.1/tcp/0']

  const a = (await demo.step('start node A with a new swarm key', async () => {
    const init = (await demo.sov(ha, ['init', ...loopback0, '--json'])).json
    const node = await demo.startDaemon(ha)
    return { detail: `${node.peerId.slice(0, 16)}… mesh ${init.fingerprint as string}`, value: node }
  }))!
  check()
  const invite = (await demo.step('make a sealed invite on A', async () => {
    const r = (await demo.sov(ha, ['swarm-key', 'invite', '--passphrase-file', passFile, '--expires', '10m', '--json'])).json
    return { detail: `${(r.invite as string).length} characters, expires ${r.expires as string}`, value: r.invite as string }
  }))!
  check()
  const [b, c] = (await demo.step('join B and C with the invite, start them', async () => {
    const nodes = await Promise.all([hb, hc].map(async h => {
      await demo.sov(h, ['join', invite, '--passphrase-file', passFile, '--json'])
      await demo.sov(h, ['init', ...loopback0])
      return await demo.startDaemon(h)
    }))
    await waitUntil(async () => (await demo.sov(ha, ['status', '--json'])).json.peers >= 2, 20_000, 'A seeing B and C')
    return { detail: `B ${nodes[0].peerId.slice(0, 12)}…, C ${nodes[1].peerId.slice(0, 12)}…; A sees both`, value: nodes }
  }))!
  check()
  await demo.step('grant /a2a/send: A → B:inbox, B → C:inbox', async () => {
    await demo.sov(hb, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'inbox', '--expires', '1h', '--json'])
    await demo.sov(hc, ['cap', 'grant', b.peerId, '/a2a/send', '--mailbox', 'inbox', '--expires', '1h', '--json'])
    return { detail: 'grants signed by the receiving nodes' }
  })
  check()
  await demo.step('send A → B and B → C; receive and ack', async () => {
    const sent1 = (await demo.sov(ha, ['a2a', 'send', b.peerId, 'inbox', 'hello B, this is A', '--json'])).json.id as string
    const sent2 = (await demo.sov(hb, ['a2a', 'send', c.peerId, 'inbox', '--data', '{"task":"build","ref":"main"}', '--json'])).json.id as string
    for (const [home, id] of [[hb, sent1], [hc, sent2]] as const) {
      const got = (await demo.sov(home, ['a2a', 'receive', 'inbox', '--wait', '15s', '--json'])).json as Array<{ id: string, lease: string }>
      const mine = got.find(m => m.id === id)
      if (mine === undefined) throw unavailable(`Cannot finish the demo: message ${id} did not arrive`)
      await demo.sov(home, ['a2a', 'ack', 'inbox', mine.lease])
    }
    await waitUntil(async () => ((await demo.sov(ha, ['a2a', 'outbox', '--json'])).json as any[]).every(m => m.status === 'delivered'), 10_000, 'A\'s outbox to show delivered')
    return { detail: 'both delivered, received and acknowledged' }
  })
  check()
  await demo.step('a message without a grant is refused (C → A)', async () => {
    const id = (await demo.sov(hc, ['a2a', 'send', a.peerId, 'inbox', 'no grant for this', '--json'])).json.id as string
    let reason = ''
    await waitUntil(async () => {
      const m = ((await demo.sov(hc, ['a2a', 'outbox', '--json'])).json as any[]).find(x => x.id === id)
      reason = m?.reason ?? ''
      return m?.status === 'failed'
    }, 15_000, 'the refusal')
    return { detail: `failed: ${reason}` }
  })
  check()
  await demo.step('verify the three audit logs', async () => {
    const rows = await Promise.all([ha, hb, hc].map(async h => (await demo.sov(h, ['audit', 'verify', '--json'])).json.rows as number))
    return { detail: `chains intact: ${rows.join(', ')} rows` }
  })
  check()
  await demo.step('pay and verify a licence on the devnet', async () => {
    demo.useDevnet(ha)
    const net = (await demo.sov(ha, ['devnet', 'start', '--json'])).json
    const pay = (await demo.sov(ha, ['devnet', 'pay', '--to', net.vendorAddress, '--sats', String(LICENCE_SATS), '--machine-id', MACHINE_ID, '--confirmations', '2', '--json'])).json
    const verdict = (await demo.sov(ha, ['licence', 'verify', '--txid', pay.txid, '--vendor', net.vendorAddress, '--sats', String(LICENCE_SATS),
      '--network', 'regtest', '--electrum', net.ssl, '--electrum-ca', net.caFile, '--machine-id', MACHINE_ID, '--height', String(pay.height), '--json'])).json
    if (verdict.status !== 'valid') throw unavailable(`Cannot finish the demo: the licence is ${verdict.status as string}`)
    return { detail: `valid: ${(verdict.checks as unknown[]).length} checks over TLS with SPV proofs` }
  })
}
