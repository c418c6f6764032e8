/**
 * Applying a changed `config.json` to a running daemon (issue 14, Kubo's habit of editing config
 * and telling the node): `sov config set`/`sov bootstrap add` ask for it over IPC, SIGHUP does the
 * same. What can change live is applied — new bootstrap peers are dialled now — and every other
 * changed key is named as needing a restart. A config that does not parse changes nothing.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { MeshNode } from '../mesh/index.js'
import { loadConfig, type Config } from './config.js'

export interface ReloadResult {
  /** Keys whose new value is in effect. */
  applied: string[]
  /** Keys that changed on disk and take effect at the next start. */
  restartNeeded: string[]
  /** Bootstrap addresses dialled now and what came of it. */
  dialled: Array<{ addr: string, ok: boolean, error?: string }>
}

/** Dial deadline of a new bootstrap peer. @default 10 s */
const DIAL_TIMEOUT_MS = 10_000

/** Compares `path` with the config the daemon started with and applies what it can. */
export async function reloadConfig (path: string, running: Config, mesh: MeshNode): Promise<ReloadResult> {
  const next = loadConfig(path)
  const result: ReloadResult = { applied: [], restartNeeded: [], dialled: [] }
  for (const key of new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof Config>) {
    if (JSON.stringify(running[key]) === JSON.stringify(next[key])) continue
    if (key !== 'bootstrap') { result.restartNeeded.push(key); continue }
    const added = next.bootstrap.filter(a => !running.bootstrap.includes(a))
    for (const addr of added) {
      try {
        await mesh.dial(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        result.dialled.push({ addr, ok: true })
      } catch (err) {
        result.dialled.push({ addr, ok: false, error: (err as Error).message })
      }
    }
    // The bootstrapper keeps its start-time list: removals and redials take a restart.
    if (next.bootstrap.length !== running.bootstrap.length + added.length) result.restartNeeded.push(key)
    else result.applied.push(key)
  }
  return result
}
