/**
 * A2A tasks across the mesh under one lifecycle (issue 11): `tasks.db`, the
 * `/sov/a2a-task/1.0.0` handler and caller, the forwarder to local agents, and the local HTTP
 * endpoint. Started after the mailboxes, stopped before them.
 */
import type { Libp2p, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import * as v from 'valibot'
import { A2A_TASK_PROTOCOL, MailboxNameSchema, badRequest, notFound, unavailable } from '../../protocol/index.js'
import type { AuditSink, Authorize } from '../types.js'
import { report } from '../types.js'
import { Forwarder } from './forward.js'
import { Gateway } from './gateway.js'
import { RemoteCalls } from './remote.js'
import { TaskServer } from './serve.js'
import { TaskDb } from './task-db.js'

/** Port of the local A2A endpoint when `a2a.http.listen` is not set (A2A has no registered port). */
export const DEFAULT_A2A_HTTP_PORT = 4011
/** Inbound `/sov/a2a-task/1.0.0` streams per connection. @default 64 */
export const MAX_TASK_STREAMS = 64
/** Time given to fetch an agent's card on `agent add`. @default 10 s */
export const CARD_FETCH_TIMEOUT_MS = 10_000

export interface TasksInit {
  node: Libp2p
  /** Path of `tasks.db` (created 0600). */
  dbPath: string
  /** The callee's check: may `peer` call our agent `name`? (`/a2a/send` on mailbox `name`) */
  authorize: Authorize
  audit: AuditSink
  /** Bearer check of the local endpoint (see `GatewayInit.authenticate`). */
  authenticate: (token: string, agent: string) => { name: string } | { refused: string } | undefined
  /** Where the local endpoint listens; null disables it. */
  listen: { host: string, port: number } | null
  /** Longest blocking SendMessage, in ms. @default BLOCKING_MAX_MS (60 s) */
  blockingMaxMs?: number
  handleProtocol?: (protocol: string, handler: StreamHandler, options: StreamHandlerOptions) => Promise<() => Promise<void>>
  log?: (line: string) => void
}

export interface OfferedAgentInfo { name: string, url: string, description: string, addedAt: number }

export class A2aTasks {
  status: 'stopped' | 'started' = 'stopped'
  private readonly init: TasksInit
  private db?: TaskDb
  private forwarder?: Forwarder
  private server?: TaskServer
  private remote?: RemoteCalls
  private gateway?: Gateway
  private unhandle?: () => Promise<void>

  constructor (init: TasksInit) { this.init = init }

  /** The local endpoint's base URL, or null when disabled (or not started). */
  get httpUrl (): string | null { return this.gateway?.url ?? null }

  async start (): Promise<void> {
    if (this.status === 'started') return
    try {
      const db = this.db = TaskDb.open(this.init.dbPath)
      const forwarder = this.forwarder = new Forwarder({ db, audit: this.init.audit, onEvent: id => { this.server?.notify(id) } })
      const server = this.server = new TaskServer({ db, forwarder, authorize: this.init.authorize, audit: this.init.audit })
      const handle = this.init.handleProtocol ?? (async (p, h, o) => { await this.init.node.handle(p, h, o); return async () => { await this.init.node.unhandle(p) } })
      this.unhandle = await handle(A2A_TASK_PROTOCOL, server.handle, { maxInboundStreams: MAX_TASK_STREAMS })
      this.remote = new RemoteCalls({ node: this.init.node, db, audit: this.init.audit })
      if (this.init.listen !== null) {
        const gateway = new Gateway({ db, remote: this.remote, audit: this.init.audit, authenticate: this.init.authenticate, blockingMaxMs: this.init.blockingMaxMs })
        try {
          await gateway.start(this.init.listen.host, this.init.listen.port)
          this.gateway = gateway
        } catch (err) {
          // The mailboxes still work; the operator sees why the endpoint is off.
          this.init.log?.(`a2a: local A2A endpoint off: cannot listen on ${this.init.listen.host}:${this.init.listen.port}: ${(err as Error).message}; set a2a.http.listen (0 disables)`)
        }
      }
      this.remote.start()
      forwarder.start()
      this.status = 'started'
    } catch (err) {
      this.status = 'started'
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    await this.gateway?.stop()
    await this.remote?.stop()
    await this.unhandle?.().catch(() => {})
    this.server?.closeAll()
    await this.forwarder?.stop()
    this.db?.close()
    this.db = this.forwarder = this.server = this.remote = this.gateway = this.unhandle = undefined
    this.status = 'stopped'
  }

  /** `sov agent add NAME --url URL`: fetches the agent's card and offers it to the mesh as NAME. */
  async addAgent (name: string, url: string, actor: string): Promise<OfferedAgentInfo> {
    const db = this.running()
    if (!v.is(MailboxNameSchema, name)) throw badRequest(`Cannot add agent "${name}": names are 1-64 of A-Z a-z 0-9 . _ -`)
    let base: URL
    try { base = new URL(url) } catch (cause) { throw badRequest(`Cannot add agent "${name}": "${url}" is not a URL`, { cause }) }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw badRequest(`Cannot add agent "${name}": "${url}" is not http(s)`)
    const cardUrl = new URL('.well-known/agent-card.json', base.href.endsWith('/') ? base : new URL(base.href + '/'))
    let card: any
    try {
      const res = await fetch(cardUrl, { headers: { 'A2A-Version': '1.0' }, signal: AbortSignal.timeout(CARD_FETCH_TIMEOUT_MS) })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      card = await res.json()
    } catch (cause) {
      throw unavailable(`Cannot add agent "${name}": cannot fetch its card from ${cardUrl.href}: ${(cause as Error).message}; is the agent running?`, { cause })
    }
    if (typeof card !== 'object' || card === null || !Array.isArray(card.supportedInterfaces) || card.supportedInterfaces.length === 0) {
      throw badRequest(`Cannot add agent "${name}": ${cardUrl.href} is not an A2A v1.0 Agent Card (no supportedInterfaces)`)
    }
    db.putOffered(name, base.href, JSON.stringify(card))
    await report(this.init.audit, { type: 'A2A_AGENT_ADDED', actor, outcome: 'ok', detail: { name, url: base.href } })
    return { name, url: base.href, description: String(card.description ?? ''), addedAt: Date.now() }
  }

  listAgents (): OfferedAgentInfo[] {
    return this.running().offered().map(o => ({ name: o.name, url: o.url, description: String(JSON.parse(o.card).description ?? ''), addedAt: o.addedAt }))
  }

  async removeAgent (name: string, actor: string): Promise<{ name: string, removed: true }> {
    if (!this.running().removeOffered(name)) throw notFound(`Cannot remove agent "${name}": it is not offered (see sov agent list)`)
    await report(this.init.audit, { type: 'A2A_AGENT_REMOVED', actor, outcome: 'ok', detail: { name } })
    return { name, removed: true }
  }

  /** `sov agents PEER`: what PEER offers us, with the card URL of our endpoint for each. */
  async remoteAgents (peer: string): Promise<Array<{ name: string, description: string, cardUrl: string | null }>> {
    this.running()
    if (this.gateway !== undefined) return (await this.gateway.remoteAgents(peer)).map(({ name, description, cardUrl }) => ({ name, description, cardUrl }))
    return (await this.remote!.agents(peer)).map(a => ({ name: a.name, description: String(a.card.description ?? ''), cardUrl: null }))
  }

  private running (): TaskDb {
    if (this.status !== 'started' || this.db === undefined) throw unavailable('Cannot use A2A tasks: they are not running')
    return this.db
  }
}

/**
 * Reads `a2a.http.listen`: `0` (disabled), a port, or `HOST:PORT` with a loopback HOST
 * (127.0.0.0/8, `::1` as `[::1]:PORT`, `localhost`). Anything else is `BAD_REQUEST`.
 */
export function parseHttpListen (value: string | number | undefined): { host: string, port: number } | null {
  if (value === undefined) return { host: '127.0.0.1', port: DEFAULT_A2A_HTTP_PORT }
  const text = String(value).trim()
  if (text === '0') return null
  const m = /^(?:(\[::1\]|localhost|127(?:\.\d{1,3}){3}):)?(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) throw badRequest(`Cannot use a2a.http.listen "${text}": give 0, a port, or 127.0.0.1:PORT (loopback only)`)
  const host = m[1] === undefined || m[1] === 'localhost' ? '127.0.0.1' : m[1] === '[::1]' ? '::1' : m[1]
  return { host, port }
}
