/** `sov token rotate` and `sov agent-token issue|revoke|list`. */
import type { Command } from 'commander'
import type { AgentTokenInfo, AgentTokenIssued } from '../../protocol/index.js'
import { durationFlag, emit, type GlobalOptions } from '../output.js'
import { MAX_EXPIRES_MS, expiryMark } from './expiry.js'
import { withDaemon } from '../ipc-client.js'

const collect = (value: string, prev: string[] = []): string[] => [...prev, value]

export function registerTokenCommands (program: Command): void {
  program.command('token').description('the operator token')
    .command('rotate').description('write a new operator token; the old one is refused from then on')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('token.rotate', {}))
      emit(g, r, r => `Rotated the operator token (${r.path})`)
    })

  const agent = program.command('agent-token').description('scoped tokens for local agents')
  agent.command('issue').argument('<name>')
    .description('issue a token; scopes are CMD[:mailbox], e.g. /a2a/read:builder')
    .requiredOption('--scope <scope>', 'capability the agent gets (repeatable)', collect)
    .option('--expires <duration>', 'lifetime, 1s to 3650d (e.g. 30d)', '30d')
    .action(async (name: string, o: { scope: string[], expires: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const expiresS = Math.round(durationFlag('--expires', o.expires, { min: 1000, max: MAX_EXPIRES_MS }) / 1000)
      const r = await withDaemon(g.home, async c => await c.request('agentToken.issue', { name, scopes: o.scope, expiresS })) as AgentTokenIssued
      emit(g, r, r => [`Agent token for "${r.name}" (scopes ${r.scopes.join(', ')}; ${r.expires === null ? 'no expiry' : `expires ${new Date(r.expires * 1000).toISOString()}`}):`, r.token, 'Give it to the agent (as $SOV_TOKEN for sov commands, or as its bearer token on the A2A endpoint); it is not shown again.'].join('\n'))
    })
  agent.command('revoke').argument('<name>').description('revoke an agent token')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agentToken.revoke', { name }))
      emit(g, r, r => `Revoked agent token "${r.name}"`)
    })
  agent.command('list').description('agent tokens (names, scopes, expiry; never the secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('agentToken.list', {})) as AgentTokenInfo[]
      emit(g, r, r => r.length === 0 ? 'No agent tokens' : r.map(a => `${a.name}  ${a.scopes.join(',')}  ${expiryMark(a.expires)}  ${a.tokenPrefix}`).join('\n'))
    })
}
