/**
 * The daemon: home directory, identity, tokens, capabilities, audit, IPC server and the
 * supervisor that wires mesh, a2a and finance together. `node/` is the one wiring point.
 */
export { Daemon, runDaemon, type DaemonOptions, type DaemonInfo } from './daemon.js'
export { initHome, type InitOptions, type InitResult } from './init.js'
export { homePaths, resolveHome, type HomePaths } from './home.js'
export { loadConfig, updateConfig, DEFAULT_LISTEN, type Config } from './config.js'
export { lockHolder } from './lock.js'
