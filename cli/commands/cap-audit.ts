/** `sov cap grant|revoke|list` and `sov audit tail|verify|checkpoint|purge`. */
import type { Command } from 'commander'
import { auditBroken, badRequest, purgeCutoff } from '../../protocol/index.js'
import { durationFlag, emit, intFlag, printable, type GlobalOptions } from '../output.js'
import { confirm } from '../confirm.js'
import { MAX_EXPIRES_MS, expiryMark } from './expiry.js'
import { withDaemon, type IpcClient } from '../ipc-client.js'

/** Most rows `audit tail -n` shows (the daemon keeps this many in memory). */
const AUDIT_TAIL_MAX_ROWS = 10_000

/**
 * The last `n` rows. One answer carries at most ~2 MiB of rows, the newest; the older rest is
 * fetched in pages after a seq, so large rows never make an answer too large to send (issue 10).
 */
async function lastRows (c: IpcClient, n: number): Promise<any[]> {
  const rows = await c.request('audit.tail', { n }) as any[]
  if (rows.length === 0 || rows.length >= n) return rows
  const first = rows[0].seq as number
  const gap: any[] = []
  let after = Math.max(0, first - 1 - (n - rows.length))
  while (after < first - 1) {
    const page = (await c.request('audit.tail', { n: first - 1 - after, afterSeq: after }) as any[]).filter(r => r.seq < first)
    if (page.length === 0) break
    gap.push(...page)
    after = page[page.length - 1].seq
  }
  return [...gap, ...rows]
}

/** How often `audit tail --follow` asks for new rows. */
const FOLLOW_POLL_MS = 500

