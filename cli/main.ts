#!/usr/bin/env node
/**
 * `sov`: the command line. Commands that only read files or talk to the daemon over IPC never
 * load libp2p's node, SQLite or the A2A SDK (~1 s of imports); each command module loads heavy
 * parts lazily in its action (test/cli-startup.test.ts keeps `init`, `config` and `--help` so).
 *
 * The `--json` contract (DESIGN §4, issue 14): stdout carries exactly one JSON document — the
 * result, `{"version"}`, `{"help"}` or `{"error":{"code","message"}}` — and nothing else.
 */
import '../protocol/index.js'
import { Command, CommanderError } from 'commander'
import { badRequest, VERSION } from '../protocol/index.js'
import { reportError, type GlobalOptions } from './output.js'
import { registerCommands } from './commands/index.js'
import { addGlobalHelp, commandName } from './help.js'

// A reader that closed early (`sov audit tail | head -1`) has what it wanted: stop quietly,
// as Unix tools do, instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
    throw err
  })
}

// Known before commander parses: decides where help, version and parse errors go.
const argv = process.argv.slice(2)
const dashdash = argv.indexOf('--')
const jsonMode = (dashdash === -1 ? argv : argv.slice(0, dashdash)).includes('--json')
let captured = ''

const program = new Command('sov')
  .description('Sovereign: a private peer-to-peer node for autonomous agents')
  .version(VERSION, '-V, --version')
  .option('--home <dir>', 'home directory (default $SOV_HOME or ~/.sovereign)')
  .option('--json', 'print one JSON document on stdout (errors too: {"error":{"code","message"}})')
  .configureOutput({
    outputError: () => {},
    // With --json, help and version text are wrapped into the one JSON document below.
    writeOut: text => { if (jsonMode) captured += text; else process.stdout.write(text) },
    // Only a group's help on a missing subcommand comes here: the usage error below lists them.
    writeErr: () => {}
  })

// Before the commands are added: they share the program's help settings object.
program.configureHelp({ showGlobalOptions: true })
registerCommands(program)
addGlobalHelp(program)

/** The command whose parsing failed, so messages can name it (`sov cap revoke`). */
let failedIn: Command = program
const overrideExit = (cmd: Command): void => {
  cmd.exitOverride(err => { failedIn = cmd; throw err })
  for (const sub of cmd.commands) overrideExit(sub)
}
overrideExit(program)

try {
  await program.parseAsync(process.argv)
} catch (err) {
  const opts: GlobalOptions = { ...program.opts<GlobalOptions>(), json: jsonMode }
  if (err instanceof CommanderError) {
    if (err.code === 'commander.version') {
      if (jsonMode) process.stdout.write(JSON.stringify({ version: VERSION }) + '\n')
      process.exitCode = 0
    } else if (err.code === 'commander.helpDisplayed') {
      if (jsonMode) process.stdout.write(JSON.stringify({ help: captured }) + '\n')
      process.exitCode = 0
    } else if (err.code === 'commander.help') {
      // A command group without its subcommand: a usage error that lists the choices.
      const subs = failedIn.commands.filter(c => !(c as any)._hidden).map(c => c.name())
      reportError(opts, badRequest(`Cannot run \`${commandName(failedIn)}\`: give a command: ${subs.join(', ')}; see \`${commandName(failedIn)} --help\``))
      process.exitCode = 2
    } else {
      const what = err.message.replace(/^error: /, '').replace(/\.$/, '')
      reportError(opts, badRequest(`Cannot run \`${commandName(failedIn)}\`: ${what}; see \`${commandName(failedIn)} --help\``))
      process.exitCode = 2
    }
  } else {
    reportError(opts, err)
  }
}
