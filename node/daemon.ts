/**
 * The daemon: wires the parts of a node together and runs them under one supervisor
 * (audit → store → mesh → a2a → finance → IPC; stopped in reverse).
 */
import { existsSync, fstatSync, readFileSync, writeSync } from 'node:fs'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { VERSION, parseHttpListen, swarmKeyInvalid, unavailable } from '../protocol/index.js'
import { FORCE_PNET_ENV, createMeshNode, forcePnet, loadOrCreateIdentity, parseSwarmKey, swarmKeyFingerprint, type MeshNode } from '../mesh/index.js'
import { A2aTasks, createMailboxes, streamRefusal, type AuthResult, type Mailboxes } from '../a2a/index.js'
import { loadConfig, type Config } from './config.js'
import { reloadConfig, type ReloadResult } from './config-reload.js'
import { assertPrivate, homePaths, type HomePaths } from './home.js'
import { ensureDir, explainFsError } from './files/index.js'
import { initHome } from './init.js'
import { LicenceWatcher } from './licence.js'
import { acquireLock } from './lock.js'
import { Supervisor } from './supervisor.js'
import { guardConsole } from './console-guard.js'
import { capsAuditParts, secretForms } from './parts.js'
import { AUDIT_TAIL_WINDOW_ROWS, RefusalAudit, type AuditEvent, type AuditLog } from './audit/index.js'
import { AgentTokens, RevokedPeers, guardMeshProtocol, newOperatorToken, readOperatorToken, secretDigest, digestEquals, type Capabilities } from './caps/index.js'
import { IpcServer, createDispatcher, type IpcComponents } from './ipc/index.js'

export interface DaemonOptions {
  home?: string
  /** Listen addresses for this run, overriding `config.json`. */
  listen?: string[]
  /** Where progress lines go. @default stdout */
  log?: (line: string) => void
  /** Called once the daemon serves (`node start --foreground --json` prints it; issue 14). */
  onReady?: (info: DaemonInfo & { pid: number }) => void
}

export interface DaemonInfo { peerId: string, addrs: string[], fingerprint: string, home: string, version: string }

export class Daemon implements IpcComponents {
  readonly paths: HomePaths
  readonly config: Config
  readonly privateKey: PrivateKey
  readonly peerId: string
  readonly fingerprint: string
  readonly startedAt = Date.now()
  readonly agents: AgentTokens
  readonly revoked: RevokedPeers
  /** The operator token and its `secretDigest`, replaced together: a request hashes only its own token. */
  private operator: { token: string, digest: Buffer }
  mesh!: MeshNode
  a2a!: Mailboxes
  /** A2A tasks across the mesh and the local A2A endpoint (issue 11). */
  tasks?: A2aTasks
  /** Opened by the `audit` part, the first to start and the last to stop. */
  auditLog!: AuditLog
  /** Opened by the `caps` part; `caps.check()` is the one authority check. */
  caps!: Capabilities
  readonly licence: LicenceWatcher
  private readonly supervisor: Supervisor
  private readonly swarmKey: Uint8Array
  private readonly listen: string[]
  private readonly stopWaiters = Promise.withResolvers<void>()
  private releaseLock?: () => void
  private readonly ipc: IpcServer
  /** Refusals of remote peers, aggregated so no peer can grow the log fast (issue 10 §3). */
  private readonly refusals = new RefusalAudit({ write: async e => { await this.audit(e, true) } })
  /**
   * Local refusals (a refused hello, an agent token's forbidden request, a refused A2A endpoint
   * call), aggregated per actor, type and reason: one agent wrote 8 MB/s of rows (stop 25).
   */
  private readonly localRefusals = new RefusalAudit({
    write: async e => { await this.audit(e, true) },
    keyOf: e => `${e.actor}\0${e.type}\0${String(e.detail.reason ?? '').slice(0, 200)}`,
    overflowOf: e => ({ key: `${e.actor}\0${e.type}\0*`, event: e })
  })

