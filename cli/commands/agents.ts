/** `sov agent add|list|remove` and `sov agents PEER` (issue 11, DESIGN §13). */
import type { Command } from 'commander'
import { shownUrl } from '../../protocol/index.js'
import { emit, oneLine, type GlobalOptions } from '../output.js'
import { withDaemon } from '../ipc-client.js'

export function registerAgentCommands (program: Command): void {
  const agent = program.command('agent').description('offer local A2A agents to the mesh')
  agent.command('add').argument('<name>')
    .option('--url <url>', 'base URL of the A2A agent (its card is at URL/.well-known/agent-card.json)')
    .option('--pull', 'an agent without an HTTP server: calls go to mailbox NAME, it answers with sov a2a reply')
    .option('--description <text>', 'description shown to peers (pull agents)')
    .description('offer an A2A agent to peers as NAME (they need an /a2a/send grant on mailbox NAME)')
    .action(async (name: string, o: { url?: string, pull?: boolean, description?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agent.add', { name, url: o.url, pull: o.pull, description: o.description }))
      emit(g, r, r => `Offering "${r.name}" (${r.url === '' ? 'pull: mailbox ' + r.name : shownUrl(new URL(r.url))})${r.description !== '' ? `: ${oneLine(r.description)}` : ''}\nGrant a peer with: sov cap grant <PeerId> /a2a/send --mailbox ${r.name}`)
    })
  agent.command('list').description('local agents offered to the mesh')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agent.list', {})) as any[]
      emit(g, r, r => r.length === 0 ? 'No agents offered' : r.map(a => `${a.name}  ${a.url === '' ? `pull: mailbox ${a.name}` : shownUrl(new URL(a.url))}  ${oneLine(a.description)}`).join('\n'))
    })
  agent.command('remove').argument('<name>').description('stop offering an agent')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agent.remove', { name }))
      emit(g, r, r => `Removed "${r.name}"`)
    })
  program.command('agents').argument('<peer>', 'PeerId of the node that offers them')
    .description('agents PEER offers this node, with the local card URL an A2A client uses')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agents.remote', { peer }, 60_000)) as any[]
      emit(g, r, r => r.length === 0 ? `${peer} offers no agents to this node` : r.map(a => `${a.name}  ${oneLine(a.description)}\n  ${a.cardUrl ?? '(local A2A endpoint off: set a2a.http.listen)'}`).join('\n'))
    })
}
