/**
 * Private A2A (issue 11), side by side in one run: the `@a2a-js/sdk` client calling an SDK echo
 * agent **through both nodes** (A's local endpoint → mesh → B → agent; two daemon processes,
 * default durability) against the same client calling the same agent **directly** over loopback.
 * - `a2a.http.throughput`: blocking SendMessage calls/s, `CONCURRENCY` in flight, median of
 *   `ROUNDS` rounds, direct and through the nodes alternating. Target ≥ 0.5×.
 * - `a2a.http.latency.p50`: one blocking SendMessage at a time, a direct call and a call through
 *   the nodes alternating, so both see the same noise. Target ≤ direct p50 + 3 ms.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { AgentCard, Message, TaskState } from '@a2a-js/sdk'
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor } from '@a2a-js/sdk/server'
import { UserBuilder, agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express'
import { ClientFactory, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { median, percentile, processCpuMs, row, startDaemon, type BenchResult } from './kit.js'

const SOV = new URL('../cli/main.js', import.meta.url).pathname
const CALLS = 400
const ROUNDS = 3
const CONCURRENCY = 16
const LATENCY_N = 150
const WARMUP = 30

function sovSync (home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [SOV, '--home', home, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`sov ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

/** As sovSync, without blocking this process (the agent it calls lives here). */
async function sovAsync (home: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [SOV, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { err += d })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  if (code !== 0) throw new Error(`sov ${args.join(' ')} exited ${code}: ${err}`)
  return out
}

/** An SDK echo agent: the task, then COMPLETED with the text echoed as the status message. */
async function startAgent (): Promise<{ url: string, server: Server }> {
  const executor: AgentExecutor = {
    execute: async (rc, bus) => {
      const { taskId, contextId } = rc
      bus.publish(AgentEvent.task({ id: taskId, contextId, status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() }, history: [rc.userMessage], artifacts: [], metadata: undefined }))
      const reply = Message.fromJSON({ messageId: `r-${taskId}`, role: 'ROLE_AGENT', taskId, contextId, parts: [{ text: 'ok' }] })
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_COMPLETED, message: reply, timestamp: new Date().toISOString() }, metadata: undefined }))
      bus.finished()
    },
    cancelTask: async () => {}
  }
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const card = AgentCard.fromJSON({
    name: 'echo', description: 'bench echo', version: '1.0.0',
    supportedInterfaces: [{ url: `${url}/`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
    capabilities: { streaming: true }, defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain']
  })
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor)
  const app = express()
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: async () => card }))
  app.use('/', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }))
  server.on('request', app)
  return { url, server }
}

async function client (base: string, token?: string): Promise<Client> {
  const f: typeof fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers)
    if (token !== undefined) headers.set('Authorization', `Bearer ${token}`)
    return await fetch(input, { ...init, headers })
  }
  return await new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: f })], cardResolver: new DefaultAgentCardResolver({ fetchImpl: f }) }).createFromUrl(`${base}/`)
}

let n = 0
async function call (c: Client): Promise<void> {
  const r = await c.sendMessage({ tenant: '', message: Message.fromJSON({ messageId: `b-${process.pid}-${++n}`, role: 'ROLE_USER', parts: [{ text: 'x' }] }), configuration: undefined, metadata: undefined })
  if (!('status' in r) || r.status?.state !== TaskState.TASK_STATE_COMPLETED) throw new Error(`call did not complete: ${JSON.stringify(r)}`)
}

async function throughput (c: Client, calls: number): Promise<number> {
  let next = 0
  const t = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next++ < calls) await call(c) }))
  return calls / ((performance.now() - t) / 1000)
}

async function timed (c: Client): Promise<number> {
  const t = performance.now()
  await call(c)
  return performance.now() - t
}

