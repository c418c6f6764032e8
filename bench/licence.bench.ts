/**
 * Licence benchmark: `licence.verify` — one verification on a warm connection (verifyLicence
 * with a connected ElectrumClient: fetch, parse, every check) against the bare round trips it
 * needs: the same requests written raw on a plain socket, in the same two dependent stages
 * (tip + transaction + history, then merkle branch + headers), each stage in one write, replies
 * only JSON-parsed.
 * The Electrum server is the devnet in its own process (`sov devnet run`), so its work is not
 * on the measuring process's event loop.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ElectrumClient, devnetRequest, electrumScripthash, outputScriptFor, verifyLicence, type LicenceTerms
} from '../finance/index.js'
import { median, row, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const WARMUP = 200
/** Ops of each kind, alternated one by one so load drift on a shared machine hits both alike. */
const OPS = 2000
const CONFIRMATIONS = 6

/** The smallest client that still matches replies to requests: write lines, wait for ids. */
class RawLines {
  private buf = ''
  private readonly waiting = new Map<number, (v: unknown) => void>()
  private nextId = 1
  constructor (private readonly socket: Socket) {
    socket.setEncoding('utf8')
    socket.setNoDelay(true)
    socket.on('data', (d: string) => {
      this.buf += d
      let nl: number
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const msg = JSON.parse(this.buf.slice(0, nl))
        this.buf = this.buf.slice(nl + 1)
        for (const m of Array.isArray(msg) ? msg : [msg]) { this.waiting.get(m.id)?.(m.result); this.waiting.delete(m.id) }
      }
    })
  }

  close (): void { this.socket.destroy() }

  /** Sends each group as one line (a batch when it has several calls), all lines in one write; resolves with every result. */
  async send (groups: Array<Array<[string, unknown[]]>>): Promise<unknown[]> {
    const all: Array<Promise<unknown>> = []
    let text = ''
    for (const g of groups) {
      const msgs = g.map(([method, params]) => {
        const id = this.nextId++
        all.push(new Promise(resolve => this.waiting.set(id, resolve)))
        return { jsonrpc: '2.0', id, method, params }
      })
      text += JSON.stringify(msgs.length === 1 ? msgs[0] : msgs) + '\n'
    }
    this.socket.write(text)
    return await Promise.all(all)
  }
}

function cpuSince (start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start)
  return d.user + d.system
}

async function timeOne (f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint()
  await f()
  return Number(process.hrtime.bigint() - t) / 1e3
}

export async function run (): Promise<BenchResult[]> {
  const home = mkdtempSync(join(tmpdir(), 'sov-bench-licence-'))
  const dir = join(home, 'devnet')
  const devnet = spawn(process.execPath, [SOV, '--home', home, 'devnet', 'run'], { stdio: 'ignore' })
  try {
    let state: any
    for (let i = 0; i < 300 && state === undefined; i++) {
      state = await devnetRequest(dir, { cmd: 'status' }, 1000).catch(async () => { await new Promise(resolve => setTimeout(resolve, 100)) })
    }
    if (state === undefined) throw new Error('the devnet did not start')
    const vendor = state.vendorAddress as string
    const pay = await devnetRequest(dir, { cmd: 'pay', to: vendor, sats: '50000', machineId: 'bench', confirmations: CONFIRMATIONS })
    const terms: LicenceTerms = { txid: pay.txid, vendorAddress: vendor, requiredSats: 50_000n, network: 'regtest', minConf: CONFIRMATIONS, machineId: 'bench' }

    const client = new ElectrumClient(state.tcp, { keepaliveMs: 0 })
    await client.connect()
    const ours = async (): Promise<void> => {
      const v = await verifyLicence(terms, [client])
      if (v.status !== 'valid') throw new Error(`verification failed: ${v.status}`)
    }

    const [host, port] = (state.tcp as string).slice('tcp://'.length).split(':')
    const socket = connect(Number(port), host)
    await new Promise(resolve => socket.once('connect', resolve))
    const raw = new RawLines(socket)
    await raw.send([[['server.version', ['bench', ['1.4', '1.6']]]]])
    const scripthash = electrumScripthash(outputScriptFor(vendor, 'regtest'))
    const height = pay.height as number
    const bare = async (): Promise<void> => {
      const [tip] = await raw.send([
        [['blockchain.headers.subscribe', []]],
        [['blockchain.transaction.get', [terms.txid, false]], ['blockchain.scripthash.get_history', [scripthash]]]
      ]) as Array<{ height: number }>
      await raw.send([
        [['blockchain.transaction.get_merkle', [terms.txid, height]]],
        [['blockchain.block.headers', [height, tip.height - height + 1]]]
      ])
    }

    // The same requests through ElectrumClient, without verification: splits the overhead
    // between the client and the checks.
    const fetchOnly = async (): Promise<void> => {
      const tipP = client.request<{ height: number }>('blockchain.headers.subscribe')
      await client.batch([['blockchain.transaction.get', [terms.txid, false]], ['blockchain.scripthash.get_history', [scripthash]]])
      const tip = await tipP
      await Promise.all([
        client.request('blockchain.transaction.get_merkle', [terms.txid, height]),
        client.request('blockchain.block.headers', [height, tip.height - height + 1])
      ])
    }

    for (let i = 0; i < WARMUP; i++) { await bare(); await ours(); await fetchOnly() }
    const oursUs: number[] = []
    const bareUs: number[] = []
    const fetchUs: number[] = []
    const cpu = { ours: 0, bare: 0 }
    for (let i = 0; i < OPS; i++) {
      let c = process.cpuUsage()
      bareUs.push(await timeOne(bare))
      cpu.bare += cpuSince(c)
      c = process.cpuUsage()
      oursUs.push(await timeOne(ours))
      cpu.ours += cpuSince(c)
      fetchUs.push(await timeOne(fetchOnly))
    }
    client.close()
    socket.destroy()
    const deep = await deepRows(dir, state.tcp, vendor)
    return [
      ...deep,
      row('licence.verify', median(oursUs), 'µs', median(bareUs),
        `one verification (${CONFIRMATIONS} headers) on a warm TCP connection vs the same Electrum requests raw in the same 2 stages; median of ${OPS}, alternated; client CPU ${Math.round(cpu.ours / OPS)} vs ${Math.round(cpu.bare / OPS)} µs/op (target ≤ 1.3×)`),
      row('licence.fetch', median(fetchUs), 'µs', median(bareUs),
        'the same requests through ElectrumClient without the checks, vs raw: the client\'s share of the overhead')
    ]
  } finally {
    devnet.kill('SIGTERM')
    await new Promise(resolve => devnet.once('exit', resolve))
    rmSync(home, { recursive: true, force: true })
  }
}

