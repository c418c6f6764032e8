/**
 * The CLI side of IPC: connects to `sov.sock`, says `hello` with the operator token (or
 * `$SOV_TOKEN`, an agent token), then sends id-matched requests.
 */
import { connect, type Socket } from 'node:net'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  FrameDecoder, IPC_VERSION, SovError, badRequest, encodeFrame, isErrorCode, timeout, unauthenticated, unavailable,
  type HelloReply, type IpcResponse, type RequestParams, type RequestType
} from '../protocol/index.js'

/** Default deadline of one request. Long polls add their own wait on top. */
export const REQUEST_TIMEOUT_MS = 30_000

export function homeDir (home?: string): string {
  return resolve(home ?? process.env.SOV_HOME ?? join(homedir(), '.sovereign'))
}

export class IpcClient {
  private readonly socket: Socket
  private readonly decoder = new FrameDecoder()
  private nextId = 1
  private readonly waiting = new Map<number, (r: IpcResponse) => void>()
  private helloWaiter?: (frame: any) => void
  private closedError?: SovError
  node?: HelloReply['node']

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', chunk => {
      let frames: unknown[]
      try { frames = this.decoder.push(chunk) } catch (err) { this.fail(err as SovError); return }
      for (const f of frames as any[]) {
        if (this.helloWaiter !== undefined) { const w = this.helloWaiter; this.helloWaiter = undefined; w(f); continue }
        const w = this.waiting.get(f.id)
        if (w !== undefined) { this.waiting.delete(f.id); w(f) } else if (f.ok === false) this.fail(toError(f.error))
      }
    })
    socket.on('error', err => { this.fail(unavailable(`Lost the daemon connection: ${err.message}`, { cause: err })) })
    socket.on('close', () => { this.fail(unavailable('Lost the daemon connection: it closed')) })
  }

  /** Connects and authenticates. `token` defaults to `$SOV_TOKEN`, else the home's operator token. */
  static async open (home?: string, token?: string): Promise<IpcClient> {
    const root = homeDir(home)
    assertHomeExists(root)
    const sock = join(root, 'sov.sock')
    const env = token === undefined ? process.env.SOV_TOKEN : undefined
    // Set but empty is a mistake (an unset variable expanded), never a reason to use another token.
    if (env === '') throw unauthenticated('Cannot authenticate: $SOV_TOKEN is set but empty; unset it to use this home\'s operator token, or set it to an agent token (sov agent-token issue)')
    const secret = token ?? env ?? readToken(root)
    const socket = await new Promise<Socket>((res, rej) => {
      const s = connect(sock)
      s.once('connect', () => { s.removeAllListeners('error'); res(s) })
      s.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'the daemon is not running (start it with `sov node start`)' : err.message
        rej(unavailable(`Cannot reach the daemon at "${sock}": ${why}`, { cause: err }))
      })
    })
    const client = new IpcClient(socket)
    const reply = await client.exchange(() => {
      socket.write(encodeFrame({ type: 'hello', version: IPC_VERSION, token: secret }))
    })
    if (reply?.ok !== true) {
      client.close()
      const err = reply?.error !== undefined ? toError(reply.error) : unauthenticated('Cannot authenticate: the daemon refused hello')
      // Say where the refused token came from: $SOV_TOKEN overrides the operator token.
      if (env !== undefined && err.code === 'UNAUTHENTICATED') err.message += ' (the token came from $SOV_TOKEN: unset it to use this home\'s operator token)'
      throw err
    }
    client.node = reply.node
    return client
  }

  private async exchange (sendHello: () => void): Promise<any> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(timeout('Cannot authenticate: the daemon did not answer hello')) }, REQUEST_TIMEOUT_MS)
      this.helloWaiter = (f) => { clearTimeout(timer); resolve(f) }
      this.onFail = (e) => { clearTimeout(timer); reject(e) }
      sendHello()
    })
  }

  private onFail?: (err: SovError) => void
  private corked = false

  /** Requests made in one tick leave in one writev (one syscall each tick, issue 15). */
  private write (frame: Buffer): void {
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => { this.corked = false; this.socket.uncork() })
    }
    this.socket.write(frame)
  }

  async request<T extends RequestType> (type: T, params: RequestParams<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<any> {
    if (this.closedError !== undefined) throw this.closedError
    const id = this.nextId++
    const reply = await new Promise<IpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); this.rejecters.delete(id); reject(timeout(`Cannot finish ${type}: no answer within ${timeoutMs} ms${unknownOutcome(type)}`)) }, timeoutMs)
      this.waiting.set(id, r => { clearTimeout(timer); resolve(r) })
      // A connection lost with the request in flight: the daemon may have carried it out.
      this.rejecters.set(id, e => { clearTimeout(timer); reject(e.message.startsWith('Lost the daemon connection') ? new SovError(e.code, `${e.message} while ${type} waited for its answer${unknownOutcome(type)}`) : e) })
      this.write(encodeFrame({ id, type, ...params }))
    })
    this.rejecters.delete(id)
    if (!reply.ok) throw toError(reply.error)
    return reply.result
  }

  private readonly rejecters = new Map<number, (e: SovError) => void>()

  private fail (err: SovError): void {
    if (this.closedError !== undefined) return
    this.closedError = err
    this.onFail?.(err)
    for (const [id, reject] of this.rejecters) { this.waiting.delete(id); reject(err) }
    this.rejecters.clear()
    this.socket.destroy()
  }

  /** Closes the connection; pending requests fail at once (their timers must not hold the process). */
  close (): void {
    this.fail(unavailable('Connection closed'))
  }
}

