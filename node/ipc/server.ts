/**
 * The IPC server (DESIGN §6): a Unix socket, length-prefixed JSON frames, `hello` with a bearer
 * token first, then id-matched requests answered concurrently. Client input can close its own
 * connection but never crash the daemon or hold up other clients.
 */
import { setMaxListeners } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { chmodSync, rmSync } from 'node:fs'
import * as v from 'valibot'
import { assertSocketPath, explainFsError } from '../files/index.js'
import {
  FrameDecoder, HelloSchema, MAX_FRAME_BYTES, MAX_HELLO_BYTES, describeIssue, issueSubject, jsonProblem, REQUEST_PARAMS, RequestEnvelopeSchema, SovError, badRequest, encodeFrame,
  toSovError, tooLarge, unauthenticated, unavailable, type RequestType
} from '../../protocol/index.js'

/** Who is on the other end of a connection once `hello` succeeded. */
export type Principal = { kind: 'operator' } | { kind: 'agent', name: string }

export interface IpcServerOptions {
  path: string
  /** Maps a bearer token to a principal; `undefined` refuses it. */
  authenticate: (token: string) => Principal | undefined
  /**
   * Runs one validated request; throw a `SovError` to answer with its code. `onUnsent` registers
   * an undo that runs when the reply cannot be written (too large, client gone, write failed):
   * whatever the request handed out (leases) must not count as seen (issue 10).
   */
  dispatch: (principal: Principal, type: RequestType, params: any, signal: AbortSignal, onUnsent: (undo: () => void) => void) => Promise<unknown>
  /**
   * Called (and awaited) for every refused `hello`, before the refusal is sent. It gets no part
   * of the token: a near miss of a real token would give part of the real one away.
   */
  onAuthFailure: (reason: string) => Promise<void>
  node: () => { peerId: string, version: string }
  /** Connections served at once; further ones get `UNAVAILABLE` and a close. @default 256 */
  maxConnections?: number
  /**
   * Connections waiting for their `hello` at once; a new one past this ends the oldest of them
   * with `UNAVAILABLE` (an operator's CLI says hello within milliseconds). @default 32
   */
  maxWaitingForHello?: number
  /** Sessions one agent token may hold at once. @default 64 */
  maxSessionsPerAgent?: number
  /** Connections no agent may take: the operator can always connect to revoke one. @default 16 */
  operatorReserve?: number
  /** Time a client has to send `hello`. @default 5000 ms */
  helloTimeoutMs?: number
  /** Requests in flight per connection. @default 64 */
  maxInFlight?: number
  /** Unsent reply bytes a connection may hold before it is dropped as too slow. @default 16 MiB */
  maxBufferedBytes?: number
}

export class IpcServer {
  private readonly opts: Required<IpcServerOptions>
  private server?: Server
  private readonly sockets = new Set<Socket>()
  /** The secret each authenticated connection said hello with, its agent (if one), and how to end it. */
  private readonly sessions = new Map<Socket, { token: string, agent?: string, end: (err: SovError) => void }>()
  /** Connections still waiting for their hello, oldest first, and how to end each. */
  private readonly waiting = new Map<Socket, (err: SovError) => void>()
  /** Sessions per agent name. */
  private readonly agentSessions = new Map<string, number>()
  private readonly shutdown = new AbortController()

  constructor (opts: IpcServerOptions) {
    this.opts = { maxConnections: 256, maxWaitingForHello: 32, maxSessionsPerAgent: 64, operatorReserve: 16, helloTimeoutMs: 5000, maxInFlight: 64, maxBufferedBytes: 16 * 1024 * 1024, ...opts }
    // Each connection listens on it (up to maxConnections): more than ten is normal, not a leak
    // (the warning filled daemon.log under load).
    setMaxListeners(0, this.shutdown.signal)
  }

