/** `sov a2a send|receive|reply|ack|nack|outbox|mailboxes`. */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import type { Command } from 'commander'
import { badRequest } from '../../protocol/index.js'
import { emit, parseDuration, type GlobalOptions } from '../output.js'
import { withDaemon } from '../ipc-client.js'

export function registerA2ACommands (program: Command): void {
  const a2a = program.command('a2a').description('durable agent-to-agent mailboxes')
  a2a.command('send').argument('<peer>', 'PeerId of the receiving node').argument('<mailbox>').argument('[text]')
    .description('queue an A2A message; prints its id')
    .option('--data <json>', 'a JSON object as a data part')
    .option('--file <path>', 'a file as a raw part')
    .option('--ttl <duration>', 'give up delivering after this long', '24h')
    .action(async (peer: string, mailbox: string, text: string | undefined, o: { data?: string, file?: string, ttl: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const part = onePart(text, o, 'send')
      const message = { messageId: randomUUID(), role: 'ROLE_USER', parts: [part] }
      const r = await withDaemon(g.home, async c => await c.request('a2a.send', { peer, mailbox, message, ttlMs: parseDuration(o.ttl) }))
      emit(g, r, r => r.id)
    })
  a2a.command('receive').argument('<mailbox>').description('lease messages from a mailbox')
    .option('--lease <duration>', 'how long the messages are yours before they return to the queue', '30s')
    .option('--max <n>', 'at most this many messages', '10')
    .option('--wait <duration>', 'wait this long for a message when none is ready', '0s')
    .action(async (mailbox: string, o: { lease: string, max: string, wait: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const waitMs = parseDuration(o.wait)
      const max = Number.parseInt(o.max, 10)
      if (!Number.isInteger(max) || max < 1) throw badRequest(`Cannot parse --max "${o.max}": use a whole number ≥ 1`)
      const r = await withDaemon(g.home, async c => await c.request('a2a.receive', { mailbox, leaseMs: parseDuration(o.lease), max, waitMs }, waitMs + 30_000)) as any[]
      emit(g, r, r => r.length === 0 ? 'No messages' : r.map(m => `${m.id} from ${m.from} (delivery ${m.deliveries})\n${summarise(m.message)}`).join('\n'))
    })
  for (const verb of ['ack', 'nack'] as const) {
    a2a.command(verb).argument('<mailbox>').argument('<ids...>')
      .description(verb === 'ack' ? 'acknowledge (delete) leased messages' : 'return leased messages to the queue')
      .action(async (mailbox: string, ids: string[], _o: unknown, cmd: Command) => {
        const g = cmd.optsWithGlobals<GlobalOptions>()
        const r = await withDaemon(g.home, async c => await c.request(verb === 'ack' ? 'a2a.ack' : 'a2a.nack', { mailbox, ids }))
        emit(g, r, r => `${verb === 'ack' ? 'Acknowledged' : 'Returned'} ${r.count ?? ids.length}`)
      })
  }
  a2a.command('reply').argument('<mailbox>').argument('<id>', 'the id sov a2a receive gave the call').argument('[text]')
    .description('answer a call leased from a pull agent\'s mailbox: the next state of the caller\'s task')
    .option('--data <json>', 'a JSON object as a data part')
    .option('--file <path>', 'a file as a raw part')
    .option('--state <state>', 'working | completed | failed | input-required | rejected', 'completed')
    .option('--artifact <name>', 'the parts are the artifact NAME, not the status message')
    .action(async (mailbox: string, id: string, text: string | undefined, o: { data?: string, file?: string, state: string, artifact?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const part = onePart(text, o, 'reply')
      const r = await withDaemon(g.home, async c => await c.request('a2a.reply', { mailbox, callId: id, parts: [part], state: o.state as any, artifact: o.artifact }))
      emit(g, r, r => `Task ${r.taskId} is now ${r.state}`)
    })
  a2a.command('outbox').description('messages this node sends, with their delivery state')
    .option('--status <status>', 'queued | delivered | failed | expired')
    .action(async (o: { status?: 'queued' }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('a2a.outbox', { status: o.status })) as any[]
      emit(g, r, r => r.length === 0 ? 'Outbox empty' : r.map(m => `${m.id} → ${m.to} ${m.mailbox}  ${m.status} (${m.attempts} attempts)${m.reason !== undefined && m.reason !== null ? `  ${m.reason}` : ''}`).join('\n'))
    })
  a2a.command('mailboxes').description('mailboxes with messages ready, leased and dead')
    .action(async (_o: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const r = await withDaemon(g.home, async c => await c.request('a2a.mailboxes', {})) as any[]
      emit(g, r, r => r.length === 0 ? 'No mailboxes' : r.map(m => `${m.mailbox}  ${m.ready} ready  ${m.leased} leased  ${m.dead} dead`).join('\n'))
    })
}

/** TEXT, --data JSON or --file F (exactly one) as an A2A part. */
function onePart (text: string | undefined, o: { data?: string, file?: string }, verb: string): Record<string, unknown> {
  const given = [text !== undefined, o.data !== undefined, o.file !== undefined].filter(Boolean).length
  if (given !== 1) throw badRequest(`Cannot ${verb}: give exactly one of TEXT, --data JSON or --file F`)
  if (text !== undefined) return { text }
  if (o.data !== undefined) {
    let data: unknown
    try { data = JSON.parse(o.data) } catch (cause) { throw badRequest('Cannot parse --data: not valid JSON', { cause }) }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw badRequest(`Cannot ${verb} --data: it must be a JSON object`)
    return { data }
  }
  return { raw: readFileSync(o.file!).toString('base64'), filename: basename(o.file!), mediaType: 'application/octet-stream' }
}

function summarise (message: any): string {
  return (message?.parts ?? []).map((p: any) =>
    p.text !== undefined ? `  ${p.text}` : p.data !== undefined ? `  data ${JSON.stringify(p.data)}` : p.raw !== undefined ? `  raw ${p.filename ?? ''} (${Math.floor(String(p.raw).length * 3 / 4)} bytes)` : `  url ${p.url}`
  ).join('\n')
}