export function registerCapAuditCommands (program: Command): void {
  const cap = program.command('cap').description('capability grants this node signs')
  cap.command('grant').argument('<audience>', 'PeerId, or agent:NAME')
    .argument('<cmd>', 'one of: /a2a/send (a peer may deliver to a mailbox), /a2a/read, /a2a/post (agents: receive, send), /licence/verify, /audit/read, /cap/admin')
    .description('sign a grant, e.g. `sov cap grant 12D3KooW… /a2a/send --mailbox builder`')
    .option('--mailbox <name>', 'mailbox the grant covers (default: all, for a2a commands)')
    .option('--expires <duration>', 'lifetime, 1s to 3650d (e.g. 7d), or "never"', '7d')
    .action(async (aud: string, capCmd: string, o: { mailbox?: string, expires: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const expiresS = o.expires === 'never' ? null : Math.round(durationFlag('--expires', o.expires, { min: 1000, max: MAX_EXPIRES_MS }) / 1000)
      const r = await withDaemon(g.home, async c => await c.request('cap.grant', { aud, cmd: capCmd, mailbox: o.mailbox, expiresS }))
      emit(g, r, r => `Granted ${r.grant.cmd} on ${r.grant.with} to ${r.grant.aud}${r.grant.exp === null ? '' : ` until ${new Date(r.grant.exp * 1000).toISOString()}`}\nid ${r.id}`)
    })
  cap.command('revoke').argument('<grant-id>', 'the id from `sov cap list`, or a unique prefix of it (≥ 8 hex digits)').description('revoke a grant by id')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('cap.revoke', { grantId: id }))
      emit(g, r, r => r.alreadyRevoked === true ? `Grant ${String(r.id)} was already revoked` : `Revoked ${String(r.id)}`)
    })
  cap.command('list').description('grants: ✓ valid, ✗ revoked, ⌛ expired; the full id is what `cap revoke` takes')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('cap.list', {})) as any[]
      emit(g, r, r => r.length === 0 ? 'No grants' : r.map(x => `${x.revoked === true ? '✗' : x.expired === true ? '⌛' : '✓'} ${String(x.id)}  ${String(x.aud)}  ${String(x.cmd)}  ${String(x.with)}  ${expiryMark(x.exp)}${x.revoked === true ? '  REVOKED' : ''}`).join('\n'))
    })

  const audit = program.command('audit').description('the hash-chained audit log')
  audit.command('tail').description('the last rows')
    .option('-n, --lines <n>', 'how many rows', '20')
    .option('--follow', 'keep printing new rows until interrupted')
    .action(async (o: { lines: string, follow?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const n = intFlag('-n', o.lines, { min: 0, max: AUDIT_TAIL_MAX_ROWS })
      await withDaemon(g.home, async c => {
        const rows = await lastRows(c, n)
        const show = (rs: any[]): void => {
          for (const row of rs) process.stdout.write((g.json === true ? JSON.stringify(row) : printable(formatRow(row))) + '\n')
        }
        if (g.json === true && o.follow !== true) { emit(g, rows, () => ''); return }
        show(rows)
        if (o.follow !== true) return
        // Follow from the head even when -n 0 showed nothing.
        const head = rows.length > 0 ? rows : await c.request('audit.tail', { n: 1 }) as any[]
        let after = head.length > 0 ? head[head.length - 1].seq : 0
        let stop = false
        process.once('SIGINT', () => { stop = true })
        while (!stop) {
          await new Promise(resolve => setTimeout(resolve, FOLLOW_POLL_MS))
          const more = await c.request('audit.tail', { n: 1000, afterSeq: after }) as any[]
          show(more)
          if (more.length > 0) after = more[more.length - 1].seq
        }
      })
    })
  audit.command('verify').description('recompute the chain and checkpoints; exit 3 when broken')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('audit.verify', {}))
      const acked = (r: any): string => (r.acknowledged ?? []).map((a: any) => `\n  acknowledged break at seq ${String(a.seq)} (row ${String(a.ackSeq)}): ${String(a.note)} — ${String(a.reason)}`).join('')
      emit(g, r, r => r.ok === true ? `Audit log OK: ${r.rows} rows${acked(r)}` : `Audit log BROKEN at seq ${r.firstBadSeq}: ${r.reason}${acked(r)}`)
      if (r.ok !== true) {
        if (g.json !== true) throw auditBroken(`Cannot verify the audit log: broken at seq ${r.firstBadSeq}: ${r.reason}`)
        process.exitCode = 3
      }
    })
  audit.command('acknowledge').description('accept the first break of the chain with a reason (signed and audited); verify then lists it instead of failing')
    .requiredOption('--seq <n>', 'the seq `sov audit verify` reports as broken')
    .requiredOption('--reason <text>', 'why it is accepted (kept in the log)')
    .action(async (o: { seq: string, reason: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const seq = intFlag('--seq', o.seq, { min: 1, max: Number.MAX_SAFE_INTEGER })
      if (o.reason.trim().length < 3) throw badRequest('Cannot use --reason: say why in at least 3 characters')
      const r = await withDaemon(g.home, async c => await c.request('audit.acknowledge', { seq, reason: o.reason }))
      emit(g, r, r => `Acknowledged the break at seq ${String(r.acknowledged)} (sealed by the checkpoint at seq ${String(r.checkpoint)}); verify: ${r.verify.ok === true ? 'OK' : `BROKEN at seq ${String(r.verify.firstBadSeq)}`}`)
    })
  audit.command('checkpoint').description('write a signed checkpoint now')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('audit.checkpoint', {}))
      emit(g, r, r => `Checkpoint at seq ${r.seq} (${String(r.hash).slice(0, 16)}…)`)
    })
  audit.command('purge').description('drop rows older than DATE, keeping the chain verifiable')
    .requiredOption('--before <date>', 'RFC 3339 date or time in the past, e.g. 2026-01-01')
    .option('--yes', 'do not ask')
    .action(async (o: { before: string, yes?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const at = purgeCutoff(o.before, `--before "${o.before}"`)
      await confirm(`Drop every audit row before ${at.toISOString()}?`, o.yes, 'purge the audit log')
      const r = await withDaemon(g.home, async c => await c.request('audit.purge', { before: o.before }))
      emit(g, r, r => `Purged ${r.purged ?? 0} rows`)
    })
}

function formatRow (r: any): string {
  return `#${r.seq} ${r.ts} ${r.outcome.padEnd(6)} ${r.type} ${r.actor} ${JSON.stringify(r.detail)}`
}
