/**
 * IPC handlers of `sov agent add|list|remove`, `sov agents PEER` and `sov a2a reply` (issue 11,
 * DESIGN §13): local A2A agents offered to the mesh (forward or pull), the agents a peer offers
 * this node, and a pull agent's answers.
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
    'agent.add': async ({ name, url, pull, description }, { principal }) => {
      if ((url === undefined) === (pull !== true)) throw badRequest(`Cannot add agent "${name}": give either --url URL (forward) or --pull`)
      return await tasks().addAgent(name, url, actorOf(principal), { description })
    },
    'a2a.reply': async ({ mailbox, callId, parts, state, artifact, messageId }, { principal }) =>
      await tasks().reply(mailbox, callId, { parts, state: state ?? 'completed', artifact, messageId }, actorOf(principal)),
    'agent.list': async () => tasks().listAgents(),
    'agent.remove': async ({ name }, { principal }) => await tasks().removeAgent(name, actorOf(principal)),
    // `agents PEER --json` → [{"name","description","cardUrl"}]
    'agents.remote': async ({ peer }) => {
      let id: string
      try { id = peerIdFromString(peer).toString() } catch (cause) { throw badRequest(`Cannot parse PeerId "${peer}"`, { cause }) }
      if (id === d.peerId) throw badRequest(`Cannot ask ${id} for its agents: that is this node itself; \`sov agent list\` shows the agents it offers`)
      return await tasks().remoteAgents(id)
    }
  }
}
