/**
 * `sov devnet start | pay | status | mine | stop | reset`: a regtest chain with an Electrum server
 * (TCP and TLS) in the background, to try licensing offline. Its state lives in `<home>/devnet/`
 * and a restart keeps it (chain, vendor, ports, certificate) until `reset`; `pay`, `status`,
 * `mine` and `stop` talk to it over `<home>/devnet/control.sock`.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { badRequest, conflict, timeout } from '../../protocol/index.js'
import { emit, intFlag, reportError, type GlobalOptions } from '../output.js'
import { homeDir } from '../ipc-client.js'
import { startInBackground } from '../background.js'
import { confirm } from '../confirm.js'

/** How long `devnet start` waits for the background process to answer. */
const START_TIMEOUT_MS = 20_000
const STOP_TIMEOUT_MS = 10_000

const stateDir = (home?: string): string => join(homeDir(home), 'devnet')

interface DevnetFlags { tcpPort?: number, sslPort?: number, historyLimit?: number, batchRefusal?: 'drop' | 'silent' | 'error' }

function toRefusal (text: string): 'drop' | 'silent' | 'error' {
  if (text !== 'drop' && text !== 'silent' && text !== 'error') throw badRequest(`Cannot refuse batches by "${text}": use drop, silent or error`)
  return text
}

