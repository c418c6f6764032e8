/**
 * What `--help` shows on every command (issue 14): the global flags (`--home`, `--json`) and one
 * example. Examples live here, by command path, so each command file stays about behaviour.
 */
import type { Command } from 'commander'

const EXAMPLES: Record<string, string> = {
  'sov init': 'sov init --swarm-key ./swarm.key --listen /ip4/0.0.0.0/tcp/4001',
  'sov join': 'sov join sov1… --listen /ip4/0.0.0.0/tcp/4001',
  'sov node start': 'sov node start --listen /ip4/127.0.0.1/tcp/4001',
  'sov node stop': 'sov node stop',
  'sov status': 'sov status --json',
  'sov demo': 'sov demo',
  'sov swarm-key generate': 'sov swarm-key generate --out swarm.key',
  'sov swarm-key inspect': 'sov swarm-key inspect ~/.sovereign/swarm.key',
  'sov swarm-key invite': 'sov swarm-key invite --expires 2h',
  'sov peers': 'sov peers --json',
  'sov peers list': 'sov peers list --json',
  'sov peers connect': 'sov peers connect /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…',
  'sov peers ping': 'sov peers ping 12D3KooW…',
  'sov peers revoke': 'sov peers revoke 12D3KooW…',
  'sov peers unrevoke': 'sov peers unrevoke 12D3KooW…',
  'sov token rotate': 'sov token rotate',
  'sov agent-token issue': 'sov agent-token issue builder --scope /a2a/read:builder --expires 30d',
  'sov agent-token revoke': 'sov agent-token revoke builder',
  'sov agent-token list': 'sov agent-token list --json',
  'sov cap grant': 'sov cap grant 12D3KooW… /a2a/send --mailbox builder --expires 7d',
  'sov cap revoke': 'sov cap revoke 3f9a0c1d',
  'sov cap list': 'sov cap list --json',
  'sov audit tail': 'sov audit tail -n 50 --follow --json   # NDJSON: one row a line',
  'sov audit verify': 'sov audit verify --json',
  'sov audit checkpoint': 'sov audit checkpoint',
  'sov audit acknowledge': 'sov audit acknowledge --seq 42 --reason "disk error on 2026-03-01, see ticket 7"',
  'sov audit purge': 'sov audit purge --before 2026-01-01 --yes',
  'sov a2a send': 'sov a2a send 12D3KooW… builder "build #42" --wait 30s',
  'sov a2a receive': 'sov a2a receive builder --wait 30s --json',
  'sov a2a ack': 'sov a2a ack builder 0192f….1',
  'sov a2a nack': 'sov a2a nack builder 0192f….1',
  'sov a2a reply': 'sov a2a reply builder 0192f… "done" --state completed',
  'sov agent add': 'sov agent add builder --url http://127.0.0.1:41241',
  'sov agent list': 'sov agent list --json',
  'sov agent remove': 'sov agent remove builder',
  'sov agents': 'sov agents 12D3KooW… --json',
  'sov a2a outbox': 'sov a2a outbox --status failed --limit 20',
  'sov a2a mailboxes': 'sov a2a mailboxes --json',
  'sov licence payload': 'sov licence payload --json',
  'sov licence verify': 'sov licence verify --txid <txid> --electrum ssl://electrum.example:50002',
  'sov licence status': 'sov licence status',
  'sov devnet start': 'sov devnet start',
  'sov devnet pay': 'sov devnet pay --to bcrt1q… --sats 50000 --machine-id demo',
  'sov devnet stop': 'sov devnet stop',
  'sov devnet status': 'sov devnet status --json',
  'sov devnet mine': 'sov devnet mine 6',
  'sov devnet reset': 'sov devnet reset --yes',
  'sov config show': 'sov config show --json',
  'sov config get': 'sov config get limits.maxDeliveries',
  'sov config set': 'sov config set limits.maxDeliveries 10',
  'sov bootstrap list': 'sov bootstrap list',
  'sov bootstrap add': 'sov bootstrap add /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…',
  'sov bootstrap rm': 'sov bootstrap rm /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…',
  'sov a2a dead': 'sov a2a dead builder --json',
  'sov a2a redrive': 'sov a2a redrive builder --all',
  'sov a2a purge': 'sov a2a purge builder --dead --yes',
  'sov a2a retry': 'sov a2a retry 0192f…'
}

/** `sov a2a send` for a command. */
export function commandName (cmd: Command): string {
  const parts: string[] = []
  for (let c: Command | null = cmd; c !== null; c = c.parent) parts.unshift(c.name())
  return parts.join(' ')
}

/** Adds each command's example (call `configureHelp({ showGlobalOptions: true })` before adding commands). */
export function addGlobalHelp (program: Command): void {
  const visit = (cmd: Command): void => {
    const example = EXAMPLES[commandName(cmd)]
    if (example !== undefined) cmd.addHelpText('after', `\nExample:\n  ${example}`)
    for (const sub of cmd.commands) visit(sub)
  }
  visit(program)
}
