/**
 * The daemon: home directory, identity, the supervisor that wires audit, capabilities, mesh, a2a,
 * finance and IPC together. `node/` is the one wiring point; its sub-rooms (`audit/`, `caps/`,
 * `ipc/`, `files/`) are reached only through their own `index.ts`.
 */
export { runDaemon, type DaemonOptions, type DaemonInfo } from './daemon.js'
export { initHome, UNSHARED_SUFFIX, type InitOptions, type InitResult } from './init.js'
export { loadConfig, parseConfig, configKeys, updateConfig, type Config } from './config.js'
export { Supervisor, PART_STOP_TIMEOUT_MS, type Part } from './supervisor.js'