/**
 * A mistyped `--home` must not invite `sov init` at the typo (issue 14): say the home does not
 * exist and where the default one is. A usage error (exit 2).
 */
export function assertHomeExists (root: string): void {
  if (existsSync(root)) return
  const from = process.argv.includes('--home') ? '--home' : process.env.SOV_HOME !== undefined ? '$SOV_HOME' : 'the default home'
  throw badRequest(`Cannot use home "${root}" (from ${from}): it does not exist; check the path (only \`sov init\` and \`sov node start\` make a new home)`)
}

function readToken (root: string): string {
  try {
    return readFileSync(join(root, 'operator.token'), 'utf8').trim()
  } catch (cause) {
    throw unauthenticated(`Cannot read the operator token in "${root}": run \`sov init\` or set $SOV_TOKEN`, { cause })
  }
}

/**
 * How to learn whether a change whose answer never came was made, before trying it again (a
 * second `a2a.send` would queue a second message). Requests that change nothing are absent.
 */
const CHECK_AFTER_LOSS: Partial<Record<RequestType, string>> = {
  'a2a.send': 'send it again with the same --message-id (queued once), or `sov a2a outbox --peer PEER` lists it if it was queued',
  'a2a.reply': 'send it again with the same --message-id (answered as the first time if it was taken); without one, a final reply sent again answers CONFLICT if the first was taken',
  'a2a.ack': '`sov a2a receive` shows the message again if the ack was not taken',
  'a2a.nack': '`sov a2a receive` shows whether the message is back',
  'a2a.redrive': '`sov a2a dead MAILBOX` lists what is still dead',
  'a2a.purge': '`sov a2a mailboxes` shows what is left',
  'a2a.retry': '`sov a2a outbox` shows its status',
  'cap.grant': '`sov cap list` shows it if it was made',
  'cap.revoke': '`sov cap list` shows whether it is still live',
  'agentToken.issue': '`sov agent-token list` shows it if it was made (its token was shown nowhere: issue it again)',
  'agentToken.revoke': '`sov agent-token list` shows whether it is gone',
  'agent.add': '`sov agent list` shows it if it was added',
  'agent.remove': '`sov agent list` shows whether it is gone',
  'token.rotate': 'if the old token stopped working, the new one is in operator.token',
  'peers.revoke': '`sov peers` shows whether it is revoked',
  'peers.unrevoke': '`sov peers` shows whether it is revoked',
  'audit.purge': '`sov audit tail` shows an AUDIT_PURGED row if it ran',
  'audit.acknowledge': '`sov audit tail` shows an AUDIT_ACKNOWLEDGED row if it was taken'
}

function unknownOutcome (type: RequestType): string {
  const check = CHECK_AFTER_LOSS[type]
  return check === undefined ? '' : `; it may have been carried out: ${check}`
}

function toError (e: { code?: unknown, message?: unknown } | undefined): SovError {
  const code = isErrorCode(e?.code) ? e.code : 'INTERNAL'
  return new SovError(code, typeof e?.message === 'string' ? e.message : 'Unknown error')
}

/** Opens a client, runs `fn`, closes it. */
export async function withDaemon<R> (home: string | undefined, fn: (c: IpcClient) => Promise<R>): Promise<R> {
  const client = await IpcClient.open(home)
  try {
    return await fn(client)
  } finally {
    client.close()
  }
}