/** Rechecks timed; each follows one new block. */
const RECHECKS = 300
const DEPTH = 10_000

/**
 * `licence.recheck` and `licence.first-verify.bytes` (issue 13), on a payment 10,000 blocks deep
 * in the devnet process, linked by the chain's own checkpoints.
 */
async function deepRows (dir: string, tcp: string, vendor: string): Promise<BenchResult[]> {
  const pay = await devnetRequest(dir, { cmd: 'pay', to: vendor, sats: '50000', machineId: 'deep', confirmations: 1 })
  for (let left = DEPTH - 1; left > 0; left -= 1000) await devnetRequest(dir, { cmd: 'mine', blocks: Math.min(1000, left) })
  const checkpoints = await devnetRequest(dir, { cmd: 'checkpoints' }) as { interval: number, hashes: string[] }
  const { txid, height } = pay as { txid: string, height: number }
  const terms: LicenceTerms = { txid, vendorAddress: vendor, requiredSats: 50_000n, network: 'regtest', minConf: 1, machineId: 'deep', height }
  const client = new ElectrumClient(tcp, { keepaliveMs: 0 })
  const raw = new RawLines(await rawSocket(tcp))
  try {
    const first = await verifyLicence(terms, [client], { checkpoints })
    if (first.status !== 'valid') throw new Error(`first verification: ${first.status}`)
    const firstBytes = client.bytesIn
    const tip = first.tip!.height
    const lastCheckpoint = checkpoints.hashes.length * checkpoints.interval - 1
    const headersNeeded = (checkpoints.interval - height % checkpoints.interval) + (tip - lastCheckpoint)
    // The target: those headers as a server sends them (JSON strings of 160 hex digits).
    const targetBytes = headersNeeded * (160 + 3)
    let state = first.link
    await raw.send([[['server.version', ['bench', ['1.4', '1.6']]]]])
    const oursUs: number[] = []
    const bareUs: number[] = []
    let headers = 0
    for (let i = 0; i < RECHECKS; i++) {
      await devnetRequest(dir, { cmd: 'mine', blocks: 1 })
      // Whichever runs first after a block meets the server's cold caches: alternate.
      const bare = async (): Promise<void> => {
        const [t] = await raw.send([[['blockchain.headers.subscribe', []]], [['blockchain.transaction.get', [txid, false]], ['blockchain.transaction.get_merkle', [txid, height]]]]) as Array<{ height: number }>
        await raw.send([[['blockchain.block.headers', [t.height, 1]]]])
      }
      if (i % 2 === 1) bareUs.push(await timeOne(bare))
      oursUs.push(await timeOne(async () => {
        const v = await verifyLicence(terms, [client], { checkpoints, linkState: state })
        if (v.status !== 'valid') throw new Error(`recheck failed: ${v.status}`)
        headers = Math.max(headers, v.headersFetched)
        state = v.link
      }))
      // The same two stages raw: tip with transaction and branch, then the one new header.
      if (i % 2 === 0) bareUs.push(await timeOne(bare))
    }
    return [
      row('licence.recheck', median(oursUs), 'µs', median(bareUs), `recheck one block after a verification of a payment ${DEPTH} blocks deep, with the kept linkage, warm TCP, vs the raw round trips it needs (2 stages); at most ${headers} header(s) fetched; median of ${RECHECKS} (target ≤ 1.5×, ≤ 2 headers)`),
      row('licence.first-verify.bytes', firstBytes, 'B', targetBytes, `bytes received for a first verification of that payment with checkpoints (${first.headersFetched} headers), vs ${headersNeeded} headers as JSON: its period up to the checkpoint + those since the last (target ≈ 1×; the rest is the transaction and branch)`)
    ]
  } finally {
    client.close()
    raw.close()
  }
}

async function rawSocket (url: string): Promise<Socket> {
  const [host, port] = url.slice('tcp://'.length).split(':')
  const socket = connect(Number(port), host)
  await new Promise(resolve => socket.once('connect', resolve))
  return socket
}
