/**
 * Control-plane benchmarks: `cli.status` (wall time of `sov status` against `node -e 0`) and
 * `ipc.rr` (status requests/s over one IPC connection against a bare Unix-socket echo of the
 * same frames, both served by their own process).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IpcClient } from '../cli/index.js'
import { FrameDecoder, encodeFrame } from '../protocol/index.js'
import { median, row, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const RUNS = 9
const RR_REQUESTS = 3000

function wallMs (args: string[], env?: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' })
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`)
  return Number(process.hrtime.bigint() - t) / 1e6
}

async function waitForStatus (home: string): Promise<IpcClient> {
  for (let i = 0; i < 300; i++) {
    try { return await IpcClient.open(home) } catch { await new Promise(resolve => setTimeout(resolve, 100)) }
  }
  throw new Error('daemon did not start')
}

const ECHO = `
const net = require('node:net'); const fs = require('node:fs');
const path = process.argv[1]; try { fs.rmSync(path) } catch {}
net.createServer(s => { let buf = Buffer.alloc(0); s.on('data', d => { buf = Buffer.concat([buf, d]);
  while (buf.length >= 4) { const n = buf.readUInt32BE(0); if (buf.length < 4 + n) break;
    const body = JSON.parse(buf.subarray(4, 4 + n)); buf = buf.subarray(4 + n);
    const out = Buffer.from(JSON.stringify(body)); const h = Buffer.alloc(4); h.writeUInt32BE(out.length); s.write(Buffer.concat([h, out])) } }) })
  .listen(path, () => process.stdout.write('ready\\n'))`

async function rr (send: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await send(i)
  const t = process.hrtime.bigint()
  for (let i = 0; i < RR_REQUESTS; i++) await send(i)
  return RR_REQUESTS / (Number(process.hrtime.bigint() - t) / 1e9)
}

export async function run (): Promise<BenchResult[]> {
  const home = mkdtempSync(join(tmpdir(), 'sov-bench-'))
  const env = { ...process.env, SOV_HOME: home }
  spawnSync(process.execPath, [SOV, 'init', '--listen', '/ip4/127.0.0.1/tcp/0'], { env, stdio: 'ignore' })
  const daemon = spawn(process.execPath, [SOV, 'node', 'start', '--foreground'], { env, stdio: 'ignore' })
  const echoPath = join(home, 'echo.sock')
  const echo = spawn(process.execPath, ['-e', ECHO, echoPath], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const client = await waitForStatus(home)
    await new Promise(resolve => echo.stdout.once('data', resolve))

    const statusMs: number[] = []
    const nodeMs: number[] = []
    for (let i = 0; i < RUNS; i++) {
      nodeMs.push(wallMs(['-e', '0']))
      statusMs.push(wallMs([SOV, 'status', '--json'], env))
    }

    const sample = await client.request('status', {})
    const { connect } = await import('node:net')
    const sock = connect(echoPath)
    await new Promise(resolve => sock.once('connect', resolve))
    const decoder = new FrameDecoder()
    let waiter: (() => void) | undefined
    sock.on('data', d => { if (decoder.push(d).length > 0) waiter?.() })
    const echoOnce = async (i: number): Promise<void> => {
      await new Promise<void>(resolve => { waiter = resolve; sock.write(encodeFrame({ id: i, ok: true, result: sample })) })
    }
    const ipcRates: number[] = []
    const echoRates: number[] = []
    for (let r = 0; r < 3; r++) {
      echoRates.push(await rr(echoOnce))
      ipcRates.push(await rr(async () => await client.request('status', {})))
    }
    sock.destroy()
    client.close()
    const cli = median(statusMs)
    const base = median(nodeMs)
    return [
      row('cli.status', cli, 'ms', base, `wall time of \`sov status\` vs \`node -e 0\` (target ≤ 2×), median of ${RUNS}`),
      row('ipc.rr', median(ipcRates), 'req/s', median(echoRates), 'status over one IPC connection vs bare Unix-socket echo of the same frames (target ≥ 0.5×)')
    ]
  } finally {
    daemon.kill('SIGTERM')
    echo.kill('SIGTERM')
    await new Promise(resolve => daemon.once('exit', resolve))
    rmSync(home, { recursive: true, force: true })
  }
}
