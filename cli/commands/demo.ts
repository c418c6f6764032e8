/** `sov demo`: three daemons on loopback, end to end, then everything is cleaned up. */
import type { Command } from 'commander'
import { emit, type GlobalOptions } from '../output.js'
import { runDemo } from '../demo.js'

export function registerDemoCommand (program: Command): void {
  program.command('demo')
    .description('three nodes on loopback in temporary homes: invite, grants, A2A, audit, licence; then clean up')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      // With --json, stdout carries only the final document; progress goes to stderr.
      const log = (line: string): void => { (g.json === true ? process.stderr : process.stdout).write(line + '\n') }
      const r = await runDemo(log)
      emit(g, r, r => `Demo finished in ${(r.totalMs / 1000).toFixed(1)} s; nothing is left behind.`)
    })
}
