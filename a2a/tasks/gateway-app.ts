/**
 * The Express app behind the local A2A endpoint (`gateway.ts`), loaded with its first request so
 * that an idle node carries neither Express nor the SDK's server (issue 16). Routes: a remote
 * agent's card (GET, no token), and its JSON-RPC endpoint (bearer check → body parsed once →
 * -32700 / -32600 → the SDK's `jsonRpcHandler` over our `MeshRequestHandler`).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express'
import { AgentCard } from '@a2a-js/sdk'
import { A2AError } from '@a2a-js/sdk/errors'
import { JsonRpcTransportHandler, validateVersion } from '@a2a-js/sdk/server'
import { jsonRpcHandler } from '@a2a-js/sdk/server/express'
import { MeshExecutor } from './executor.js'
import { MAX_RPC_BODY_BYTES, parseTarget } from './endpoint.js'
import { invalidRequestGuard, lastErrorHandler, parseErrorHandler } from './jsonrpc-envelope.js'
import { MeshRequestHandler } from './request-handler.js'
import { scopeOf, type RemoteCalls } from './remote.js'
import { SqliteTaskStore } from './task-store.js'
import type { TaskDb } from './task-db.js'

/** What the app needs of the server (`Gateway` is one). */
export interface GatewayHooks {
  init: { db: TaskDb, remote: RemoteCalls, blockingMaxMs?: number }
  /** Aborted as the endpoint stops: open requests end with the task so far. */
  closing: AbortSignal
  agentUrl: (peer: string, name: string) => string
  card: (req: Request, res: Response) => Promise<void>
  authorize: (req: Request, res: Response, next: NextFunction) => void
}

/**
 * Streams (SendStreamingMessage, SubscribeToTask) one local agent may hold open at once; more
 * are answered HTTP 429. Each holds a task of up to 1 MiB and its SSE buffers: 3,000 streams of
 * one token took 1.8 GB (helper finding, stop 26). @default 32
 */
export const MAX_STREAMS_PER_AGENT = 32

const STREAMING_METHODS = new Set(['SendStreamingMessage', 'SubscribeToTask'])

/** The app `gateway` serves with: one SDK handler per remote agent, made on its first call. */
export function buildApp (gateway: GatewayHooks): express.Express {
  quietSdkLog()
  const streams = new Map<string, number>()
  const entries = new Map<string, RequestHandler>()
  const rpcOf = (peer: string, name: string): RequestHandler => {
    const scope = `${peer}/${name}`
    let rpc = entries.get(scope)
    if (rpc === undefined) {
      rpc = jsonRpcHandler({
        requestHandler: requestHandler(gateway, peer, name),
        userBuilder: async req => new LocalAgent(String((req as any).sovAgent), closedSignal(req), () => { keepAlive(req) })
      })
      entries.set(scope, rpc)
    }
    return rpc
  }
  const app = express()
  app.disable('x-powered-by')
  app.get('/peers/:peer/agents/:name/.well-known/agent-card.json', (req, res) => { void gateway.card(req, res) })
  // Parsed here, once (the SDK's own parser then skips the body): -32700 / -32600 come first.
  app.use('/peers/:peer/agents/:name',
    (req: Request, res: Response, next: NextFunction) => { gateway.authorize(req, res, next) },
    // Not strict: `null` or `"x"` is JSON that is no request object (-32600), not a parse error.
    express.json({ limit: MAX_RPC_BODY_BYTES, strict: false }), parseErrorHandler, invalidRequestGuard, versionGuard,
    (req: Request, res: Response, next: NextFunction) => { streamGuard(streams, req, res, next) },
    (req: Request, res: Response, next: NextFunction) => {
      const target = parseTarget(req)!
      void rpcOf(target.peer, target.name)(req, res, next)
    })
  app.use((_req, res) => { res.status(404).json({ error: 'error[NOT_FOUND]: no such path; remote agents are at /peers/<PeerId>/agents/<name> (`sov agents PEER` prints their card URLs)' }) })
  app.use(lastErrorHandler(line => { console.error(line) }))
  return app
}

/** The A2A version the endpoint speaks (A2A v1.0 §3.6; `A2A-Version`). */
const PROTOCOL_VERSION = '1.0'

/** What the SDK checks a request's version against: our interface (the card only lists it). */
const VERSION_CARD = AgentCard.fromJSON({
  name: 'sov', description: 'version check', version: '1.0.0',
  supportedInterfaces: [{ url: 'http://127.0.0.1/', protocolBinding: 'JSONRPC', protocolVersion: PROTOCOL_VERSION }],
  capabilities: {}, defaultInputModes: [], defaultOutputModes: []
})

/**
 * `A2A-Version` checked before the SDK's handler, with the SDK's own rule and error (absent is
 * 0.3, refused with VersionNotSupported -32009): the SDK answers the same but also logs the
 * refusal's stack trace, with the caller's request id, for every such request (helper finding,
 * stop 24).
 */