  private constructor (paths: HomePaths, config: Config, privateKey: PrivateKey, swarmKey: Uint8Array, listen: string[], private readonly log: (line: string) => void) {
    this.paths = paths
    this.config = config
    this.privateKey = privateKey
    this.peerId = peerIdFromPrivateKey(privateKey).toString()
    this.swarmKey = swarmKey
    this.fingerprint = swarmKeyFingerprint(swarmKey)
    this.listen = listen
    this.agents = new AgentTokens(paths.agents)
    this.revoked = new RevokedPeers(paths.revokedPeers)
    this.operator = operatorSecret(readOperatorToken(paths.operatorToken))

    const ipc = this.ipc = new IpcServer({
      path: paths.socket,
      authenticate: token => {
        const digest = secretDigest(token)
        if (digestEquals(digest, this.operator.digest)) return { kind: 'operator' }
        const agent = this.agents.authenticate(token, digest)
        return agent === undefined ? undefined : { kind: 'agent', name: agent.name }
      },
      dispatch: createDispatcher(this),
      onAuthFailure: async reason => {
        await this.localRefusals.record({ type: 'IPC_AUTH_FAILED', actor: 'unknown', outcome: 'denied', detail: { reason } })
      },
      node: () => ({ peerId: this.peerId, version: VERSION })
    })

    this.licence = new LicenceWatcher({ config, path: paths.licence, audit: async (e, durable) => { await this.audit(e, durable) } })

    this.supervisor = new Supervisor([
      ...capsAuditParts(this, secretForms(() => this.operator.token, swarmKey, privateKey), log),
      {
        name: 'mesh',
        start: async () => {
          this.mesh = await createMeshNode({
            privateKey: this.privateKey,
            swarmKey: this.swarmKey,
            listen: this.listen,
            bootstrap: this.config.bootstrap,
            datastorePath: this.paths.peerStore,
            isRevoked: (id: string) => this.revoked.has(id),
            relayServe: this.config.relay.serve ? this.config.relay : false,
            relayUse: this.config.relay.use,
            reachability: this.config.reachability,
            announce: this.config.announce,
            appendAnnounce: this.config.appendAnnounce,
            noAnnounce: this.config.noAnnounce
          })
        },
        stop: async () => { await this.mesh?.stop() }
      },
      {
        name: 'a2a',
        start: async () => {
          this.a2a = createMailboxes({
            node: this.mesh,
            dbPath: this.paths.mailboxDb,
            maxEnvelopeBytes: this.config.limits.maxEnvelopeBytes,
            maxDeliveries: this.config.limits.maxDeliveries,
            retryBaseMs: this.config.a2a.retryBaseMs,
            retryMaxMs: this.config.a2a.retryMaxMs,
            sweepIntervalMs: this.config.a2a.sweepIntervalMs,
            authorize: (peerId, mailbox) => this.authorizeA2A(peerId, mailbox),
            // A peer's refusals are aggregated; other refusals are durable before they are
            // answered; accepts ride the group commit, and resolve once on disk (the receiver
            // then forgets them in accept_unaudited).
            audit: async event => {
              if (event.type === 'A2A_REJECTED') await this.refusals.record(event)
              else await this.audit(event, event.outcome !== 'ok' || event.type === 'A2A_ACCEPTED')
            },
            acceptedInAudit: async ids => {
              const want = new Set(ids)
              const found = new Set<string>()
              for (const r of await this.auditLog.tail(AUDIT_TAIL_WINDOW_ROWS)) if (r.type === 'A2A_ACCEPTED' && want.has(String(r.detail.id))) found.add(String(r.detail.id))
              return found
            },
            // A peer without any /a2a/send grant is refused before the handler reads a byte.
            handleProtocol: async (protocol, handler, handleOptions) => await guardMeshProtocol(this.mesh, {
              protocol, cmd: '/a2a/send', caps: this.caps, handler, handleOptions, answer: streamRefusal, audit: async e => { await this.refusals.record(e) }
            })
          })
          await this.a2a.start()
        },
        stop: async () => {
          await this.a2a?.stop()
          await this.refusals.flush()
        }
      },
      {
        name: 'a2a-tasks',
        start: async () => {
          this.tasks = new A2aTasks({
            node: this.mesh,
            dbPath: this.paths.tasksDb,
            listen: parseHttpListen(this.config.a2a.http?.listen),
            blockingMaxMs: this.config.a2a.http?.blockingMaxMs,
            // Calling remote agent NAME is what a mailbox send to NAME is: the same grant decides.
            authorize: (peerId, agent) => this.authorizeA2A(peerId, agent),
            authenticate: (token, agent) => {
              const rec = this.agents.authenticate(token)
              if (rec === undefined) return undefined
              const r = this.caps.check({ aud: `agent:${rec.name}`, cmd: '/a2a/post', mailbox: agent })
              return r.ok ? { name: rec.name } : { name: rec.name, refused: `agent "${rec.name}" may not call out: ${r.reason}` }
            },
            audit: async event => {
              if (event.type === 'A2A_HTTP_REFUSED') await this.localRefusals.record(event)
              else await this.audit(event, event.outcome !== 'ok')
            },
            mailboxes: {
              deliverLocal: (mailbox, id, sender, message, ttlMs) => this.a2a.deliverLocal(mailbox, id, sender, message, ttlMs),
              settle: (mailbox, id) => this.a2a.settle(mailbox, id),
              renew: (mailbox, id) => this.a2a.renew(mailbox, id)
            },
            log
          })
          await this.tasks.start()
          const url = this.tasks.httpUrl
          if (url !== null) log(`A2A endpoint: ${url}`)
        },
        stop: async () => {
          await this.tasks?.stop()
          await this.localRefusals.flush()
        }
      },
      // Licence checks run in the background: a slow Electrum server never delays the start.
      { name: 'finance', start: async () => { this.licence.start() }, stop: async () => { await this.licence.stop() } },
      { name: 'ipc', start: async () => { await ipc.start() }, stop: async () => { await ipc.stop(); await this.localRefusals.flush() } }
    ], { log })
  }