export async function run (): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'sov-bench-a2a-http-'))
  const [homeA, homeB] = [join(root, 'a'), join(root, 'b')]
  const children: ChildProcess[] = []
  const agent = await startAgent()
  try {
    sovSync(homeB, ['init', '--listen', '/ip4/127.0.0.1/tcp/0'])
    const cfgB = join(homeB, 'config.json')
    writeFileSync(cfgB, JSON.stringify({ ...JSON.parse(readFileSync(cfgB, 'utf8')), a2a: { http: { listen: 0 } } }))
    const b = await startDaemon(homeB)
    children.push(b.child)
    sovSync(homeA, ['init', '--listen', '/ip4/127.0.0.1/tcp/0', '--swarm-key', join(homeB, 'swarm.key'), '--bootstrap', b.addr])
    const cfgA = join(homeA, 'config.json')
    writeFileSync(cfgA, JSON.stringify({ ...JSON.parse(readFileSync(cfgA, 'utf8')), a2a: { http: { listen: '127.0.0.1:0' } } }))
    const a = await startDaemon(homeA)
    children.push(a.child)
    await sovAsync(homeB, ['agent', 'add', 'echo', '--url', agent.url])
    sovSync(homeB, ['cap', 'grant', a.peerId, '/a2a/send', '--mailbox', 'echo'])
    const token = JSON.parse(sovSync(homeA, ['agent-token', 'issue', 'bench', '--scope', '/a2a/post', '--json'])).token
    const http = JSON.parse(sovSync(homeA, ['status', '--json'])).a2aHttp
    const viaNodes = await client(`${http}/peers/${b.peerId}/agents/echo`, token)
    const direct = await client(agent.url)

    for (let i = 0; i < WARMUP; i++) { await call(direct); await call(viaNodes) }
    const directRates: number[] = []
    const nodesRates: number[] = []
    // CPU of each process while calls go through the nodes: shows whether a figure is bound by
    // work (a process near one core) or by waiting (issue 15 §2).
    const cpu = { a: 0, b: 0, bench: 0, ms: 0 }
    for (let r = 0; r < ROUNDS; r++) {
      directRates.push(await throughput(direct, CALLS))
      const [a0, b0, own0, t0] = [processCpuMs(a.child.pid!), processCpuMs(b.child.pid!), process.cpuUsage(), performance.now()]
      nodesRates.push(await throughput(viaNodes, CALLS))
      const own = process.cpuUsage(own0)
      cpu.a += processCpuMs(a.child.pid!) - a0
      cpu.b += processCpuMs(b.child.pid!) - b0
      cpu.bench += (own.user + own.system) / 1000
      cpu.ms += performance.now() - t0
    }
    const share = (ms: number): string => `${Math.round(100 * ms / cpu.ms)} %`
    const perCall = (ms: number): string => (ms / (ROUNDS * CALLS)).toFixed(2)
    const [directRate, nodesRate] = [median(directRates), median(nodesRates)]
    const directMs: number[] = []
    const nodesMs: number[] = []
    for (let i = 0; i < LATENCY_N; i++) {
      directMs.push(await timed(direct))
      nodesMs.push(await timed(viaNodes))
    }
    const dp50 = percentile(directMs, 50)
    const np50 = percentile(nodesMs, 50)
    return [
      row('a2a.http.throughput', nodesRate, 'calls/s', directRate, `SDK client → A → mesh → B → SDK agent, ${CONCURRENCY} in flight, blocking SendMessage, median of ${ROUNDS}×${CALLS} alternating; baseline: the same client calling the agent directly; CPU per call through the nodes: A ${perCall(cpu.a)} ms, B ${perCall(cpu.b)} ms, client and agent ${perCall(cpu.bench)} ms (of one core: A ${share(cpu.a)}, B ${share(cpu.b)}, client and agent ${share(cpu.bench)}). Target ≥ 0.5×`),
      row('a2a.http.latency.p50', np50, 'ms', dp50, `one call at a time, n=${LATENCY_N}, alternating with a direct call; baseline: direct p50. Target ≤ baseline + 3 ms; p99 ${percentile(nodesMs, 99).toFixed(1)} ms vs ${percentile(directMs, 99).toFixed(1)} ms`)
    ]
  } finally {
    for (const c of children.reverse()) {
      c.kill('SIGTERM')
      await new Promise(resolve => { if (c.exitCode !== null) resolve(null); else c.once('exit', resolve) })
    }
    agent.server.closeAllConnections()
    agent.server.close()
    rmSync(root, { recursive: true, force: true })
  }
}