function versionGuard (req: Request, res: Response, next: NextFunction): void {
  try {
    validateVersion(req.header('A2A-Version') ?? '0.3', VERSION_CARD, 'JSONRPC')
  } catch (err) {
    const id = typeof req.body?.id === 'string' || typeof req.body?.id === 'number' ? req.body.id : null
    res.status(200).json({ jsonrpc: '2.0', id, error: JsonRpcTransportHandler.mapToJSONRPCError(err) })
    return
  }
  next()
}

/** Counts the open streams of the calling agent and refuses one over `MAX_STREAMS_PER_AGENT`. */
function streamGuard (streams: Map<string, number>, req: Request, res: Response, next: NextFunction): void {
  if (!STREAMING_METHODS.has(req.body?.method)) { next(); return }
  const agent = String((req as any).sovAgent)
  const open = streams.get(agent) ?? 0
  if (open >= MAX_STREAMS_PER_AGENT) {
    const id = typeof req.body?.id === 'string' || typeof req.body?.id === 'number' ? req.body.id : null
    res.status(429).json({ jsonrpc: '2.0', id, error: { code: -32000, message: `error[UNAVAILABLE]: agent "${agent}" holds ${open} open streams, the most one agent may (${MAX_STREAMS_PER_AGENT}); close one, or follow the task with GetTask` } })
    return
  }
  streams.set(agent, open + 1)
  res.once('close', () => {
    const n = (streams.get(agent) ?? 1) - 1
    if (n <= 0) streams.delete(agent)
    else streams.set(agent, n)
  })
  next()
}

/** What the SDK's Express handler logs, with the client's request id and the stack, as it answers. */
const SDK_LOG_PREFIXES = ['Pre-stream error for request', 'Error during SSE streaming', 'Unhandled error in JSON-RPC POST handler']
let sdkLogQuiet = false

/**
 * The SDK's Express handler logs each error of a streaming call (and any it did not expect) with
 * `console.error`: the request id the client chose and the whole stack, once per request, so a
 * client could grow the node's log at will (13,404 stack lines in one review, helper finding,
 * stop 26). Those lines only are changed: an A2A error (TaskNotFound, UnsupportedOperation…) is
 * the client's and already answered, so it is not logged; any other is one line, no stack, no id.
 */
function quietSdkLog (): void {
  if (sdkLogQuiet) return
  sdkLogQuiet = true
  const log = console.error.bind(console)
  console.error = (...args: unknown[]) => {
    const [first, err] = args
    const prefix = typeof first === 'string' ? SDK_LOG_PREFIXES.find(p => first.startsWith(p)) : undefined
    if (prefix === undefined) { log(...args); return }
    if (err instanceof A2AError) return
    const e = err as Error | undefined
    log(`a2a endpoint: ${prefix.replace(/ for request$/, '')}: ${`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.replace(/\s+/g, ' ').slice(0, 500)}`)
  }
}

function requestHandler (gateway: GatewayHooks, peer: string, name: string): MeshRequestHandler {
  const { db, remote, blockingMaxMs } = gateway.init
  // The handler's own card only drives the SDK's checks (capabilities); the card clients read
  // is the remote one, rewritten, and needs no round trip here.
  const card = AgentCard.fromJSON({
    name, description: `Agent "${name}" on ${peer}`, version: '1.0.0',
    supportedInterfaces: [{ url: gateway.agentUrl(peer, name), protocolBinding: 'JSONRPC', protocolVersion: PROTOCOL_VERSION }],
    capabilities: { streaming: true, pushNotifications: false, extendedAgentCard: false },
    defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain']
  })
  const executor = new MeshExecutor(remote, peer, name, blockingMaxMs, gateway.closing)
  return new MeshRequestHandler(card, new SqliteTaskStore(db, owner => scopeOf(peer, name, owner)), executor, async taskId => {
    const call = db.lastCallOfTask(peer, name, taskId)
    return call === undefined ? undefined : await remote.cancel(call)
  }, taskId => db.lastCallOfTask(peer, name, taskId)?.done === false, (owner, messageId) => db.callOfMessage(peer, name, owner, messageId))
}

/**
 * The SDK's user: the local agent whose token called (`Gateway.authorize` set it); for a
 * SubscribeToTask stream (`MeshRequestHandler.resubscribe`) also a signal aborted when its HTTP
 * exchange closes (the client went away, or the endpoint stopped), and a way to keep a quiet
 * stream open.
 */
class LocalAgent {
  constructor (private readonly name: string, readonly signal: AbortSignal, readonly keepAlive: () => void) {}
  get isAuthenticated (): boolean { return true }
  get userName (): string { return this.name }
}

/**
 * An SSE comment line (ignored by clients, the SDK's included): Node's fetch gives a response
 * body up after 5 min without a byte (undici `bodyTimeout`), and a task may work for hours.
 */
function keepAlive (req: Request): void {
  const res = req.res
  if (res !== undefined && res.headersSent && !res.writableEnded && String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream')) res.write(': keep-alive\n\n')
}

function closedSignal (req: Request): AbortSignal {
  const ac = new AbortController()
  const res = req.res
  if (res === undefined || res.closed) ac.abort()
  else res.once('close', () => { ac.abort() })
  return ac.signal
}