  /** Checks the home, takes the lock and starts every part. A failed start leaves nothing running. */
  static async start (opts: DaemonOptions = {}): Promise<Daemon> {
    const paths = homePaths(opts.home)
    process.umask(0o077)
    const log = opts.log ?? resilientLog
    let release: () => void
    try {
      ensureDir(paths.root)
      release = await acquireLock(paths.lock, paths.root)
    } catch (err) {
      throw explainFsError(err)
    }
    try {
      // go-libp2p's LIBP2P_FORCE_PNET=1: never run without a PSK, so never invent a new mesh here.
      if (forcePnet() && !existsSync(paths.swarmKey)) {
        throw swarmKeyInvalid(`Cannot start: "${paths.swarmKey}" is missing and ${FORCE_PNET_ENV}=1 enforces a private network; copy your mesh's swarm key there or join with \`sov join INVITE\``)
      }
      const init = await initHome({ home: paths.root })
      if (init.created.swarmKey) {
        log(`Created a new swarm key (fingerprint ${init.fingerprint}) in ${paths.swarmKey}.`)
        log('Share it with your other machines using `sov swarm-key invite` (or copy the file, mode 0600).')
      }
      assertPrivate(paths.swarmKey, 'swarm key')
      assertPrivate(paths.nodeKey, 'node key')
      assertPrivate(paths.operatorToken, 'operator token')
      const config = loadConfig(paths.config)
      const { key } = parseSwarmKey(readFileSync(paths.swarmKey))
      const privateKey = await loadOrCreateIdentity(paths.nodeKey)
      const daemon = new Daemon(paths, config, privateKey, key, opts.listen ?? config.listen, log)
      daemon.releaseLock = release
      await daemon.supervisor.start()
      return daemon
    } catch (err) {
      release()
      throw explainFsError(err)
    }
  }

  get home (): string { return this.paths.root }

  /** Applies what it can of a changed config.json (`sov config set`, SIGHUP); names the rest. */
  async reloadConfig (): Promise<ReloadResult> {
    return await reloadConfig(this.paths.config, this.config, this.mesh)
  }

  info (): DaemonInfo {
    return {
      peerId: this.peerId,
      addrs: this.mesh.getMultiaddrs().map(a => a.toString()),
      fingerprint: this.fingerprint,
      home: this.paths.root,
      version: VERSION
    }
  }

  /**
   * May `peerId` (the authenticated remote PeerId) deliver to our `mailbox`? DESIGN §8: only
   * with a valid `/a2a/send` grant this node signed for that peer and mailbox (`caps.check`).
   * Every A2A envelope passes through here; the receiver writes the audit row of a refusal.
   */
  authorizeA2A (peerId: string, mailbox: string): AuthResult {
    if (this.revoked.has(peerId)) return { ok: false, reason: `peer ${peerId} is revoked` }
    const r = this.caps.check({ aud: peerId, cmd: '/a2a/send', mailbox })
    return r.ok ? { ok: true } : { ok: false, reason: r.reason }
  }

  /**
   * Writes an audit row. `durable` rows are on disk before this resolves and it rejects when they
   * cannot be written (the caller then refuses its action); other rows are queued and go out with
   * the next group commit.
   */
  /** Records a local refusal, aggregated (`localRefusals`); durable when it opens its window. */
  async refusal (event: AuditEvent): Promise<void> {
    await this.localRefusals.record(event)
  }