  async start (): Promise<void> {
    if (this.server !== undefined) return
    assertSocketPath(this.opts.path)
    rmSync(this.opts.path, { force: true })
    const server = createServer(socket => { this.accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => { reject(explainFsError(err, `listen on the IPC socket "${this.opts.path}"`)) })
      server.listen(this.opts.path, () => { server.off('error', reject); resolve() })
    })
    chmodSync(this.opts.path, 0o600)
    server.on('error', err => { console.error('ipc: server error:', err.message) })
    this.server = server
  }

  /**
   * Ends every session whose hello secret no longer authenticates (operator token rotated, agent
   * token revoked or expired): each gets an `UNAUTHENTICATED` frame and a close (issue 10 §2).
   * Requests on such a session are refused anyway; this also ends idle ones and long polls.
   */
  endStaleSessions (): number {
    let ended = 0
    for (const [socket, s] of [...this.sessions]) {
      if (this.opts.authenticate(s.token) !== undefined) continue
      this.endSession(socket)
      s.end(unauthenticated('Cannot continue this session: its token was rotated or revoked; connect again with the current token'))
      ended++
    }
    return ended
  }

  /** Why agent `name` may not open another session, or undefined when it may. */
  private agentRoomFor (name: string): string | undefined {
    const mine = this.agentSessions.get(name) ?? 0
    if (mine >= this.opts.maxSessionsPerAgent) {
      return `Cannot open another session for agent "${name}": it holds ${mine}, the most one agent token may hold at once; close one of them`
    }
    let agents = 0
    for (const n of this.agentSessions.values()) agents += n
    const room = this.opts.maxConnections - this.opts.maxWaitingForHello - this.opts.operatorReserve
    if (agents >= room) return `Cannot open another session for agent "${name}": agents hold ${agents} sessions, all those agents may take (the rest is kept for the operator); close some`
    return undefined
  }

  private endSession (socket: Socket): void {
    const s = this.sessions.get(socket)
    if (s === undefined) return
    this.sessions.delete(socket)
    if (s.agent === undefined) return
    const n = (this.agentSessions.get(s.agent) ?? 1) - 1
    if (n <= 0) this.agentSessions.delete(s.agent)
    else this.agentSessions.set(s.agent, n)
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    this.shutdown.abort()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    rmSync(this.opts.path, { force: true })
  }

  private accept (socket: Socket): void {
    // Helper finding, stop 30: connections that never say hello, or an agent token's sessions,
    // filled all 256 and the operator could not even revoke the agent.
    if (this.waiting.size >= this.opts.maxWaitingForHello) {
      const [oldest, end] = this.waiting.entries().next().value as [Socket, (err: SovError) => void]
      this.waiting.delete(oldest)
      this.sockets.delete(oldest) // its slot is free now, not once its close is done
      end(unavailable(`Cannot wait for hello: ${this.opts.maxWaitingForHello} connections are waiting for theirs and this one is the oldest; connect again and say hello at once`))
    }
    if (this.sockets.size >= this.opts.maxConnections) {
      socket.end(encodeFrame({ ok: false, error: unavailable(`Cannot accept connection: ${this.opts.maxConnections} clients are connected`).toJSON() }))
      socket.on('error', () => {})
      return
    }
    this.sockets.add(socket)
    const decoder = new FrameDecoder(MAX_FRAME_BYTES, MAX_HELLO_BYTES)
    const abort = new AbortController()
    // Each request in flight on the connection may listen on it (a long-poll receive does), up
    // to maxInFlight: more than ten is pipelining, not a leak.
    setMaxListeners(0, abort.signal)
    let principal: Principal | undefined
    let inFlight = 0
    let closed = false

    const close = (): void => {
      if (closed) return
      closed = true
      abort.abort()
      // Nothing more is read from a connection being closed: a client still sending (a refused
      // 4 MiB hello) would otherwise have its bytes read and dropped until the destroy below.
      socket.pause()
      socket.end()
      setTimeout(() => socket.destroy(), 1000).unref()
    }
    // Replies written in one tick leave in one writev (one syscall, not one per reply: issue 15).
    let corked = false
    const uncork = (): void => { corked = false; socket.uncork() }
    const write = (frame: Buffer, cb?: (err?: Error | null) => void): void => {
      if (!corked) { corked = true; socket.cork(); process.nextTick(uncork) }
      socket.write(frame, cb)
    }
    const send = (frame: unknown): void => {
      if (closed || socket.destroyed) return
      write(encodeFrame(frame))
      if (socket.writableLength > this.opts.maxBufferedBytes) socket.destroy()
    }
    const fail = (id: number | null, err: SovError, andClose: boolean): void => {
      send({ id, ok: false, error: err.toJSON() })
      if (andClose) close()
    }

    const helloTimer = setTimeout(() => { fail(null, unauthenticated('Cannot authenticate: no hello within the time allowed'), true) }, this.opts.helloTimeoutMs)
    helloTimer.unref()
    this.waiting.set(socket, err => { clearTimeout(helloTimer); fail(null, err, true) })
    const onShutdown = (): void => { socket.destroy() }
    this.shutdown.signal.addEventListener('abort', onShutdown)

    socket.on('error', () => {})
    socket.on('close', () => {
      closed = true
      abort.abort()
      clearTimeout(helloTimer)
      this.shutdown.signal.removeEventListener('abort', onShutdown)
      this.sockets.delete(socket)
      this.waiting.delete(socket)
      this.endSession(socket)
    })

    const onHello = async (frame: unknown): Promise<void> => {
      const hello = v.safeParse(HelloSchema, frame)
      if (!hello.success) {
        const wantsOther = typeof frame === 'object' && frame !== null && (frame as any).type !== 'hello'
        const err = wantsOther
          ? unauthenticated('Cannot serve request: send hello with a token first')
          : badRequest(`Cannot parse hello: ${v.getDotPath(hello.issues[0]) ?? 'frame'}: ${describeIssue(hello.issues[0])}`)
        await this.opts.onAuthFailure(err.message).catch(err => { console.error(`ipc: cannot record a refused hello: ${(err as Error).message}`) })
        fail(null, err, true)
        return
      }
      const who = this.opts.authenticate(hello.output.token)
      if (who === undefined) {
        // The refusal stands either way; a row that cannot be written is said in the log.
        await this.opts.onAuthFailure('bad token').catch(err => { console.error(`ipc: cannot record a refused hello: ${(err as Error).message}`) })
        fail(null, unauthenticated('Cannot authenticate: the token is not valid'), true)
        return
      }
      this.waiting.delete(socket)
      if (closed) return
      if (who.kind === 'agent') {
        const full = this.agentRoomFor(who.name)
        if (full !== undefined) { fail(null, unavailable(full), true); return }
        this.agentSessions.set(who.name, (this.agentSessions.get(who.name) ?? 0) + 1)
      }
      principal = who
      this.sessions.set(socket, { token: hello.output.token, agent: who.kind === 'agent' ? who.name : undefined, end: err => { fail(null, err, true) } })
      send({ ok: true, node: this.opts.node() })
    }

    const onRequest = async (frame: unknown, who: Principal): Promise<void> => {
      const env = v.safeParse(RequestEnvelopeSchema, frame)
      const rawId = typeof frame === 'object' && frame !== null ? (frame as any).id : undefined
      const id = Number.isSafeInteger(rawId) && rawId >= 0 ? rawId as number : null
      // The edge for everything a local client sends (grants, messages, names): no lone
      // surrogates, no nesting past MAX_JSON_DEPTH.
      const bad = jsonProblem(frame)
      if (bad !== null) {
        fail(id, badRequest(`Cannot parse request: ${bad}`), id === null)
        return
      }
      if (!env.success) {
        const path = v.getDotPath(env.issues[0]) ?? 'frame'
        fail(id, badRequest(`Cannot parse request: ${issueSubject(env.issues[0], path)}: ${describeIssue(env.issues[0])}`), id === null)
        return
      }
      const { id: reqId, type } = env.output
      // The secret is checked again on every request: a rotated or revoked one stops at once.
      const session = this.sessions.get(socket)
      if (session === undefined || this.opts.authenticate(session.token) === undefined) {
        fail(reqId, unauthenticated(`Cannot run ${type}: this session's token was rotated or revoked; connect again with the current token`), true)
        return
      }
      const { id: _i, type: _t, ...rest } = frame as Record<string, unknown>
      const params = v.safeParse(REQUEST_PARAMS[type], rest)
      if (!params.success) {
        const path = v.getDotPath(params.issues[0]) ?? 'params'
        fail(reqId, badRequest(`Cannot run ${type}: ${issueSubject(params.issues[0], path)}: ${describeIssue(params.issues[0])}`), false)
        return
      }
      if (inFlight >= this.opts.maxInFlight) {
        fail(reqId, unavailable(`Cannot run ${type}: ${this.opts.maxInFlight} requests are already in flight on this connection`), false)
        return
      }
      inFlight++
      const undos: Array<() => void> = []
      const unsent = (): void => {
        for (const undo of undos.splice(0)) {
          try { undo() } catch (err) { console.error(`ipc: cannot undo unsent ${type}:`, err) }
        }
      }
      try {
        const result = await this.opts.dispatch(who, type, params.output, abort.signal, undo => { undos.push(undo) })
        let frame: Buffer
        try {
          frame = encodeFrame({ id: reqId, ok: true, result: result ?? null })
        } catch (err) {
          unsent()
          // Lists are cut to fit (LIST_MAX_BYTES); this is the net under every other answer.
          throw tooLarge(`Cannot answer ${type}: the answer is larger than the ${MAX_FRAME_BYTES} bytes one IPC frame carries; ask for less (a smaller --limit, where the command takes one)`, { cause: err })
        }
        if (undos.length === 0) {
          if (closed || socket.destroyed) return
          write(frame)
          if (socket.writableLength > this.opts.maxBufferedBytes) socket.destroy()
          return
        }
        if (closed || socket.destroyed) { unsent(); return }
        write(frame, err => { if (err != null) unsent() })
        if (socket.writableLength > this.opts.maxBufferedBytes) socket.destroy()
      } catch (err) {
        // The machine refusing a file (full disk, read-only, a directory in the way) is said in
        // words naming the file, whichever handler met it (token rotate on a full disk was INTERNAL).
        const e = toSovError(explainFsError(err, `run ${type}`))
        if (e.code === 'INTERNAL') console.error(`ipc: ${type} failed:`, err)
        send({ id: reqId, ok: false, error: e.toJSON() })
      } finally {
        inFlight--
      }
    }

    // Frames are handled in order until hello succeeds; afterwards each request runs on its own.
    let helloChain: Promise<void> = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      if (closed) return
      let frames: unknown[]
      try {
        frames = decoder.push(chunk)
      } catch (err) {
        fail(null, toSovError(err, 'BAD_REQUEST'), true)
        return
      }
      for (const frame of frames) {
        helloChain = helloChain.then(async () => {
          if (closed) return
          if (principal === undefined) {
            clearTimeout(helloTimer)
            await onHello(frame)
          } else {
            void onRequest(frame, principal)
          }
        }).catch(err => { console.error('ipc: unexpected error:', err); close() })
      }
    })
  }
}
