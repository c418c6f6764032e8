/**
 * IPC handlers of `sov agent add|list|remove` and `sov agents PEER` (issue 11, DESIGN §13):
 * local A2A agents offered to the mesh, and the agents a peer offers this node.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { badRequest, unavailable, type RequestType } from '../../protocol/index.js'
import type { A2aTasks } from '../../a2a/index.js'
import type { AgentsComponents } from './components.js'
import { actorOf, type Handler } from './handler.js'

export function agentsHandlers (d: AgentsComponents): Partial<Record<RequestType, Handler>> {
  const tasks = (): A2aTasks => {
    if (d.tasks === undefined) throw unavailable('Cannot serve agents: A2A tasks are not running')
    return d.tasks
  }
  return {
    'agent.add': async ({ name, url }, { principal }) => await tasks().addAgent(name, url, actorOf(principal)),
    'agent.list': async () => tasks().listAgents(),
    'agent.remove': async ({ name }, { principal }) => await tasks().removeAgent(name, actorOf(principal)),
    // `agents PEER --json` → [{"name","description","cardUrl"}]
    'agents.remote': async ({ peer }) => {
      let id: string
      try { id = peerIdFromString(peer).toString() } catch (cause) { throw badRequest(`Cannot parse PeerId "${peer}"`, { cause }) }
      return await tasks().remoteAgents(id)
    }
  }
}