  /** Bound (an arrow): parts and IPC handlers are handed `audit` itself and call it unbound. */
  readonly audit = async (event: AuditEvent, durable = false): Promise<void> => {
    if (this.auditLog === undefined) {
      if (durable) throw unavailable(`Cannot record ${event.type}: the audit log is not open`)
      return
    }
    if (durable) {
      await this.auditLog.append(event)
      return
    }
    this.auditLog.append(event).catch(err => { this.log(`audit: cannot record ${event.type}: ${(err as Error).message}`) })
  }

  /** Writes a new operator token; every session opened with the old one ends (issue 10 §2). */
  rotateOperatorToken (): string {
    this.operator = operatorSecret(newOperatorToken(this.paths.operatorToken))
    this.endStaleSessions()
    return this.paths.operatorToken
  }

  /** After the current reply is written (sessions end gracefully, so the caller still gets it). */
  endStaleSessions (): void {
    setImmediate(() => { this.ipc.endStaleSessions(); this.tasks?.endRevokedStreams() })
  }

  /** Resolves once the daemon has stopped (by `stop()`, a signal or `node stop`). */
  get stopped (): Promise<void> { return this.stopWaiters.promise }

  async stop (): Promise<void> {
    await this.supervisor.stop()
    this.releaseLock?.()
    this.stopWaiters.resolve()
  }
}

/**
 * `sov node start --foreground`: starts, prints the PeerId and addresses, runs until SIGINT or
 * SIGTERM (or `sov node stop`), stops cleanly and exits 0.
 */
export async function runDaemon (opts: DaemonOptions = {}): Promise<void> {
  // stdout/stderr are daemon.log in the background: a failed write there (disk full, EPIPE) must
  // never stop the daemon (issue 10 §4). Lines that cannot be written are dropped. The CLI's
  // own handler (quit quietly when a reader such as `| head` hangs up) is taken off first.
  for (const s of [process.stdout, process.stderr]) { s.removeAllListeners('error'); s.on('error', () => {}) }
  const log = opts.log ?? resilientLog
  // Libraries' console lines (the A2A SDK's carry text a client chose) go out as the daemon's own:
  // one escaped line each, at a bounded rate.
  guardConsole(log)
  const daemon = await Daemon.start({ ...opts, log })
  const info = daemon.info()
  log(`Sovereign ${info.version} running in ${info.home}`)
  log(`PeerId: ${info.peerId}`)
  for (const a of info.addrs) log(`Listening on ${withPeer(a, info.peerId)}`)
  if (info.addrs.length === 0) log('Announcing no address: this node only dials out (others reach it through a relay, if it holds a slot)')
  log(`Swarm key fingerprint: ${info.fingerprint}`)
  opts.onReady?.({ ...info, pid: process.pid })
  const onSignal = (sig: string): void => {
    log(`Received ${sig}; stopping`)
    void daemon.stop()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // SIGHUP: re-read config.json, as Kubo-style operators expect (node/config-reload.ts).
  const onHup = (): void => {
    daemon.reloadConfig().then(
      r => { log(`Config reloaded: applied ${r.applied.join(', ') || 'nothing'}; restart needed for ${r.restartNeeded.join(', ') || 'nothing'}`) },
      err => { log(`Config not reloaded: ${(err as Error).message}`) })
  }
  process.on('SIGHUP', onHup)
  await daemon.stopped
  process.removeListener('SIGHUP', onHup)
  log('Stopped')
  // libp2p leaves a ~1 s timer after stop(); exit explicitly once everything is closed.
  process.exit(0)
}

/**
 * One progress line to stdout, never thrown: a full disk or a closed pipe loses the line, not
 * the daemon. Into a file (daemon.log) it is written on fd 1 directly, so later lines go out once
 * there is space again (Node's file stream gives up for good after its first error).
 */
function resilientLog (line: string): void {
  try {
    if (stdoutIsFile ??= isFile(1)) writeSync(1, line + '\n')
    else process.stdout.write(line + '\n')
  } catch { /* dropped: the log is best effort */ }
}
let stdoutIsFile: boolean | undefined

function isFile (fd: number): boolean {
  try { return fstatSync(fd).isFile() } catch { return false }
}

/** libp2p reports addresses with `/p2p/<id>` already; add it where missing. */
function withPeer (addr: string, peerId: string): string {
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${peerId}`
}

function operatorSecret (token: string): { token: string, digest: Buffer } {
  return { token, digest: secretDigest(token) }
}