export function registerDevnetCommands (program: Command): void {
  const devnet = program.command('devnet').description('a local regtest chain and Electrum server for trying licences')

  devnet.command('start')
    .description('start the devnet in the background; prints its Electrum URLs, CA file and a vendor address')
    .option('--tcp-port <n>', 'TCP port, kept for later starts (default: the last run\'s, else any free port; 0: any free port)', toPort)
    .option('--ssl-port <n>', 'TLS port, kept for later starts (default: the last run\'s, else any free port; 0: any free port)', toPort)
    .option('--history-limit <n>', 'refuse address histories longer than N entries, as electrs (--electrum-txs-limit) does', toCount)
    .option('--batch-refusal <how>', 'answer no JSON-RPC batch, as Electrum Personal Server does: drop, silent or error', toRefusal)
    .action(async (o: DevnetFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const dir = stateDir(g.home)
      const { devnetRequest } = await import('../../finance/index.js')
      const running = await devnetRequest(dir, { cmd: 'status' }, 2_000).catch(() => undefined)
      if (running !== undefined) throw conflict(`Cannot start the devnet: one already runs (pid ${running.pid as number}); stop it with \`sov devnet stop\``)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      const args = ['--home', homeDir(g.home), 'devnet', 'run']
      if (o.tcpPort !== undefined) args.push('--tcp-port', String(o.tcpPort))
      if (o.sslPort !== undefined) args.push('--ssl-port', String(o.sslPort))
      if (o.historyLimit !== undefined) args.push('--history-limit', String(o.historyLimit))
      if (o.batchRefusal !== undefined) args.push('--batch-refusal', o.batchRefusal)
      const status = await startInBackground<any>({
        what: 'the devnet',
        args,
        logPath: join(dir, 'devnet.log'),
        timeoutMs: START_TIMEOUT_MS,
        probe: async pid => { const s = await devnetRequest(dir, { cmd: 'status' }, 2_000); return s?.pid === pid ? s : undefined }
      })
      emit(g, status, s => [
        `Devnet running (pid ${s.pid as number}): ${s.resumed === true ? 'the regtest chain of its last run' : 'a new regtest chain'} at height ${s.height as number}`,
        `Electrum (TCP):  ${s.tcp as string}`,
        `Electrum (TLS):  ${s.ssl as string}`,
        `TLS CA file:     ${s.caFile as string}`,
        `Vendor address:  ${s.vendorAddress as string}`,
        '',
        'Try:',
        '  sov licence payload --machine-id demo',
        `  sov devnet pay --to ${s.vendorAddress as string} --sats 50000 --machine-id demo`,
        `  sov licence verify --txid <TXID> --vendor ${s.vendorAddress as string} --sats 50000 --network regtest \\`,
        `      --electrum ${s.ssl as string} --electrum-ca ${s.caFile as string} --machine-id demo`,
        'Stop it with `sov devnet stop`; the next start keeps this chain, vendor, ports and CA file (`sov devnet reset --yes` forgets them).'
      ].join('\n'))
    })

  devnet.command('run', { hidden: true })
    .description('run the devnet in the foreground (what `devnet start` spawns)')
    .option('--tcp-port <n>', 'TCP port', toPort)
    .option('--ssl-port <n>', 'TLS port', toPort)
    .option('--history-limit <n>', 'refuse longer histories', toCount)
    .option('--batch-refusal <how>', 'drop, silent or error', toRefusal)
    .action(async (o: DevnetFlags, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { startDevnet } = await import('../../finance/index.js')
      try {
        const d = await startDevnet(stateDir(g.home), { tcpPort: o.tcpPort, sslPort: o.sslPort, historyLimit: o.historyLimit, noBatch: o.batchRefusal })
        process.stdout.write(`devnet: pid ${process.pid}, ${d.state.tcp}, ${d.state.ssl}\n`)
        const onSignal = (): void => { void d.stop() }
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
        await d.stopped
        process.stdout.write('devnet: stopped\n')
        process.exit(0)
      } catch (err) {
        process.exit(reportError(g, err))
      }
    })

  devnet.command('pay')
    .description('mine a licence payment (and confirmations) on the running devnet; prints the txid')
    .requiredOption('--to <address>', 'the vendor address to pay')
    .requiredOption('--sats <n>', 'amount in satoshis')
    .requiredOption('--machine-id <id>', 'the machine id to commit to in the OP_RETURN')
    .option('--confirmations <n>', 'blocks to mine on top, the payment\'s own included (0 leaves it in the mempool)', toCount, 1)
    .action(async (o: { to: string, sats: string, machineId: string, confirmations: number }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      // As `licence verify` and `payload` read it (trimmed, never empty): a payment the check cannot match is refused here.
      const machineId = o.machineId.trim()
      if (machineId === '') throw badRequest(`Cannot use --machine-id "${o.machineId}": it is empty; give the id the payment commits to (\`sov licence payload\` shows this machine's)`)
      const { devnetRequest } = await import('../../finance/index.js')
      const r = await devnetRequest(stateDir(g.home), { cmd: 'pay', to: o.to, sats: o.sats, machineId, confirmations: o.confirmations })
      emit(g, r, r => String(r.txid))
    })

  devnet.command('status')
    .description('the running devnet: height, mempool, Electrum URLs, CA file, vendor address')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { devnetRequest } = await import('../../finance/index.js')
      const s = await devnetRequest(stateDir(g.home), { cmd: 'status' })
      emit(g, s, s => [
        `Devnet running (pid ${s.pid as number}) since ${s.startedAt as string}: height ${s.height as number}, ${s.mempool as number} in the mempool`,
        `Electrum (TCP):  ${s.tcp as string}`,
        `Electrum (TLS):  ${s.ssl as string}`,
        `TLS CA file:     ${s.caFile as string}`,
        `Vendor address:  ${s.vendorAddress as string}`
      ].join('\n'))
    })

  devnet.command('mine').argument('[blocks]', 'how many blocks (1 to 1000)', '1')
    .description('mine blocks on the running devnet (confirms what is in the mempool)')
    .action(async (n: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const blocks = intFlag('BLOCKS', n, { min: 1, max: 1000 })
      const { devnetRequest } = await import('../../finance/index.js')
      const r = await devnetRequest(stateDir(g.home), { cmd: 'mine', blocks })
      emit(g, { mined: blocks, height: r.height }, r => `Mined ${r.mined} block${r.mined === 1 ? '' : 's'}; height ${r.height}`)
    })

  devnet.command('reset')
    .description('forget the stopped devnet: its chain, vendor keys, ports and certificate (the next start makes new ones)')
    .option('--yes', 'do not ask')
    .action(async (o: { yes?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const dir = stateDir(g.home)
      const { devnetRequest, resetDevnet } = await import('../../finance/index.js')
      const running = await devnetRequest(dir, { cmd: 'status' }, 2_000).catch(() => undefined)
      if (running !== undefined) throw conflict(`Cannot reset the devnet: it runs (pid ${running.pid as number}); stop it first with \`sov devnet stop\``)
      await confirm(`Forget the devnet in "${dir}" (its chain, vendor keys, ports and certificate)?`, o.yes, 'reset the devnet')
      const removed = resetDevnet(dir)
      emit(g, { reset: true, removed }, r => r.removed.length === 0 ? `No devnet kept in "${dir}": nothing to reset` : `Devnet forgotten: removed ${r.removed.join(', ')}`)
    })

  devnet.command('stop')
    .description('stop the running devnet')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { devnetRequest } = await import('../../finance/index.js')
      const r = await devnetRequest(stateDir(g.home), { cmd: 'stop' })
      const until = Date.now() + STOP_TIMEOUT_MS
      while (alive(r.pid)) {
        if (Date.now() > until) throw timeout(`Cannot stop the devnet: pid ${r.pid as number} still runs after ${STOP_TIMEOUT_MS} ms`)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      emit(g, { stopped: true, pid: r.pid }, () => `Devnet stopped (pid ${r.pid as number})`)
    })
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

function toPort (text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw badRequest(`Cannot use port "${text}"`)
  return n
}

function toCount (text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0) throw badRequest(`Cannot use "${text}": expected a whole number ≥ 0`)
  return n
}
