/**
 * `sov config show | get KEY | set KEY VALUE` and `sov bootstrap list | add MA | rm MA` (issue 14,
 * Kubo's habits): edits `config.json` checked with the daemon's own schema before it is written,
 * so a mistyped key or value is refused here, not at the next start. The running daemon reads
 * the file at start: a change says so.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { badRequest } from '../../protocol/index.js'
import { emit, type GlobalOptions } from '../output.js'
import { assertHomeExists, homeDir, withDaemon } from '../ipc-client.js'

type Node = typeof import('../../node/index.js')

export function registerConfigCommands (program: Command): void {
  const config = program.command('config').description('show and change config.json (checked with the daemon\'s schema)')
  config.command('show').description('the whole config, defaults filled in')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { node, path } = await open(g.home)
      const c = node.withDefaults(node.loadConfig(path))
      emit(g, c, c => JSON.stringify(c, null, 2))
    })
  config.command('get').argument('<key>', 'dotted key, e.g. listen, limits.maxDeliveries, licence.electrum')
    .description('one value (defaults filled in)')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { node, path } = await open(g.home)
      const parts = key.split('.')
      assertKnown(node, parts, key)
      let value: any = node.withDefaults(node.loadConfig(path))
      for (const p of parts) value = value?.[p]
      emit(g, { key, value: value ?? null }, r => typeof r.value === 'string' ? r.value : JSON.stringify(r.value, null, 2))
    })
  config.command('set').argument('<key>', 'dotted key, e.g. limits.maxDeliveries').argument('<value>', 'a JSON value (a bare word is a string)')
    .description('change one value; the whole config is checked before it is written')
    .action(async (key: string, text: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { node, path } = await open(g.home)
      const parts = key.split('.')
      assertKnown(node, parts, key)
      let value: unknown
      try { value = JSON.parse(text) } catch { value = text }
      const r = await change(g.home, node, path, raw => {
        let at: Record<string, any> = raw
        for (const p of parts.slice(0, -1)) {
          if (typeof at[p] !== 'object' || at[p] === null) at[p] = {}
          at = at[p]
        }
        at[parts[parts.length - 1]] = value
      }, parts[0] === 'licence' || parts[0] === 'machineId')
      emit(g, { key, value, ...r }, r => `Set ${key} = ${JSON.stringify(r.value)} in ${path}${r.restart ? `\nThe daemon runs: restart it to apply ${(r.restartNeeded ?? []).join(', ')} (\`sov node stop && sov node start\`).` : r.applied !== undefined ? '\nThe running daemon applied it.' : ''}`)
    })

  const bootstrap = program.command('bootstrap').description('the peers this node dials at start (config.json "bootstrap")')
  bootstrap.command('list').description('the bootstrap multiaddrs')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { node, path } = await open(g.home)
      const list = node.loadConfig(path).bootstrap
      emit(g, list, l => l.length === 0 ? 'No bootstrap peers' : l.join('\n'))
    })
  bootstrap.command('add').argument('<multiaddr>', 'with /p2p/<PeerId>, e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…')
    .description('add a bootstrap peer')
    .action(async (addr: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      await checkMultiaddr(addr)
      const { node, path } = await open(g.home)
      const r = await change(g.home, node, path, raw => { raw.bootstrap = [...new Set([...(raw.bootstrap ?? []), addr])] })
      emit(g, { added: addr, ...r }, r => `Added ${addr}${(r.dialled ?? []).map((d: any) => d.ok === true ? '\nThe running daemon dialled it: connected.' : `\nThe running daemon could not dial it yet: ${String(d.error)}`).join('')}`)
    })
  bootstrap.command('rm').argument('<multiaddr>', 'exactly as `sov bootstrap list` shows it')
    .description('remove a bootstrap peer')
    .action(async (addr: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { node, path } = await open(g.home)
      if (!node.loadConfig(path).bootstrap.includes(addr)) throw badRequest(`Cannot remove "${addr}": it is not a bootstrap peer; see \`sov bootstrap list\``)
      const r = await change(g.home, node, path, raw => { raw.bootstrap = (raw.bootstrap ?? []).filter((a: string) => a !== addr) })
      emit(g, { removed: addr, ...r }, () => `Removed ${addr}`)
    })
}

async function open (home: string | undefined): Promise<{ node: Node, path: string }> {
  const root = homeDir(home)
  assertHomeExists(root)
  return { node: await import('../../node/index.js'), path: join(root, 'config.json') }
}

function assertKnown (node: Node, parts: string[], key: string): void {
  for (let i = 0; i < parts.length; i++) {
    const allowed = node.configKeys(parts.slice(0, i))
    if (!allowed.includes(parts[i])) {
      throw badRequest(`Cannot use config key "${key}": "${parts.slice(0, i + 1).join('.')}" is unknown; allowed ${i === 0 ? 'at the top' : `in "${parts.slice(0, i).join('.')}"`}: ${allowed.join(', ') || '(none: it is a value)'}`)
    }
  }
}

/**
 * Applies `edit` to the raw file, checks the result with the daemon's schema, then writes it.
 * `licenceTerms`: the change touches `licence` or `machineId`, so the licence terms are also
 * checked as the daemon's check would check them (finance, loaded only then).
 */
async function change (home: string | undefined, node: Node, path: string, edit: (raw: Record<string, any>) => void, licenceTerms = false): Promise<{ restart: boolean, applied?: string[], restartNeeded?: string[], dialled?: any[] }> {
  let raw: Record<string, any> = {}
  if (existsSync(path)) {
    try { raw = JSON.parse(readFileSync(path, 'utf8')) } catch (cause) { throw badRequest(`Cannot read config "${path}": not valid JSON; fix it by hand first`, { cause }) }
  }
  edit(raw)
  const parsed = node.parseConfig(raw, path, 'change config')
  if (licenceTerms) {
    const { licenceSettingsProblem } = await import('../../finance/index.js')
    const problem = licenceSettingsProblem(raw.licence ?? {}, parsed.machineId)
    if (problem !== undefined) throw badRequest(`Cannot change config "${path}": field "${problem.key}": ${problem.message}; the licence check would refuse it`)
  }
  node.updateConfig(path, r => { for (const k of Object.keys(r)) delete r[k]; Object.assign(r, raw) })
  // A running daemon applies what it can now and names what needs a restart.
  const reload = await withDaemon(home, async c => await c.request('config.reload', {})).catch(() => undefined)
  return reload === undefined ? { restart: false } : { restart: reload.restartNeeded.length > 0, ...reload }
}

async function checkMultiaddr (addr: string): Promise<void> {
  const { memberAddrProblem } = await import('../../protocol/addr/index.js')
  const problem = memberAddrProblem(addr)
  if (problem !== undefined) throw badRequest(`Cannot use multiaddr "${addr}": it ${problem}`)
}
