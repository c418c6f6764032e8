/**
 * The local A2A endpoint (issue 11 §1-2): an HTTP server on loopback speaking the A2A v1.0
 * JSON-RPC binding through `@a2a-js/sdk` (its Express `jsonRpcHandler`, `DefaultRequestHandler`,
 * our `SqliteTaskStore` and `MeshExecutor`). Each remote agent lives under
 * `/peers/<PeerId>/agents/<name>`: its rewritten Agent Card at
 * `…/.well-known/agent-card.json` (no token needed, as A2A cards are discovered) and its JSON-RPC
 * endpoint at `…` (POST, `Authorization: Bearer <agent token with /a2a/post>`; none or a bad one
 * → 401 before the SDK sees the request).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type Response } from 'express'
import { AgentCard } from '@a2a-js/sdk'
import { jsonRpcHandler } from '@a2a-js/sdk/server/express'
import { peerIdFromString } from '@libp2p/peer-id'
import { MailboxNameSchema, type OfferedAgent } from '../../protocol/index.js'
import * as v from 'valibot'
import { MeshExecutor } from './executor.js'
import { MeshRequestHandler } from './request-handler.js'
import { invalidRequestGuard, parseErrorHandler } from './jsonrpc-envelope.js'
import { scopeOf, type RemoteCalls } from './remote.js'
import { SqliteTaskStore } from './task-store.js'
import type { TaskDb } from './task-db.js'
import { report, type AuditSink } from '../types.js'

/** How long a remote agent's card is served from the cache before the peer is asked again. @default 60 s */
export const CARD_CACHE_MS = 60_000
/** The card path under an agent's base URL (A2A v1.0 §8.2). */
export const AGENT_CARD_PATH = '.well-known/agent-card.json'

export interface GatewayInit {
  db: TaskDb
  remote: RemoteCalls
  audit: AuditSink
  /** The local agent a bearer token belongs to, if it may call out (`/a2a/post`); never logs the token. */
  authenticate: (token: string, agent: string) => { name: string } | { refused: string } | undefined
  /** Longest blocking SendMessage, in ms. */
  blockingMaxMs?: number
}

interface Entry { handler: MeshRequestHandler, rpc: express.RequestHandler }

/** Largest JSON-RPC request body. @default 4 MiB */
export const MAX_RPC_BODY_BYTES = 4 * 1024 * 1024

export class Gateway {
  private readonly init: GatewayInit
  private server?: Server
  private base = ''
  private readonly entries = new Map<string, Entry>()
  private readonly cards = new Map<string, { at: number, agents: OfferedAgent[] }>()

  constructor (init: GatewayInit) { this.init = init }

  /** `http://127.0.0.1:<port>` once listening, else null. */
  get url (): string | null { return this.server === undefined ? null : this.base }

  async start (host: string, port: number): Promise<void> {
    const app = express()
    app.disable('x-powered-by')
    app.get('/peers/:peer/agents/:name/.well-known/agent-card.json', (req, res) => { void this.card(req, res) })
    // Parsed here, once (the SDK's own parser then skips the body): -32700 / -32600 come first.
    app.use('/peers/:peer/agents/:name', (req: Request, res: Response, next: NextFunction) => { this.rpc(req, res, next) }, express.json({ limit: MAX_RPC_BODY_BYTES }), parseErrorHandler, invalidRequestGuard, (req: Request, res: Response, next: NextFunction) => { this.forward(req, res, next) })
    app.use((_req, res) => { res.status(404).json({ error: 'not found: use /peers/<PeerId>/agents/<name>' }) })
    const server = createServer(app)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
    const a = server.address() as AddressInfo
    this.base = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
    this.server = server
  }

