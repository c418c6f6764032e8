/** `sov init`, `sov node start|stop`, `sov status`. */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { conflict, daemonLockHolder, timeout, type StatusResult } from '../../protocol/index.js'
import { emit, reportError, type GlobalOptions } from '../output.js'
import { IpcClient, homeDir, withDaemon } from '../ipc-client.js'
import { LOG_TIMESTAMPS_ENV, startInBackground } from '../background.js'

const collect = (value: string, prev: string[] = []): string[] => [...prev, value]
/** How long `node start` waits for a background daemon to answer. */
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 30_000

export function registerNodeCommands (program: Command): void {
  program.command('init')
    .description('create the home: identity, swarm key, operator token, config')
    .option('--swarm-key <file>', 'use this swarm key instead of generating one')
    .option('--listen <multiaddr>', 'listen address (repeatable)', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap peer (repeatable)', collect)
    .action(async (o: { swarmKey?: string, listen?: string[], bootstrap?: string[] }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { initHome } = await import('../../node/index.js')
      const r = await initHome({ home: g.home, swarmKeyFile: o.swarmKey, listen: o.listen, bootstrap: o.bootstrap })
      emit(g, r, r => [
        `Home: ${r.home}`,
        `PeerId: ${r.peerId}`,
        `Swarm key fingerprint: ${r.fingerprint}${r.created.swarmKey && o.swarmKey === undefined ? ' (new key)' : o.swarmKey !== undefined ? ` (from ${o.swarmKey})` : ''}`,
        r.created.swarmKey && o.swarmKey === undefined ? 'Share the key with your other machines using `sov swarm-key invite`.' : ''
      ].filter(Boolean).join('\n'))
    })

  const node = program.command('node').description('run or stop the daemon')
  node.command('start')
    .description('start the daemon (in the background unless --foreground)')
    .option('--foreground', 'stay attached; print the PeerId and listen addresses; stop on Ctrl-C')
    .option('--listen <multiaddr>', 'listen address for this run (repeatable)', collect)
    .action(async (o: { foreground?: boolean, listen?: string[] }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      if (o.foreground === true) {
        const { runDaemon } = await import('../../node/index.js')
        try {
          // With --json, progress lines go to stderr and stdout gets one document once it serves.
          const json = g.json === true
          // In the background the log is an append-only file: each line says when (issue 14).
          const stamp = process.env[LOG_TIMESTAMPS_ENV] === '1' ? (l: string) => `${new Date().toISOString()} ${l}` : (l: string) => l
          await runDaemon({
            home: g.home,
            listen: o.listen,
            log: line => { (json ? process.stderr : process.stdout).write(stamp(line) + '\n') },
            ...(json ? { onReady: info => { emit(g, info, () => '') } } : {})
          })
        } catch (err) {
          process.exit(reportError(g, err))
        }
        return
      }
      const info = await startBackground(g.home, o.listen)
      emit(g, info, s => [`Started (pid ${s.pid})`, `PeerId: ${s.peerId}`, ...s.addrs.map(a => `Listening on ${a.includes('/p2p/') ? a : `${a}/p2p/${s.peerId}`}`)].join('\n'))
    })
  node.command('stop')
    .description('stop the daemon gracefully and wait for it to exit')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const pid = await withDaemon(g.home, async c => {
        const s = await c.request('status', {}) as StatusResult
        await c.request('node.stop', {})
        return s.pid
      })
      // Stopped = its lock is released (the kernel does that when the process is gone, zombie or not).
      const root = homeDir(g.home)
      const until = Date.now() + STOP_TIMEOUT_MS
      while ((await daemonLockHolder(root)) !== undefined) {
        if (Date.now() > until) throw timeout(`Cannot stop: daemon pid ${pid} still runs after ${STOP_TIMEOUT_MS} ms`)
        await sleep(50)
      }
      emit(g, { stopped: true, pid }, () => `Stopped (pid ${pid})`)
    })

  program.command('status')
    .description('show the node: PeerId, addresses, peers, DHT, licence, audit head, uptime')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const s = await withDaemon(g.home, async c => await c.request('status', {})) as StatusResult
      emit(g, s, s => [
        `Home:        ${s.home ?? '?'}`,
        `PeerId:      ${s.peerId}`,
        `Swarm key:   fingerprint ${s.fingerprint ?? '?'}`,
        `Addresses:   ${s.addrs.join(', ') || '(none)'}`,
        `Peers:       ${s.peers} connected, ${s.connections} connections`,
        `DHT:         ${s.dht.routingTable} in routing table`,
        ...(s.reachability !== undefined ? [`Reachable:   ${s.reachability}`] : []),
        ...(s.relay !== undefined ? [`Relay:       ${s.relay.serving ? 'serving members; ' : ''}${s.relay.reservations.map(r => `${r.role === 'client' ? 'slot on' : 'slot for'} ${r.peerId}`).join(', ') || 'no reservations'}`] : []),
        ...(s.mailboxes !== undefined ? [`Mailboxes:   ${mailboxLine(s.mailboxes, s.mailboxCount ?? s.mailboxes.length)}`] : []),
        `A2A HTTP:    ${s.a2aHttp ?? 'off'}`,
        `Licence:     ${s.licence.status}${(s.licence as { stale?: boolean }).stale === true ? ' (stale: the last check reached no verdict; kept through the grace)' : ''}${(s.licence as { detail?: string }).detail !== undefined ? ` — ${(s.licence as { detail?: string }).detail!}` : ''}`,
        `Audit head:  ${s.audit === null ? 'unknown' : `#${s.audit.seq} ${s.audit.hash.slice(0, 16)}…`}`,
        `Uptime:      ${s.uptimeS} s`,
        `Version:     ${s.version} (pid ${s.pid})`
      ].join('\n'))
    })
}


