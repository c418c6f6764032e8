/**
 * Typed contracts shared by every part of Sovereign: the error type and its codes, IPC framing
 * and message schemas, versions, and RFC 8785 canonical JSON (what is hashed or signed). Imports
 * nothing of ours.
 *
 * Its first import installs the Node 20 `Promise.withResolvers` polyfill libp2p needs, so an
 * entry point that imports this module first is safe to load libp2p afterwards.
 */
import './polyfill.js'

export * from './a2a.js'
export * from './a2a-task.js'
export * from './errors.js'
export * from './frames.js'
export * from './issues.js'
export * from './ipc.js'
export * from './version.js'
export * from './unicode.js'
export * from './daemon-lock.js'
export * from './abort.js'
export * from './jcs.js'
export * from './shown-url.js'
