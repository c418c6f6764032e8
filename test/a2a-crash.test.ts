// Crash safety between real daemons: 2,000 messages while the receiver and the sender are each
// SIGKILLed five times at random moments and restarted on the same home and port. In the end
// every message is delivered and acked exactly once: none lost, none doubled.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IpcClient } from '../cli/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { runDaemonIn, type DaemonHandle } from './kit/daemon.js'
import { freePort, grantSend, startA2ADaemon, textMessage } from './kit/a2a.js'

const test = kitSuite('a2a-crash')
const MESSAGES = 2000
const CHUNK = 100
const KILLS_EACH = 5
const LEASE_MS = 5000

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** An IPC client that reconnects and repeats a request while its daemon is down or restarting. */
class Resilient {
  private client?: IpcClient
  failures = 0
  /** Whether the last call had to be repeated (its first attempt may have taken effect). */
  retried = false
  constructor (private readonly home: string, private readonly deadline: number, private readonly signal?: AbortSignal) {}

  async call (type: any, params: any, timeoutMs = 10_000): Promise<any> {
    this.retried = false
    for (;;) {
      if (this.signal?.aborted === true) throw new Error('test over')
      try {
        this.client ??= await IpcClient.open(this.home)
        return await this.client.request(type, params, timeoutMs)
      } catch (err: any) {
        if (!['UNAVAILABLE', 'TIMEOUT'].includes(err?.code)) throw err
        this.failures++
        this.retried = true
        this.client?.close()
        this.client = undefined
        if (Date.now() > this.deadline) throw err
        await sleep(100)
      }
    }
  }

  close (): void { this.client?.close() }
}

test('2,000 messages, receiver and sender SIGKILLed 5 times each: all delivered, each acked once, none doubled', async ctx => {
  const deadline = Date.now() + 100_000
  const aPort = await freePort()
  let a: DaemonHandle = await startA2ADaemon(ctx, { port: aPort })
  let b: DaemonHandle = await startA2ADaemon(ctx, { swarmKeyFile: join(a.home, 'swarm.key'), bootstrap: [a.addr] })
  await grantSend(b.home, a.peerId, 'crash')
  // Ends the background loops if the test fails, before the daemons are stopped.
  const over = new AbortController()
  const producer = new Resilient(a.home, deadline, over.signal)
  const consumer = new Resilient(b.home, deadline, over.signal)
  ctx.defer(() => { producer.close(); consumer.close() })

  const messages = Array.from({ length: MESSAGES }, (_, i) => textMessage(`crash ${i}`, { metadata: { i } }))
  const envelopeOf = new Map<string, string>() // messageId → envelope id, from send
  let sending = true

  const kills: string[] = []
  // The producer keeps pace with the killer, so both daemons die while there is work in flight (a
  // producer done before the first kill of A made the "both clients saw their daemon die" check a
  // coin toss in CI).
  const chunks = MESSAGES / CHUNK
  const afterKills = async (n: number): Promise<void> => {
    while (kills.length < n && !over.signal.aborted) await sleep(50)
  }
  const produce = async (): Promise<void> => {
    for (let c = 0; c < chunks && !over.signal.aborted; c++) {
      await afterKills(Math.floor(c * 2 * KILLS_EACH / chunks))
      const chunk = messages.slice(c * CHUNK, (c + 1) * CHUNK)
      await Promise.all(Array.from({ length: 20 }, async (_, w) => {
        for (let i = w; i < chunk.length; i += 20) {
          const m = chunk[i]
          const r = await producer.call('a2a.send', { peer: b.peerId, mailbox: 'crash', message: m, ttlMs: 120_000 })
          const known = envelopeOf.get(m.messageId)
          assert.ok(known === undefined || known === r.id, 'a repeated send returns the first envelope id')
          envelopeOf.set(m.messageId, r.id)
        }
      }))
      await sleep(200)
    }
    sending = false
  }

  // messageId → envelope ids seen; confirmed acks; acks whose answer was lost in a crash.
  const envelopesSeen = new Map<string, Set<string>>()
  const leaseUntil = new Map<string, number>()
  const confirmed = new Map<string, number>()
  const inDoubt = new Set<string>()
  let redeliveredAfterLease = 0
  const consume = async (): Promise<void> => {
    while (confirmed.size + inDoubt.size < MESSAGES || sending) {
      if (Date.now() > deadline) throw new Error(`consumer gave up at ${confirmed.size}+${inDoubt.size}`)
      const msgs = await consumer.call('a2a.receive', { mailbox: 'crash', leaseMs: LEASE_MS, max: 200, waitMs: 500 }) as any[]
      const now = Date.now()
      for (const m of msgs) {
        const mid = m.message.messageId
        const set = envelopesSeen.get(mid) ?? new Set<string>()
        set.add(m.id)
        envelopesSeen.set(mid, set)
        const prev = leaseUntil.get(m.id)
        if (prev !== undefined) {
          assert.ok(now >= prev, `envelope ${m.id} handed out again before its lease ran out`)
          redeliveredAfterLease++
        }
        leaseUntil.set(m.id, m.leaseUntil)
      }
      if (msgs.length === 0) continue
      const leases = msgs.map(m => m.lease as string)
      const byId = new Map(msgs.map(m => [m.lease, m.message.messageId as string]))
      const { acked, missing } = await consumer.call('a2a.ack', { mailbox: 'crash', leases }, 5000) as { acked: string[], missing: string[] }
      const firstTry = !consumer.retried
      const leaseLeft = Math.min(...msgs.map(m => m.leaseUntil)) - Date.now()
      for (const id of acked) confirmed.set(byId.get(id)!, (confirmed.get(byId.get(id)!) ?? 0) + 1)
      // On a repeated ack, "missing" means the lost attempt had already deleted it.
      for (const id of missing) if (!firstTry) inDoubt.add(byId.get(id)!)
      if (firstTry && leaseLeft > 0) assert.equal(missing, [], 'a first ack inside the lease finds every message')
    }
  }

  const killer = async (): Promise<void> => {
    const order = [...Array(KILLS_EACH).fill('a'), ...Array(KILLS_EACH).fill('b')].sort(() => Math.random() - 0.5)
    for (const who of order) {
      await sleep(300 + Math.random() * 1200)
      if (over.signal.aborted) return
      const victim = who === 'a' ? a : b
      await victim.kill()
      kills.push(who)
      if (who === 'a') a = await runDaemonIn(ctx, a.home)
      else b = await runDaemonIn(ctx, b.home)
    }
  }

  const tasks = [produce(), consume(), killer()]
  try {
    await withDeadline(Promise.all(tasks), 110_000, 'the crash run')
  } catch (err) {
    over.abort()
    await Promise.allSettled(tasks)
    throw err
  }
  assert.is(kills.length, 2 * KILLS_EACH)
  assert.ok(producer.failures > 0 && consumer.failures > 0, 'both clients saw their daemon die')

  // Every message arrived, under exactly one envelope, and was acked once.
  assert.is(envelopesSeen.size, MESSAGES, 'none lost')
  for (const m of messages) {
    const seen = envelopesSeen.get(m.messageId)
    assert.ok(seen !== undefined && seen.size === 1, `${m.messageId} arrived under ${seen?.size ?? 0} envelopes`)
    assert.is([...seen][0], envelopeOf.get(m.messageId))
    const n = confirmed.get(m.messageId) ?? 0
    assert.ok(n === 1 || (n === 0 && inDoubt.has(m.messageId)), `${m.messageId} acked ${n} times`)
  }
  const final = new Resilient(b.home, Date.now() + 20_000)
  ctx.defer(() => { final.close() })
  assert.equal(await final.call('a2a.mailboxes', {}), [], 'nothing left in the inbox, nothing dead')
  const sender = new Resilient(a.home, Date.now() + 20_000)
  ctx.defer(() => { sender.close() })
  await waitFor(async () => (await sender.call('a2a.outbox', { status: 'delivered' })).length === MESSAGES, 15_000, 'the outbox to show all delivered')
  // Every acceptance is one audit row on B, though B died between commits and audit writes.
  const { rows: accepted, recovered } = acceptanceRows(b.home)
  for (const m of messages) {
    const id = envelopeOf.get(m.messageId)!
    assert.is(accepted.get(id), 1, `envelope ${id} has ${accepted.get(id) ?? 0} A2A_ACCEPTED rows`)
  }
  console.log(`  kills ${kills.join('')}; acks in doubt ${inDoubt.size}; redelivered after lease ${redeliveredAfterLease}; acceptance rows recovered at start ${recovered}`)
})

