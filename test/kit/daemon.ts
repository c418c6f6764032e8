/**
 * Real daemon processes from the built `sov`, each in its own temp home, on loopback port 0.
 * `startDaemon(ctx)` registers the process's end with `ctx.defer` before it returns.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { KitContext } from './index.js'
import { repoPath, waitFor } from './index.js'
import { initHome } from '../../node/index.js'
import { withDaemon } from '../../cli/index.js'
import type { RequestParams, RequestType } from '../../protocol/index.js'

export const SOV = repoPath('dist', 'cli', 'main.js')

export interface SovResult { code: number, stdout: string, stderr: string, json: any }

/** Runs `sov --home HOME ...args` to completion. */
export async function sov (home: string, args: string[], opts: { env?: Record<string, string>, timeoutMs?: number, input?: string } = {}): Promise<SovResult> {
  const child = spawn(process.execPath, [SOV, '--home', home, ...args], {
    env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  // A command that exits before reading stdin closes the pipe: EPIPE here is not a failure.
  child.stdin.on('error', () => {})
  child.stdin.end(opts.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(timer)
  let json: any
  try { json = JSON.parse(stdout) } catch { json = undefined }
  return { code: code ?? -1, stdout, stderr, json }
}

/**
 * One IPC request to the daemon of `home` (operator token), from this process: for set-up and
 * checks where the CLI is not what a test tests. A `sov` process costs ~0.3 s of CPU, and the
 * suite ran ~1,150 of them; the commands themselves are tested through the CLI elsewhere.
 * Rejects with the daemon's `SovError`.
 */
export async function daemonRequest<T extends RequestType> (home: string, type: T, params: RequestParams<T>): Promise<any> {
  return await withDaemon(home, async c => await c.request(type, params))
}

export interface DaemonHandle {
  home: string
  peerId: string
  addrs: string[]
  /** A dialable address of this daemon, with `/p2p/`. */
  addr: string
  pid: number
  child: ChildProcess
  output: () => string
  /** SIGTERM and wait for exit 0. */
  stop: () => Promise<number | null>
  /** SIGKILL and wait. */
  kill: () => Promise<void>
}

export interface StartDaemonOptions {
  home?: string
  bootstrap?: string[]
  swarmKeyFile?: string
  listen?: string
  env?: Record<string, string>
}

/**
 * What `sov init` does, in this process: the suite inits about 200 homes, and a `sov init`
 * process spends most of its 0.5 s of CPU loading modules this process has loaded already. The
 * `init` command itself is tested through the CLI (test/cli*.test.ts, test/daemon.test.ts).
 */
export async function initHomeFor (home: string, opts: { listen: string, bootstrap?: string[], swarmKeyFile?: string }): Promise<void> {
  await initHome({ home, listen: [opts.listen], bootstrap: opts.bootstrap, swarmKeyFile: opts.swarmKeyFile })
}

/** Inits a home (unless given one that exists) and starts `sov node start --foreground` in it. */
export async function startDaemon (ctx: KitContext, opts: StartDaemonOptions = {}): Promise<DaemonHandle> {
  const home = opts.home ?? ctx.tmp('sov-home-')
  await initHomeFor(home, { listen: opts.listen ?? '/ip4/127.0.0.1/tcp/0', bootstrap: opts.bootstrap, swarmKeyFile: opts.swarmKeyFile })
  return await runDaemonIn(ctx, home, opts.env)
}

/** Starts a daemon on an existing home. */
export async function runDaemonIn (ctx: KitContext, home: string, env?: Record<string, string>, opts: { netns?: string } = {}): Promise<DaemonHandle> {
  const argv = [process.execPath, SOV, '--home', home, 'node', 'start', '--foreground']
  // `ip netns exec` execs the command in place: the child's pid is the daemon's.
  const [cmd, ...args] = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = once(child, 'exit')
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const [code, signal] = await exited as [number | null, string | null]
    clearTimeout(timer)
    // The failing assertion shows only the code: say here how it ended, and what it printed.
    if (code !== 0) process.stderr.write(`daemon in ${home} ended with ${signal ?? `exit ${String(code)}`} after SIGTERM; its output:\n${out}\n`)
    return code
  }
  ctx.defer(stop)
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`daemon exited early (${child.exitCode}): ${out}`)
    return /PeerId: /.test(out) && /Swarm key fingerprint: /.test(out)
  }, 30_000, `daemon in ${home} to start: ${out}`)
  const peerId = /PeerId: (\S+)/.exec(out)![1]
  const addrs = [...out.matchAll(/Listening on (\S+)/g)].map(m => m[1])
  return {
    home,
    peerId,
    addrs,
    addr: addrs[0],
    pid: child.pid!,
    child,
    output: () => out,
    stop,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    }
  }
}
