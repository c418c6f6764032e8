/**
 * `sov licence payload | verify | status`. `payload` and `verify` run offline (no daemon): they
 * load finance/ lazily; `status` asks the daemon.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { badRequest } from '../../protocol/index.js'
import { emit, type GlobalOptions } from '../output.js'
import { homeDir, withDaemon } from '../ipc-client.js'

/** Below this many headers a verification is quick: no progress line. */
const PROGRESS_MIN_HEADERS = 4032
const collect = (value: string, prev: string[] = []): string[] => [...prev, value]
/** Exit codes of a verdict (DESIGN §4). */
const VERDICT_EXIT: Record<string, number> = { valid: 0, invalid: 3, pending: 3, error: 1 }

export function registerLicenceCommands (program: Command): void {
  const licence = program.command('licence').description('licence payload, verification and status')

  licence.command('payload')
    .description('the hash and OP_RETURN script a licence payment must carry for this machine')
    .option('--machine-id <id>', 'use this machine id instead of the OS one')
    .action(async (o: { machineId?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { licencePayload } = await import('../../finance/index.js')
      if (o.machineId !== undefined && o.machineId.trim() === '') throw badRequest('Cannot use --machine-id "": it is empty; give the id to commit to, or leave the flag out to use this machine\'s')
      const config = await readConfig(g.home)
      const p = licencePayload({ machineId: o.machineId ?? config.machineId })
      emit(g, p, p => [
        `Machine id:      ${p.machineId} (from ${p.source})`,
        `Licence hash:    ${p.hash}`,
        `OP_RETURN hex:   ${p.opReturnScript}`,
        '',
        'To buy a licence for this machine, send one Bitcoin transaction with:',
        '  1. an output paying the vendor\'s address at least the licence price, and',
        `  2. an OP_RETURN output carrying the 32 bytes above (script ${p.opReturnScript}).`,
        'Most wallets take the OP_RETURN as hex data; give them the licence hash. Then run',
        '  sov licence verify --txid <your txid> --height <its block height>',
        'once it has confirmed (or set "licence.txid" and "licence.height" in config.json for the daemon',
        'to check it). Record the block height your wallet shows for the payment: with it, no server',
        'needs the vendor\'s whole history (without it, verify finds and prints it once).'
      ].join('\n'))
    })

  licence.command('verify')
    .description('verify a licence payment over Electrum with SPV proofs (no daemon needed)')
    .option('--txid <txid>', 'the payment transaction')
    .option('--vendor <address>', 'vendor address (default: config licence.vendorAddress)')
    .option('--sats <n>', 'smallest payment, in satoshis (default: config licence.requiredSats)')
    .option('--network <name>', 'main, test, signet or regtest (default: config, else main)')
    .option('--electrum <url>', 'Electrum server tcp://host:port or ssl://host:port (repeatable)', collect)
    .option('--electrum-ca <pem>', 'trust this PEM for ssl:// servers (a self-signed server certificate works)')
    .option('--min-conf <n>', 'confirmations required (default: config, else 1)', toInt)
    .option('--machine-id <id>', 'the machine id the payment commits to (default: config, else the OS one)')
    .option('--height <n>', 'the payment\'s block height (default: config licence.height; without it the vendor\'s history is searched once)', toInt)
    .action(async (o: { txid?: string, vendor?: string, sats?: string, network?: string, electrum?: string[], electrumCa?: string, minConf?: number, machineId?: string, height?: number }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const { resolveLicence, verifyLicence } = await import('../../finance/index.js')
      const r = resolveLicence(o, await readConfig(g.home))
      // The linkage to keep is the daemon's business (licence-headers.json), not this report's.
      // Progress on a terminal only: a long first verification against slow servers.
      const tty = process.stderr.isTTY && g.json !== true
      let shown = 0
      const onProgress = (fetched: number, total: number): void => {
        if (total < PROGRESS_MIN_HEADERS || Date.now() - shown < 200) return
        shown = Date.now()
        process.stderr.write(`\rFetching block headers: ${fetched} of ${total}`)
      }
      const { link: _kept, ...report } = await verifyLicence(r.terms, r.servers, { ca: r.ca, ...(tty ? { onProgress } : {}) })
      if (shown > 0) process.stderr.write('\r\x1b[K')
      emit(g, report, v => renderVerdict(v))
      if (report.heightFound !== undefined && g.json !== true) {
        process.stderr.write(`The payment is in block ${report.heightFound}. Save it so later checks need not search the vendor's history: pass --height ${report.heightFound}, or set "licence.height": ${report.heightFound} in config.json.\n`)
      }
      if (report.status === 'error' && g.json !== true && report.error !== undefined) {
        process.stderr.write(`error[${report.error.code}]: ${report.error.message}\n`)
      }
      process.exitCode = VERDICT_EXIT[report.status] ?? 1
    })

  licence.command('status')
    .description('the daemon\'s last licence verdict (stale: kept valid through an outage)')
    .option('--recheck', 'ask the daemon to check now, and show that verdict')
    .action(async (o: { recheck?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const v = await withDaemon(g.home, async c => await c.request(o.recheck === true ? 'licence.verify' : 'licence.status', {})) as any
      emit(g, v, v => v.checks === undefined
        ? `Licence: ${v.status}${v.detail !== undefined ? ` — ${v.detail}` : ''}`
        : renderVerdict(v))
      if (v.status !== 'valid') process.exitCode = VERDICT_EXIT[v.status] ?? 3
    })
}

/** Human form of a verdict: the status, then every check with ✓ or ✗. */
function renderVerdict (v: any): string {
  const head = v.status === 'valid'
    ? v.stale === true
      ? `Licence VALID (stale): ${v.txid} — the last check reached no verdict (${v.unchecked === true ? 'it stopped before asking any server' : 'servers could not be reached'}); last verified ${v.lastVerifiedAt}, kept valid until ${v.graceUntil}`
      : `Licence VALID: ${v.txid} (${v.confirmations} confirmations)`
    : v.status === 'pending'
      ? `Licence PENDING: ${v.txid} (${v.confirmations} of ${v.minConf} confirmations)`
      : v.status === 'invalid'
        ? `Licence INVALID: ${v.txid}`
        : `Licence UNDECIDED: ${v.txid}${v.error?.message !== undefined ? ` — ${v.error.message}` : ''}`
  const lines = [head]
  for (const c of v.checks ?? []) lines.push(`  ${c.ok === true ? '✓' : '✗'} ${c.name}: ${c.detail}`)
  if (v.checkedAt !== undefined) lines.push(`Checked ${v.checkedAt}${v.servers !== undefined ? ` against ${v.servers.join(', ')}` : ''}`)
  if (v.stale === true && v.error?.message !== undefined) lines.push(`Last check: ${v.error.message}`)
  if (v.chainNote !== undefined) lines.push(`Chain: ${v.chainNote}`)
  return lines.join('\n')
}

function toInt (text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw badRequest(`Cannot use "${text}": expected a whole number`)
  return n
}

/**
 * config.json of the home as written, {} when absent; checked with the daemon's schema first, so
 * a mistyped key is an error here too (issue 14).
 */
async function readConfig (home: string | undefined): Promise<{ licence?: any, machineId?: string }> {
  const path = join(homeDir(home), 'config.json')
  if (!existsSync(path)) return {}
  let raw: any
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw badRequest(`Cannot read config "${path}": not valid JSON`, { cause })
  }
  const { parseConfig } = await import('../../node/index.js')
  parseConfig(raw, path)
  return raw
}