/** A2A_ACCEPTED rows per envelope id in `home`'s audit log, and how many were recovered at a start. */
function acceptanceRows (home: string): { rows: Map<string, number>, recovered: number } {
  const rows = new Map<string, number>()
  let recovered = 0
  for (const line of readFileSync(join(home, 'audit', 'events.jsonl'), 'utf8').split('\n')) {
    if (!line.includes('"A2A_ACCEPTED"')) continue
    const r = JSON.parse(line)
    rows.set(r.detail.id, (rows.get(r.detail.id) ?? 0) + 1)
    if (r.detail.recovered === true) recovered++
  }
  return { rows, recovered }
}

test('the receiver SIGKILLed in a burst: once it is back, every envelope it accepted has exactly one A2A_ACCEPTED row (the ones the crash lost are recorded at start, marked recovered; helper finding, stop 29)', async ctx => {
  const port = await freePort()
  const b = await startA2ADaemon(ctx, { port })
  const a = await startA2ADaemon(ctx, { swarmKeyFile: join(b.home, 'swarm.key'), bootstrap: [b.addr] })
  await grantSend(b.home, a.peerId, 'burst')
  const c = await IpcClient.open(a.home)
  ctx.defer(() => { c.close() })
  const BURST = 4000
  const ids: string[] = []
  let next = 0
  const sending = Promise.all(Array.from({ length: 32 }, async () => {
    while (next < BURST) {
      const i = next++
      ids.push(((await c.request('a2a.send', { peer: b.peerId, mailbox: 'burst', message: textMessage(`burst-${i}`) })) as any).id)
    }
  }))
  // Killed while acceptances flow: some are committed and answered, their rows not yet on disk.
  await waitFor(() => acceptanceRows(b.home).rows.size > 300, 30_000, 'acceptances flowing')
  await b.kill()
  await withDeadline(sending, 60_000, 'the sends (into A\'s outbox)')
  await runDaemonIn(ctx, b.home)
  await waitFor(async () => ((await c.request('a2a.outbox', { status: 'delivered', limit: BURST })) as any[]).length === BURST, 60_000, 'all delivered')
  const { rows, recovered } = acceptanceRows(b.home)
  for (const id of ids) assert.is(rows.get(id), 1, `envelope ${id} has ${rows.get(id) ?? 0} A2A_ACCEPTED rows`)
  console.log(`  acceptance rows recovered at start: ${recovered}`)
})

test.run()
