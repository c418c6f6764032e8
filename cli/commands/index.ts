// Every command group registers itself here; the modules import heavy parts lazily.
import type { Command } from 'commander'
import { registerA2ACommands } from './a2a.js'
import { registerAgentCommands } from './agents.js'
import { registerCapAuditCommands } from './cap-audit.js'
import { registerConfigCommands } from './config.js'
import { registerDevnetCommands } from './devnet.js'
import { registerDemoCommand } from './demo.js'
import { registerJoinCommand } from './join.js'
import { registerLicenceCommands } from './licence.js'
import { registerNodeCommands } from './node.js'
import { registerPeersCommands } from './peers.js'
import { registerSwarmKeyCommands } from './swarm-key.js'
import { registerTokenCommands } from './tokens.js'

export function registerCommands (program: Command): void {
  registerDemoCommand(program)
  registerNodeCommands(program)
  registerSwarmKeyCommands(program)
  registerJoinCommand(program)
  registerConfigCommands(program)
  registerPeersCommands(program)
  registerTokenCommands(program)
  registerCapAuditCommands(program)
  registerA2ACommands(program)
  registerAgentCommands(program)
  registerLicenceCommands(program)
  registerDevnetCommands(program)
}
