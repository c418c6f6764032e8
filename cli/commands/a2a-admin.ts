/**
 * `sov a2a outbox | mailboxes | dead | redrive | purge | retry` (issue 14, DESIGN §13): look at
 * and work on what did not flow — the NATS JetStream habits of inspecting and redriving dead
 * letters and purging a stream.
 */
import type { Command } from 'commander'
import { badRequest } from '../../protocol/index.js'
import { emit, intFlag, type GlobalOptions } from '../output.js'
import { withDaemon } from '../ipc-client.js'
import { confirm } from '../confirm.js'

const OUTBOX_STATUSES = ['queued', 'delivered', 'failed', 'expired']

export function registerA2AAdminCommands (a2a: Command): void {
  a2a.command('outbox').description('messages this node sends, with their delivery state and last error')
    .option('--status <status>', `only this state: ${OUTBOX_STATUSES.join(' | ')}`)
    .option('--peer <peerId>', 'only messages to this peer')
    .option('--limit <n>', 'only the newest N (1 to 100000; an answer stops at 2 MiB)', '1000')
    .action(async (o: { status?: string, peer?: string, limit: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      if (o.status !== undefined && !OUTBOX_STATUSES.includes(o.status)) throw badRequest(`Cannot use --status "${o.status}": use ${OUTBOX_STATUSES.join(', ')}`)
      const limit = intFlag('--limit', o.limit, { min: 1, max: 100_000 })
      const r = await withDaemon(g.home, async c => await c.request('a2a.outbox', { status: o.status as 'queued', peer: o.peer, limit })) as any[]
      emit(g, r, r => r.length === 0 ? 'Outbox empty' : r.map(m => {
        const why = m.reason ?? m.lastError
        return `${String(m.id)} → ${String(m.to)} ${String(m.mailbox)}  ${String(m.status)} (${String(m.attempts)} attempts)${why !== undefined ? `  ${m.status === 'queued' ? 'last error: ' : ''}${m.code !== undefined ? `${String(m.code)}: ` : ''}${String(why)}` : ''}`
      }).join('\n'))
    })
  a2a.command('retry').argument('<id>', 'outbox id of a failed message').description('put a failed (refused) message back in the queue and deliver it now')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('a2a.retry', { outboxId: id }))
      emit(g, r, r => `Queued ${String(r.id)} again for ${String(r.peer)}`)
    })
  a2a.command('mailboxes').description('mailboxes with messages ready, leased and dead, by name')
    .option('--limit <n>', 'at most N (1 to 100000)', '1000')
    .option('--after <mailbox>', 'only the mailboxes after this one (the next page)')
    .action(async (o: { limit: string, after?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const limit = intFlag('--limit', o.limit, { min: 1, max: 100_000 })
      // One more than shown tells whether there is a next page.
      const r = await withDaemon(g.home, async c => await c.request('a2a.mailboxes', { after: o.after, limit: Math.min(limit + 1, 100_000) })) as any[]
      const page = r.slice(0, limit)
      emit(g, page, page => page.length === 0 ? 'No mailboxes' : page.map(m => `${String(m.mailbox)}  ${String(m.ready)} ready  ${String(m.leased)} leased  ${String(m.dead)} dead`).join('\n') +
        (r.length > page.length ? `\nMore: sov a2a mailboxes --after ${String(page[page.length - 1].mailbox)}` : ''))
    })
  a2a.command('dead').argument('<mailbox>').description('dead letters of a mailbox: why they died and after how many deliveries')
    .option('--limit <n>', 'at most N (1 to 100000)', '1000')
    .action(async (mailbox: string, o: { limit: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const limit = intFlag('--limit', o.limit, { min: 1, max: 100_000 })
      const { r, count } = await withDaemon(g.home, async c => {
        const r = await c.request('a2a.dead', { mailbox, limit }) as any[]
        // An answer stops at 2 MiB of letters: say how many there are beyond it.
        const stats = g.json === true ? [] : await c.request('a2a.mailboxes', { mailbox }) as any[]
        return { r, count: stats[0]?.mailbox === mailbox ? Number(stats[0].dead) : r.length }
      })
      emit(g, r, r => r.length === 0 ? `No dead letters in ${mailbox}` : r.map(m => `${String(m.id)} from ${String(m.from)}  ${String(m.deliveries)} deliveries  died ${new Date(m.diedAt).toISOString()}: ${String(m.reason)}`).join('\n') +
        (count > r.length ? `\nThe oldest ${r.length} of ${count} dead letters (an answer stops at 2 MiB); redrive or purge these to see the next` : ''))
    })
  a2a.command('redrive').argument('<mailbox>').argument('[ids...]', 'dead letter ids (or --all)')
    .description('put dead letters back as ready, delivery count reset (audited)')
    .option('--all', 'every dead letter of the mailbox')
    .action(async (mailbox: string, ids: string[], o: { all?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      if ((ids.length > 0) === (o.all === true)) throw badRequest('Cannot redrive: give dead letter ids or --all (not both); list them with `sov a2a dead MAILBOX`')
      const r = await withDaemon(g.home, async c => await c.request('a2a.redrive', o.all === true ? { mailbox, all: true } : { mailbox, ids }))
      emit(g, r, r => `Redrove ${r.redriven.length as number} to ${mailbox}${r.missing.length > 0 ? `; not dead letters of ${mailbox}: ${(r.missing as string[]).join(', ')}` : ''}`)
      if (r.missing.length > 0) process.exitCode = 1
    })
  a2a.command('purge').argument('<mailbox>').description('delete the dead letters and/or ready messages of a mailbox (audited; leased ones stay)')
    .option('--dead', 'only the dead letters')
    .option('--ready', 'only the ready messages')
    .option('--yes', 'do not ask')
    .action(async (mailbox: string, o: { dead?: boolean, ready?: boolean, yes?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const which = o.dead === true && o.ready !== true ? 'dead' : o.ready === true && o.dead !== true ? 'ready' : 'all'
      const what = which === 'all' ? 'dead letters and ready messages' : which === 'dead' ? 'dead letters' : 'ready messages'
      await confirm(`Delete every ${what} of mailbox "${mailbox}"?`, o.yes, `purge ${mailbox}`)
      const r = await withDaemon(g.home, async c => await c.request('a2a.purge', { mailbox, which }))
      emit(g, { mailbox, which, ...r }, r => `Purged ${mailbox}: ${r.dead as number} dead letters, ${r.ready as number} ready messages`)
    })
}