async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }


/**
 * V8 flags of a daemon started by `sov node start` (the systemd unit in docs/operations.md uses
 * them too). libp2p's start grows the young generation to 2 × 16 MiB, which then stays committed
 * while the node idles: 27 MiB of a 125 MiB idle RSS (issue 16, `node.rss.idle` in the bench).
 * 4 MiB semi-spaces only mean more, equally short scavenges under load.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=4']

/** Spawns `sov node start --foreground` detached, logging to `<home>/daemon.log`, and waits for its socket. */
async function startBackground (home: string | undefined, listen?: string[]): Promise<StatusResult> {
  const root = homeDir(home)
  const running = await daemonLockHolder(root)
  if (running !== undefined) throw conflict(`Cannot start: a daemon (pid ${running.pid}) already runs on home "${root}"; stop it with \`sov node stop\``)
  mkdirSync(root, { recursive: true, mode: 0o700 })
  return await startInBackground<StatusResult>({
    what: 'the daemon',
    nodeFlags: DAEMON_NODE_FLAGS,
    args: ['--home', root, 'node', 'start', '--foreground', ...(listen ?? []).flatMap(a => ['--listen', a])],
    logPath: join(root, 'daemon.log'),
    timeoutMs: START_TIMEOUT_MS,
    probe: async () => {
      const c = await IpcClient.open(root)
      try { return await c.request('status', {}) as StatusResult } finally { c.close() }
    }
  })
}

/** Mailboxes shown on the status line; the rest are counted. */
const STATUS_LINE_MAILBOXES = 10

function mailboxLine (shown: NonNullable<StatusResult['mailboxes']>, count: number): string {
  if (count === 0) return '(none)'
  const line = shown.slice(0, STATUS_LINE_MAILBOXES).map(m => `${m.mailbox} (${m.ready} ready, ${m.leased} leased, ${m.dead} dead)`).join(', ')
  const more = count - Math.min(shown.length, STATUS_LINE_MAILBOXES)
  return more > 0 ? `${line} and ${more} more (\`sov a2a mailboxes\`)` : line
}
