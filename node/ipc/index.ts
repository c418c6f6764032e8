/**
 * The CLI ↔ daemon socket (DESIGN §6, docs/ipc.md): the server, and the dispatcher that checks
 * each request's authority and runs its handler against the parts it names in `components.ts`.
 */
export { IpcServer, type IpcServerOptions, type Principal } from './server.js'
export { createDispatcher } from './dispatcher.js'
export type { IpcComponents, AuditWriter, LicenceView } from './components.js'
