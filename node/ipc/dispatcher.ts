/**
 * The IPC dispatcher: checks the caller's authority for each request, then runs its handler.
 * Handlers translate foreign errors (libp2p by `err.name`) into `SovError`s at this boundary.
 */
import { unavailable, type RequestType } from '../../protocol/index.js'
import type { IpcComponents } from './components.js'
import type { Handler } from './handler.js'
import type { Principal } from './server.js'
import { a2aHandlers } from './handlers-a2a.js'
import { agentsHandlers } from './handlers-agents.js'
import { authorizeAgent, capsHandlers } from './handlers-caps.js'
import { licenceHandlers } from './handlers-licence.js'
import { nodeHandlers } from './handlers-node.js'

/** Builds the dispatch function the IPC server calls for every validated request. */
export function createDispatcher (d: IpcComponents) {
  const handlers: Partial<Record<RequestType, Handler>> = {
    ...nodeHandlers(d),
    ...licenceHandlers(d),
    ...capsHandlers(d),
    ...a2aHandlers(d),
    ...agentsHandlers(d)
  }

  return async (principal: Principal, type: RequestType, params: any, signal: AbortSignal, onUnsent: (undo: () => void) => void = () => {}): Promise<unknown> => {
    if (principal.kind === 'agent') await authorizeAgent(d, principal.name, type, params)
    const handler = handlers[type]
    if (handler === undefined) throw unavailable(`Cannot run ${type}: this node does not serve it yet`)
    return await handler(params, { principal, signal, onUnsent })
  }
}
