/**
 * The local A2A endpoint (issue 11 §1-2): an HTTP server on loopback speaking the A2A v1.0
 * JSON-RPC binding through `@a2a-js/sdk` (its Express `jsonRpcHandler`, `DefaultRequestHandler`,
 * our `SqliteTaskStore` and `MeshExecutor`). Each remote agent lives under
 * `/peers/<PeerId>/agents/<name>`: its rewritten Agent Card at
 * `…/.well-known/agent-card.json` (no token needed, as A2A cards are discovered) and its JSON-RPC
 * endpoint at `…` (POST, `Authorization: Bearer <agent token with /a2a/post>`; none or a bad one
 * → 401 before the SDK sees the request).
 *
 * Cards are cached per peer as the agents' own HTTP caching asks (A2A v1.0 §8.6): the callee
 * sends each card with the seconds it stays fresh (`maxAgeS`), the peer's list is asked for
 * again when the first of them runs out (bounded by `CARD_CACHE_MIN_MS` / `CARD_CACHE_MAX_MS`,
 * `CARD_CACHE_DEFAULT_MS` without a hint), and our rewritten card is served with the
 * `Cache-Control: max-age` left and a strong `ETag` (a conditional GET gets 304).
 */
import { once, setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { NextFunction, Request, Response } from 'express'
import type { OfferedAgent } from '../../protocol/index.js'
import { AGENT_CARD_PATH, CARD_CACHE_DEFAULT_MS, cacheLifeMs, etagOf, ifNoneMatch, v1CardOf } from './agent-card.js'
import { resolveTarget } from './endpoint.js'
import type { RemoteCalls } from './remote.js'
import type { TaskDb } from './task-db.js'
import { report, type AuditSink } from '../types.js'

interface OfferedList { until: number, at: number, agents: OfferedAgent[] }

/** How long open requests have to be answered when the endpoint stops. @default 1 s */
export const STOP_GRACE_MS = 1000

/** How long after it was fetched a peer's card is still served while the peer cannot be asked. @default 24 h */
export const CARD_STALE_IF_ERROR_MS = 24 * 3600_000

/**
 * A card asked for that the peer's list (cached) lacks makes us ask the peer again, at most this
 * often per peer: an agent offered or a grant given since is served at once (helper finding, stop
 * 28: 404 "offers no agent" for up to a minute while `sov agents` listed it). @default 1 s
 */
export const OFFERED_MISS_RETRY_MS = 1000

/**
 * Most connections the endpoint holds at once; more are closed as they come, so a local process
 * opening connections without end cannot take the descriptors the node's IPC and mesh need
 * (helper finding, stop 26: 20,000 half-open connections left the CLI unable to connect). @default 512
 */
export const A2A_HTTP_MAX_CONNECTIONS = 512
/** Time a client has to send a request's headers (slow-header clients are dropped). @default 10 s */
export const A2A_HTTP_HEADERS_TIMEOUT_MS = 10_000
/** Time a client has to send a whole request, body included (the answer may stream for hours). @default 60 s */
export const A2A_HTTP_REQUEST_TIMEOUT_MS = 60_000

export interface GatewayInit {
  db: TaskDb
  remote: RemoteCalls
  /** This node's PeerId: a path naming it is refused (a call to ourselves would wait for a day). */
  self: string
  audit: AuditSink
  /** The local agent a bearer token belongs to, with `refused` when it may not call out (`/a2a/post`); never logs the token. */
  authenticate: (token: string, agent: string) => { name: string, refused?: string } | undefined
  /** Longest blocking SendMessage, in ms. */
  blockingMaxMs?: number
}

export class Gateway {
  readonly init: GatewayInit
  private server?: Server
  private base = ''
  private app?: Promise<(req: IncomingMessage, res: ServerResponse) => void>
  /** Per peer: the agents it offers us, and until when (ms since the epoch) the list is fresh. */
  private readonly cards = new Map<string, OfferedList>()
  /** Per peer: the `agents` request in flight, shared by everyone who needs the list now. */
  private readonly asking = new Map<string, Promise<OfferedList>>()
  /** Answers still open (streams above all), with the token and agent name they were allowed with. */
  private readonly open = new Map<Response, { token: string, agent: string }>()
  private readonly closingCtl = new AbortController()

  /** Aborted as the endpoint stops (`stop`). */
  get closing (): AbortSignal { return this.closingCtl.signal }

  constructor (init: GatewayInit) {
    this.init = init
    // Every open request listens on it (SendMessage's executor, up to the HTTP server's
    // connections): more than ten is load, not a leak (the warning reached daemon.log at 16 calls).
    setMaxListeners(0, this.closingCtl.signal)
  }

  /**
   * Ends every open answer whose token no longer authenticates (revoked, or lost its scope):
   * a stream may last hours, and a revoked agent must not go on reading results (helper finding,
   * stop 28). Called after a token change, as the IPC sessions of such a token are ended.
   */
  endRevoked (): void {
    for (const [res, { token, agent }] of this.open) {
      const who = this.init.authenticate(token, agent)
      if (who === undefined || who.refused !== undefined) res.destroy()
    }
  }

  /** `http://127.0.0.1:<port>` once listening, else null. */
  get url (): string | null { return this.server === undefined ? null : this.base }

  async start (host: string, port: number): Promise<void> {
    const server = createServer({
      headersTimeout: A2A_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: A2A_HTTP_REQUEST_TIMEOUT_MS,
      // How often those two are checked (Node's default, 30 s, would let a slow client stay 40 s).
      connectionsCheckingInterval: 1000
    }, (req, res) => { this.serve(req, res) })
    server.maxConnections = A2A_HTTP_MAX_CONNECTIONS
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
    const a = server.address() as AddressInfo
    this.base = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
    this.server = server
  }

  /**
   * Express, the SDK's handlers and our task store load with the first request (issue 16): an
   * idle node never carries them (about 7 MiB of its RSS). The app lives in `gateway-app.ts`.
   */
  private serve (req: IncomingMessage, res: ServerResponse): void {
    const host = req.headers.host
    if (host !== undefined && !isLoopbackHost(host)) {
      // DNS rebinding: a web page whose name now points at 127.0.0.1 must not read cards or make
      // the node dial peers for it (helper finding, stop 26); only clients of this machine that
      // name it as such get through.
      res.writeHead(403, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ error: `error[FORBIDDEN]: the endpoint answers only requests to a loopback name (127.0.0.1, localhost, [::1]), not Host "${host.slice(0, 256)}"` }))
      return
    }
    this.app ??= import('./gateway-app.js').then(m => m.buildApp(this))
    this.app.then(app => { app(req, res) }, (err: Error) => {
      res.statusCode = 500
      res.end(JSON.stringify({ error: `error[INTERNAL]: Cannot serve the A2A endpoint: ${err.message}` }))
    })
  }

  async stop (): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s === undefined) return
    // Open requests end with the task so far (MeshExecutor), and get up to STOP_GRACE_MS to be
    // written, before the connections are cut.
    const closed = new Promise<void>(resolve => { s.close(() => { resolve() }) })
    this.closingCtl.abort()
    const answered = Promise.all([...this.open.keys()].map(async res => { if (!res.writableFinished) await once(res, 'close').catch(() => {}) }))
    await Promise.race([answered, new Promise(resolve => setTimeout(resolve, STOP_GRACE_MS).unref())])
    s.closeAllConnections()
    await closed
  }

  /** The agents `peer` offers us, with our card URL for each (`sov agents PEER`). */
  async remoteAgents (peer: string, fresh = true): Promise<Array<{ name: string, description: string, cardUrl: string | null, card: Record<string, any> }>> {
    const { agents } = await this.offered(peer, fresh)
    return agents.map(a => ({ name: a.name, description: String(a.card.description ?? ''), cardUrl: this.url === null ? null : `${this.agentUrl(peer, a.name)}/${AGENT_CARD_PATH}`, card: this.rewrite(peer, a) }))
  }

  /** Our JSON-RPC URL of `name` on `peer`. */
  agentUrl (peer: string, name: string): string {
    return `${this.base}/peers/${peer}/agents/${name}`
  }

  /** The agents `peer` offers us: cached while fresh, unless `fresh` asks the peer anyway. */
  private async offered (peer: string, fresh: boolean): Promise<OfferedList> {
    const c = this.cards.get(peer)
    if (!fresh && c !== undefined && Date.now() < c.until) return c
    let p = this.asking.get(peer)
    if (p === undefined) {
      p = this.init.remote.agents(peer).then(agents => {
        // The list lives as long as its shortest-lived card (the one to see first when it changes).
        const life = agents.length === 0 ? CARD_CACHE_DEFAULT_MS : Math.min(...agents.map(a => cacheLifeMs(a.maxAgeS === undefined ? undefined : a.maxAgeS * 1000)))
        const list = { until: Date.now() + life, at: Date.now(), agents }
        this.cards.set(peer, list)
        // For a restart while the peer is away; a copy that cannot be kept costs only that.
        try { this.init.db.putRemoteCards(peer, list.at, JSON.stringify(agents)) } catch {}
        return list
      }).finally(() => { this.asking.delete(peer) })
      this.asking.set(peer, p)
    }
    return await p
  }

  /**
   * The remote card as our clients must see it: its A2A v1.0 members only (`v1CardOf`: a peer's
   * card is not trusted to have been checked), our endpoint, our bearer scheme, what we support.
   */
  private rewrite (peer: string, a: OfferedAgent): Record<string, any> {
    let card: Record<string, any>
    try { card = v1CardOf(a.card, `${peer}'s agent "${a.name}"`) } catch { card = {} }
    return {
      ...card,
      name: card.name ?? a.name,
      supportedInterfaces: [{ url: this.agentUrl(peer, a.name), protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
      capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
      securitySchemes: { sovereign: { httpAuthSecurityScheme: { scheme: 'Bearer', description: 'A Sovereign agent token with scope /a2a/post (sov agent-token issue NAME --scope /a2a/post)' } } },
      securityRequirements: [{ schemes: { sovereign: { list: [] } } }],
      signatures: undefined
    }
  }

  /** GET of a remote agent's card, rewritten (`gateway-app.ts` routes it here). */
  async card (req: Request, res: Response): Promise<void> {
    const target = this.target(req, res)
    if (target === undefined) return
    let list: OfferedList
    try {
      list = await this.offered(target.peer, false)
      // A miss on a cached list asks the peer again: the agent may be offered or granted since.
      if (!list.agents.some(x => x.name === target.name) && Date.now() - list.at >= OFFERED_MISS_RETRY_MS) list = await this.offered(target.peer, true)
    } catch (err) {
      // The peer unreachable: the card it last sent is served (max-age 0), as RFC 5861's
      // stale-if-error, so a client can still be built to read the tasks held here (helper
      // finding, stop 29: GetTask "works while B is offline", yet the SDK client needs the card).
      const last = this.cards.get(target.peer) ?? this.keptList(target.peer)
      if (last === undefined || Date.now() - last.at > CARD_STALE_IF_ERROR_MS || !last.agents.some(x => x.name === target.name)) {
        res.status(502).json({ error: `error[UNAVAILABLE]: Cannot fetch the card of "${target.name}" from ${target.peer}: ${(err as Error).message}` })
        return
      }
      list = { ...last, until: 0 }
    }
    const a = list.agents.find(x => x.name === target.name)
    if (a === undefined) { res.status(404).json({ error: `error[NOT_FOUND]: ${target.peer} offers no agent "${target.name}" to this node` }); return }
    const body = JSON.stringify(this.rewrite(target.peer, a))
    // Our copy's remaining life, so the client asks again when we would ask the peer (§8.6.1).
    res.setHeader('Cache-Control', `max-age=${Math.max(0, Math.floor((list.until - Date.now()) / 1000))}`)
    const etag = etagOf(body)
    res.setHeader('ETag', etag)
    if (ifNoneMatch(req.headers['if-none-match'], etag)) { res.status(304).end(); return }
    res.type('application/json').send(body)
  }

  /** The list `peer` last sent before this node started (`remote_cards`), as stale. */
  private keptList (peer: string): OfferedList | undefined {
    try {
      const kept = this.init.db.getRemoteCards(peer)
      return kept === undefined ? undefined : { until: 0, at: kept.at, agents: JSON.parse(kept.agents) }
    } catch { return undefined }
  }

  /** The remote agent a path names, or undefined once the refusal is answered (404, or 400 for this node itself). */
  private target (req: Request, res: Response): { peer: string, name: string } | undefined {
    const t = resolveTarget(req, this.init.self)
    if (!('problem' in t)) return t
    res.status(t.problem.startsWith('error[NOT_FOUND]') ? 404 : 400).json({ error: t.problem })
    return undefined
  }

  /** Bearer check before any JSON-RPC request reaches the SDK (`gateway-app.ts` mounts it). */
  authorize (req: Request, res: Response, next: NextFunction): void {
    const target = this.target(req, res)
    if (target === undefined) return
    const header = req.headers.authorization ?? ''
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    const who = m === null ? undefined : this.init.authenticate(m[1], target.name)
    if (who === undefined || who.refused !== undefined) {
      // No or an unknown token: 401 (RFC 6750 §3); a known token without /a2a/post: 403.
      const reason = m === null ? 'no bearer token' : who === undefined ? 'unknown or expired token' : who.refused!
      const actor = who === undefined ? 'unknown' : `agent:${who.name}`
      void report(this.init.audit, { type: 'A2A_HTTP_REFUSED', actor, outcome: 'denied', detail: { peer: target.peer, agent: target.name, reason } })
      if (who === undefined) res.setHeader('WWW-Authenticate', 'Bearer realm="sovereign"')
      res.status(who === undefined ? 401 : 403).json({ error: `error[${who === undefined ? 'UNAUTHENTICATED' : 'FORBIDDEN'}]: Cannot call "${target.name}": ${reason}; send Authorization: Bearer <agent token with scope /a2a/post or /a2a/post:${target.name}>` })
      return
    }
    ;(req as any).sovAgent = who.name
    this.open.set(res, { token: m![1], agent: target.name })
    res.once('close', () => { this.open.delete(res) })
    next()
  }
}

/** A `Host` header naming this machine's loopback: 127.0.0.0/8, localhost, [::1], with any port. */
function isLoopbackHost (host: string): boolean {
  const name = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host.trim())?.[1].toLowerCase()
  return name !== undefined && (name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name))
}
