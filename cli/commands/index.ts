// Every command group registers itself here; the modules import heavy parts lazily.
import type { Command } from 'commander'

export function registerCommands (program: Command): void {
  void program
}
