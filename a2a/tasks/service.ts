/**
 * A2A tasks across the mesh under one lifecycle (issue 11): `tasks.db`, the
 * `/sov/a2a-task/1.1.0` and `1.0.0` handlers and caller, the forwarder to local agents, and the
 * local HTTP endpoint. Started after the mailboxes, stopped before them.
 */
import type { Libp2p, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { createHash } from 'node:crypto'
import * as v from 'valibot'
import { Message, Task } from '@a2a-js/sdk'
import { v7 as uuidv7 } from 'uuid'
import { A2A_TASK_PROTOCOL, A2A_TASK_SESSION_PROTOCOL, MAX_TASK_PAYLOAD_BYTES, MailboxNameSchema, badRequest, conflict, isSovError, jcs, notFound, shownUrl, payloadTooLarge, tooLarge, unavailable } from '../../protocol/index.js'
import type { AuditSink, Authorize } from '../types.js'
import { report } from '../types.js'
import { cardUrlOf, fetchAgentCard } from './agent-card.js'
import { Forwarder } from './forward.js'
import { Gateway } from './gateway.js'
import { OfferedCards } from './offered-cards.js'
import { RemoteCalls } from './remote.js'
import { TaskServer } from './serve.js'
import { TaskDb } from './task-db.js'
/** Inbound `/sov/a2a-task/1.0.0` streams per connection. @default 64 */
export const MAX_TASK_STREAMS = 64
/** Inbound `/sov/a2a-task/1.1.0` streams per connection (a caller needs one; more while one ends). @default 8 */
export const MAX_TASK_SESSIONS = 8
/** How long a call waits in a pull agent's mailbox. @default 24 h */
export const PULL_CALL_TTL_MS = 24 * 3600_000

export interface TasksInit {
  node: Libp2p
  /** Path of `tasks.db` (created 0600). */
  dbPath: string
  /** The callee's check: may `peer` call our agent `name`? (`/a2a/send` on mailbox `name`) */
  authorize: Authorize
  audit: AuditSink
  /** Bearer check of the local endpoint (see `GatewayInit.authenticate`). */
  authenticate: (token: string, agent: string) => { name: string, refused?: string } | undefined
  /** Where the local endpoint listens; null disables it. */
  listen: { host: string, port: number } | null
  /** Longest blocking SendMessage, in ms. @default BLOCKING_MAX_MS (60 s) */
  blockingMaxMs?: number
  handleProtocol?: (protocol: string, handler: StreamHandler, options: StreamHandlerOptions) => Promise<() => Promise<void>>
  /** The mailboxes, for pull agents: a call is put into mailbox NAME, a final reply acks it. */
  mailboxes?: {
    deliverLocal: (mailbox: string, id: string, sender: string, message: unknown, ttlMs: number) => unknown
    /** Removes an answered call's message from the mailbox, whatever its lease (`Mailboxes.settle`). */
    settle: (mailbox: string, id: string) => unknown
    /** Renews the lease on a call's message (a `working` reply: the agent still holds it). */
    renew: (mailbox: string, id: string) => unknown
  }
  log?: (line: string) => void
}

/** `--state` of `sov a2a reply`, and the A2A task state it sets. */
export const REPLY_STATES = {
  working: 'TASK_STATE_WORKING',
  completed: 'TASK_STATE_COMPLETED',
  failed: 'TASK_STATE_FAILED',
  'input-required': 'TASK_STATE_INPUT_REQUIRED',
  rejected: 'TASK_STATE_REJECTED'
} as const
export type ReplyState = keyof typeof REPLY_STATES
/** A pull agent's reply (`a2a.reply`); `messageId` makes it safe to send again. */
export interface Reply { parts: unknown[], state: ReplyState, artifact?: string, messageId?: string }
export interface ReplyResult { id: string, taskId: string, state: string, final: boolean }

/** What a reply asked, as one value: RFC 8785 canonical JSON, so member order does not count. */
function digestOf (value: unknown): string {
  return createHash('sha256').update(jcs(value)).digest('base64url')
}

export interface OfferedAgentInfo { name: string, mode?: 'forward' | 'pull', url: string, description: string, addedAt: number }

export class A2aTasks {
  status: 'stopped' | 'started' = 'stopped'
  private readonly init: TasksInit
  private db?: TaskDb
  private forwarder?: Forwarder
  private cards?: OfferedCards
  private server?: TaskServer
  private remote?: RemoteCalls
  private gateway?: Gateway
  private unhandle?: () => Promise<void>
  private unhandleSession?: () => Promise<void>
  /** The reply being made to each call (`reply` serialises them). */
  private readonly replying = new Map<string, Promise<ReplyResult>>()

  constructor (init: TasksInit) { this.init = init }

  /** The local endpoint's base URL, or null when disabled (or not started). */
  get httpUrl (): string | null { return this.gateway?.url ?? null }

  /** Ends the endpoint's open answers (streams) of tokens that no longer authenticate. */
  endRevokedStreams (): void { this.gateway?.endRevoked() }

  async start (): Promise<void> {
    if (this.status === 'started') return
    try {
      const db = this.db = TaskDb.open(this.init.dbPath)
      const forwarder = this.forwarder = new Forwarder({ db, audit: this.init.audit, onEvent: id => { this.server?.notify(id) } })
      const cards = this.cards = new OfferedCards({ db, onChange: name => { forwarder.forget(name) }, log: this.init.log })
      const mb = this.init.mailboxes
      const server = this.server = new TaskServer({
        db, forwarder, cards, authorize: this.init.authorize, audit: this.init.audit,
        deliver: mb === undefined ? undefined : (mailbox, id, sender, message) => { mb.deliverLocal(mailbox, id, sender, message, PULL_CALL_TTL_MS) }
      })
      const handle = this.init.handleProtocol ?? (async (p, h, o) => { await this.init.node.handle(p, h, o); return async () => { await this.init.node.unhandle(p) } })
      this.unhandle = await handle(A2A_TASK_PROTOCOL, server.handle, { maxInboundStreams: MAX_TASK_STREAMS })
      this.unhandleSession = await handle(A2A_TASK_SESSION_PROTOCOL, server.handleSession, { maxInboundStreams: MAX_TASK_SESSIONS })
      this.remote = new RemoteCalls({ node: this.init.node, db, audit: this.init.audit })
      if (this.init.listen !== null) {
        const gateway = new Gateway({ db, remote: this.remote, self: this.init.node.peerId.toString(), audit: this.init.audit, authenticate: this.init.authenticate, blockingMaxMs: this.init.blockingMaxMs })
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
    await this.unhandleSession?.().catch(() => {})
    this.server?.closeAll()
    this.cards?.stop()
    await this.forwarder?.stop()
    this.db?.close()
    this.db = this.forwarder = this.cards = this.server = this.remote = this.gateway = this.unhandle = this.unhandleSession = undefined
    this.status = 'stopped'
  }

  /**
   * `sov agent add NAME --url URL`: fetches the agent's card and offers it to the mesh as NAME.
   * `sov agent add NAME --pull [--description D]`: an agent without an HTTP server; calls go to
   * mailbox NAME and it answers with `sov a2a reply`.
   */
  async addAgent (name: string, url: string | undefined, actor: string, opts: { description?: string } = {}): Promise<OfferedAgentInfo> {
    const db = this.running()
    if (!v.is(MailboxNameSchema, name)) throw badRequest(`Cannot add agent "${name}": names are 1-64 of A-Z a-z 0-9 . _ -`)
    if (url === undefined) {
      if (this.init.mailboxes === undefined) throw unavailable(`Cannot add pull agent "${name}": the mailboxes are not running`)
      const description = opts.description ?? `Agent "${name}" (answers from its mailbox)`
      const card = { name, description, version: '1.0.0', supportedInterfaces: [], capabilities: {}, defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'], skills: [] }
      db.putOffered(name, 'pull', '', JSON.stringify(card))
      await report(this.init.audit, { type: 'A2A_AGENT_ADDED', actor, outcome: 'ok', detail: { name, mode: 'pull' } })
      return { name, url: '', description, addedAt: Date.now() }
    }
    let base: URL
    try { base = new URL(url) } catch (cause) { throw badRequest(`Cannot add agent "${name}": the --url given is not a URL`, { cause }) }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw badRequest(`Cannot add agent "${name}": "${shownUrl(base)}" is not http(s)`)
    // fetch refuses such a URL anyway; and a password must not sit in tasks.db and every message.
    if (base.username !== '' || base.password !== '') throw badRequest(`Cannot add agent "${name}": its URL carries a user name or password; give the URL without them (${shownUrl(base)})`)
    const cardUrl = cardUrlOf(base)
    let fetched
    try {
      fetched = await fetchAgentCard(cardUrl)
    } catch (cause) {
      if (isSovError(cause, 'BAD_REQUEST')) throw badRequest(`Cannot add agent "${name}": ${(cause as Error).message}`, { cause })
      throw unavailable(`Cannot add agent "${name}": cannot fetch its card from ${shownUrl(cardUrl)}: ${(cause as Error).message}; is the agent running?`, { cause })
    }
    if (fetched.status !== 'modified') throw unavailable(`Cannot add agent "${name}": ${shownUrl(cardUrl)} answered 304 to an unconditional request`)
    const card = fetched.card
    db.putOffered(name, 'forward', base.href, JSON.stringify(card), { etag: fetched.etag, freshUntil: Date.now() + fetched.lifeMs })
    this.forwarder?.forget(name)
    await report(this.init.audit, { type: 'A2A_AGENT_ADDED', actor, outcome: 'ok', detail: { name, url: shownUrl(base) } })
    return { name, url: base.href, description: String(card.description ?? ''), addedAt: Date.now() }
  }

  /**
   * `sov a2a reply MAILBOX ID …`: a pull agent's answer to call ID (the id `a2a receive` gave):
   * the next snapshot of the caller's task. With `artifact`, the parts become that artifact;
   * otherwise they are the status message. A final state acks the mailbox message.
   */
  async reply (mailbox: string, id: string, r: Reply, actor: string): Promise<ReplyResult> {
    // One reply to a call at a time: each builds on the snapshot before it, and a retry must
    // find its first try's row (two IPC frames can arrive in one read).
    const run = (this.replying.get(id) ?? Promise.resolve()).catch(() => {}).then(async () => await this.replyNow(mailbox, id, r, actor))
    this.replying.set(id, run)
    try {
      return await run
    } finally {
      if (this.replying.get(id) === run) this.replying.delete(id)
    }
  }

  private async replyNow (mailbox: string, id: string, r: Reply, actor: string): Promise<ReplyResult> {
    const db = this.running()
    const s = db.getServed(id)
    if (s === undefined || s.agent !== mailbox) throw notFound(`Cannot reply to "${id}" in mailbox "${mailbox}": no A2A call has that id (a call comes with a taskId in sov a2a receive ${mailbox}); a message sent with sov a2a send is not answered but acknowledged: sov a2a ack ${mailbox} LEASE`)
    if (db.getOffered(mailbox)?.mode !== 'pull') throw badRequest(`Cannot reply in mailbox "${mailbox}": it is not a pull agent (sov agent add ${mailbox} --pull)`)
    // The parts as A2A reads them: a retry built again from stored JSON (other key order, null
    // for absent) is the same reply.
    let parts: unknown[]
    try { parts = (Message.toJSON(Message.fromJSON({ messageId: 'm', role: 'ROLE_AGENT', parts: r.parts })) as { parts: unknown[] }).parts } catch (cause) { throw badRequest(`Cannot reply: the parts are not A2A parts: ${(cause as Error).message}`, { cause }) }
    const key = r.messageId === undefined ? undefined : { id: r.messageId, digest: digestOf({ parts, state: r.state, artifact: r.artifact ?? null }) }
    const state = REPLY_STATES[r.state]
    if (key !== undefined) {
      // A retry after a lost answer (its first try may have ended the turn): answered as before.
      const before = db.servedReply(id, key.id)
      if (before !== undefined) {
        if (before.digest !== key.digest) throw conflict(`Cannot reply to "${id}" with messageId "${key.id}": a reply with other content was already made under that id (snapshot ${before.seq}); give each new reply a new messageId`)
        if (before.held) throw unavailable(`Cannot confirm the reply "${key.id}" to "${id}": it is written but could not be made durable (the sync failed; the node's log says why); the node makes it durable when it restarts: restart it, then send the reply again`)
        // A restart between the reply's sync and its ack: the mailbox message is still there.
        if (before.final && this.init.mailboxes?.settle(mailbox, id) === true) await this.audited(mailbox, id, s.taskId, state, actor)
        return { id, taskId: s.taskId, state, final: before.final }
      }
    }
    if (s.done) throw conflict(`Cannot reply to "${id}": this turn of its task is over (the last reply was final: completed, failed, rejected or input-required); the caller's next message comes as a new call`)
    const prev = db.lastServedSnapshot(s.peer, s.taskId)
    const task: Record<string, any> = prev !== undefined ? JSON.parse(prev) : { id: s.taskId, contextId: s.contextId, history: [JSON.parse(s.message)], artifacts: [] }
    const msg = { messageId: key?.id ?? uuidv7(), role: 'ROLE_AGENT', taskId: s.taskId, contextId: s.contextId, parts }
    // The caller's own message of this turn is part of the task's history.
    const turn = JSON.parse(s.message)
    task.history = task.history ?? []
    // Once, where it came: before the replies to it (moving it last put it after them). Matched
    // by role too: a caller may reuse an id one of the agent's replies had.
    if (!task.history.some((m: any) => m.messageId === turn.messageId && m.role === turn.role)) task.history.push(turn)
    // An id already in the task (the caller's message, a reply of an earlier turn) would make two
    // messages one: a later retry could not tell them apart.
    if (key !== undefined && task.history.some((m: any) => m.messageId === key.id)) throw conflict(`Cannot reply to "${id}" with messageId "${key.id}": a message of task ${s.taskId} already has that id (the caller's, or a reply of an earlier turn); give each new reply a new messageId`)
    if (r.artifact !== undefined) {
      task.artifacts = [...(task.artifacts ?? []).filter((a: any) => a.artifactId !== r.artifact), { artifactId: r.artifact, name: r.artifact, parts }]
      task.status = { state, timestamp: new Date().toISOString() }
    } else {
      task.status = { state, timestamp: new Date().toISOString(), message: msg }
      task.history.push(msg)
    }
    let parsed
    try { parsed = Task.toJSON(Task.fromJSON(task)) } catch (cause) { throw badRequest(`Cannot reply: the parts are not A2A parts: ${(cause as Error).message}`, { cause }) }
    const final = state !== 'TASK_STATE_WORKING'
    const text = JSON.stringify(parsed)
    // The snapshot (history and artifacts included) must cross the mesh in one frame.
    const bytes = payloadTooLarge(text)
    if (bytes !== undefined) throw tooLarge(`Cannot reply to "${id}": the task would be ${bytes} bytes of JSON, over the ${MAX_TASK_PAYLOAD_BYTES} bytes one snapshot can carry to the caller; send large content as a file URL (a part with a url) instead of inline`)
    await db.appendServedEvent(id, text, final, key)
    this.server?.notify(id)
    if (!final) this.init.mailboxes?.renew(mailbox, id)
    if (final) {
      this.init.mailboxes?.settle(mailbox, id)
      await this.audited(mailbox, id, s.taskId, state, actor)
    }
    return { id, taskId: s.taskId, state, final }
  }

  /** The audit row of a turn a pull agent's final reply ended. */
  private async audited (mailbox: string, id: string, taskId: string, state: string, actor: string): Promise<void> {
    await report(this.init.audit, { type: 'A2A_TASK_ENDED', actor, outcome: state === 'TASK_STATE_COMPLETED' || state === 'TASK_STATE_INPUT_REQUIRED' ? 'ok' : 'error', detail: { side: 'callee', callId: id, agent: mailbox, taskId, state } })
  }

  listAgents (): OfferedAgentInfo[] {
    return this.running().offered().map(o => ({ name: o.name, mode: o.mode, url: o.url, description: String(JSON.parse(o.card).description ?? ''), addedAt: o.addedAt }))
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

