/**
 * The daemon: home directory, identity, the supervisor that wires audit, capabilities, mesh, a2a,
 * finance and IPC together. `node/` is the one wiring point; its sub-rooms (`audit/`, `caps/`,
 * `ipc/`, `files/`) are reached only through their own `index.ts`.
 *
 * What the CLI's file-only commands need (`init`, `config`) loads without libp2p, SQLite or the
 * A2A SDK; the daemon and the mesh load when first used (~1 s of imports, issue 15 §2).
 */
import type { DaemonOptions } from './daemon.js'

export type { DaemonOptions, DaemonInfo } from './daemon.js'
export { initHome, UNSHARED_SUFFIX, type InitOptions, type InitResult } from './init.js'
export { CONFIG_DEFAULTS, loadConfig, parseConfig, configKeys, updateConfig, withDefaults, type Config } from './config.js'
export { Supervisor, PART_STOP_TIMEOUT_MS, type Part } from './supervisor.js'

/** Runs the daemon in this process until it is stopped (`daemon.ts`, loaded on this call). */
export async function runDaemon (opts: DaemonOptions = {}): Promise<void> {
  const daemon = await import('./daemon.js')
  await daemon.runDaemon(opts)
}