  async stop (): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s === undefined) return
    s.closeAllConnections()
    await new Promise<void>(resolve => { s.close(() => { resolve() }) })
  }

  /** The agents `peer` offers us, with our card URL for each (`sov agents PEER`). */
  async remoteAgents (peer: string, fresh = true): Promise<Array<{ name: string, description: string, cardUrl: string | null, card: Record<string, any> }>> {
    const agents = await this.offered(peer, fresh)
    return agents.map(a => ({ name: a.name, description: String(a.card.description ?? ''), cardUrl: this.url === null ? null : `${this.agentUrl(peer, a.name)}/${AGENT_CARD_PATH}`, card: this.rewrite(peer, a) }))
  }

  private agentUrl (peer: string, name: string): string {
    return `${this.base}/peers/${peer}/agents/${name}`
  }

  private async offered (peer: string, fresh: boolean): Promise<OfferedAgent[]> {
    const c = this.cards.get(peer)
    if (!fresh && c !== undefined && Date.now() - c.at < CARD_CACHE_MS) return c.agents
    const agents = await this.init.remote.agents(peer)
    this.cards.set(peer, { at: Date.now(), agents })
    return agents
  }

  /** The remote card as our clients must see it: our endpoint, our bearer scheme, what we support. */
  private rewrite (peer: string, a: OfferedAgent): Record<string, any> {
    return {
      ...a.card,
      name: a.card.name ?? a.name,
      supportedInterfaces: [{ url: this.agentUrl(peer, a.name), protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
      capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
      securitySchemes: { sovereign: { httpAuthSecurityScheme: { scheme: 'Bearer', description: 'A Sovereign agent token with scope /a2a/post (sov agent-token issue NAME --scope /a2a/post)' } } },
      securityRequirements: [{ schemes: { sovereign: { list: [] } } }],
      signatures: undefined
    }
  }

  private async card (req: Request, res: Response): Promise<void> {
    const target = parseTarget(req)
    if (target === undefined) { res.status(404).json({ error: 'not found: bad PeerId or agent name' }); return }
    let agents: OfferedAgent[]
    try {
      agents = await this.offered(target.peer, false)
    } catch (err) {
      res.status(502).json({ error: `error[UNAVAILABLE]: Cannot fetch the card of "${target.name}" from ${target.peer}: ${(err as Error).message}` })
      return
    }
    const a = agents.find(x => x.name === target.name)
    if (a === undefined) { res.status(404).json({ error: `error[NOT_FOUND]: ${target.peer} offers no agent "${target.name}" to this node` }); return }
    res.setHeader('Cache-Control', `max-age=${Math.floor(CARD_CACHE_MS / 1000)}`)
    res.json(this.rewrite(target.peer, a))
  }

  private rpc (req: Request, res: Response, next: NextFunction): void {
    const target = parseTarget(req)
    if (target === undefined) { res.status(404).json({ error: 'not found: bad PeerId or agent name' }); return }
    const header = req.headers.authorization ?? ''
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    const who = m === null ? undefined : this.init.authenticate(m[1], target.name)
    if (who === undefined || 'refused' in who) {
      // No or an unknown token: 401 (RFC 6750 §3); a known token without /a2a/post: 403.
      const reason = m === null ? 'no bearer token' : who === undefined ? 'unknown or expired token' : who.refused
      void report(this.init.audit, { type: 'A2A_HTTP_REFUSED', actor: 'unknown', outcome: 'denied', detail: { peer: target.peer, agent: target.name, reason } })
      if (who === undefined) res.setHeader('WWW-Authenticate', 'Bearer realm="sovereign"')
      res.status(who === undefined ? 401 : 403).json({ error: `error[${who === undefined ? 'UNAUTHENTICATED' : 'FORBIDDEN'}]: Cannot call "${target.name}": ${reason}; send Authorization: Bearer <agent token with scope /a2a/post>` })
      return
    }
    ;(req as any).sovAgent = who.name
    next()
  }

  private forward (req: Request, res: Response, next: NextFunction): void {
    const target = parseTarget(req)!
    this.entry(target.peer, target.name).rpc(req, res, next)
  }

  private entry (peer: string, name: string): Entry {
    const scope = `${peer}/${name}`
    let e = this.entries.get(scope)
    if (e === undefined) {
      // The handler's own card only drives the SDK's checks (version, capabilities); the card
      // clients read is the remote one, rewritten, and needs no round trip here.
      const card = AgentCard.fromJSON({
        name, description: `Agent "${name}" on ${peer}`, version: '1.0.0',
        supportedInterfaces: [{ url: this.agentUrl(peer, name), protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
        capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
        defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain']
      })
      const executor = new MeshExecutor(this.init.remote, peer, name, this.init.blockingMaxMs)
      const handler = new MeshRequestHandler(card, new SqliteTaskStore(this.init.db, owner => scopeOf(peer, name, owner)), executor, async taskId => {
        const call = this.init.db.lastCallOfTask(peer, name, taskId)
        return call === undefined ? undefined : await this.init.remote.cancel(call)
      })
      const rpc = jsonRpcHandler({
        requestHandler: handler,
        userBuilder: async req => new LocalAgent(String((req as any).sovAgent))
      })
      e = { handler, rpc }
      this.entries.set(scope, e)
    }
    return e
  }
}

class LocalAgent {
  constructor (private readonly name: string) {}
  get isAuthenticated (): boolean { return true }
  get userName (): string { return this.name }
}

function parseTarget (req: Request): { peer: string, name: string } | undefined {
  const { peer, name } = req.params as Record<string, string>
  if (!v.is(MailboxNameSchema, name)) return undefined
  try {
    return { peer: peerIdFromString(peer).toString(), name }
  } catch {
    return undefined
  }
}
