#!/usr/bin/env node
/**
 * `sov`: the command line. Commands that only read files or talk to the daemon over IPC never
 * import libp2p (it costs ~310 ms); each command module loads heavy parts lazily in its action.
 */
import '../protocol/index.js'
import { Command, CommanderError } from 'commander'
import { badRequest, VERSION } from '../protocol/index.js'
import { reportError, type GlobalOptions } from './output.js'
import { registerCommands } from './commands/index.js'

const program = new Command('sov')
  .description('Sovereign: a private peer-to-peer node for autonomous agents')
  .version(VERSION, '-V, --version')
  .option('--home <dir>', 'home directory (default $SOV_HOME or ~/.sovereign)')
  .option('--json', 'print one JSON document on stdout')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ outputError: () => {} })

registerCommands(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  const opts = program.opts<GlobalOptions>()
  if (err instanceof CommanderError) {
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
      process.exitCode = 0
    } else {
      reportError(opts, badRequest(err.message.replace(/^error: /, '')))
      process.exitCode = 2
    }
  } else {
    reportError(opts, err)
  }
}
