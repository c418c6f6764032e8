/** `sov a2a send|receive|ack|nack`; the mailbox and outbox admin verbs are in `a2a-admin.ts`. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { MAX_TTL_MS, SovError, badRequest, timeout, unavailable } from '../../protocol/index.js'
import { durationFlag, emit, formatDuration, intFlag, printable, reportError, type GlobalOptions } from '../output.js'
import { IpcClient, withDaemon } from '../ipc-client.js'
import { buildMessage, idFlag, orderedParts, partCollector, type MessageFlags, type PartSpec } from './a2a-message.js'
import { registerA2AAdminCommands } from './a2a-admin.js'

/** Longest `send --wait` and `receive --wait` (the daemon's long-poll limit). */
const MAX_WAIT_MS = 300_000
/** Longest lease `receive` asks for (the daemon's limit, MAX_LEASE_MS). */
const MAX_LEASE_MS = 24 * 3600_000
/** How often `send --wait` looks at the outbox row. */
const SEND_POLL_MS = 100
/** One long-poll of `receive --follow`; it loops until Ctrl-C. */
const FOLLOW_POLL_MS = 30_000

export function registerA2ACommands (program: Command): void {
  const a2a = program.command('a2a').description('durable agent-to-agent mailboxes')
  a2a.command('send').argument('<peer>', 'PeerId of the receiving node').argument('<mailbox>', 'mailbox name on that node').argument('[text]', 'a text part (same as --text)')
    .description('queue an A2A message; prints its id (with --wait: once the receiver answered)')
    .option('--text <text>', 'a text part (repeatable)', partCollector('text'))
    .option('--data <json>', 'a data part: any JSON value (repeatable)', partCollector('data'))
    .option('--file <path>', 'a file as a raw part; - reads stdin (repeatable)', partCollector('file'))
    .option('--media-type <type>', 'media type of the --file parts', 'application/octet-stream')
    .option('--message-id <id>', 'A2A messageId (default: a new UUID); sent again with the same id, the message is queued once and its first id printed')
    .option('--context-id <id>', 'A2A contextId of the message')
    .option('--task-id <id>', 'A2A taskId of the message')
    .option('--metadata <json>', 'A2A metadata: a JSON object')
    .option('--ttl <duration>', 'give up delivering after this long (1s to 30d)', '24h')
    .option('--wait [duration]', 'wait until the receiver accepted (exit 0) or refused (exit 3); exit 1 when the wait or the TTL runs out first; default 30s, at most 5m')
    .action(async (peer: string, mailbox: string, text: string | undefined, o: MessageFlags & { ttl: string, wait?: string | true }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const ttlMs = durationFlag('--ttl', o.ttl, { min: 1000, max: MAX_TTL_MS })
      const waitMs = o.wait === undefined ? undefined : durationFlag('--wait', o.wait === true ? '30s' : o.wait, { min: 1000, max: MAX_WAIT_MS })
      const specs = text !== undefined ? [{ kind: 'text' as const, value: text }, ...orderedParts] : orderedParts
      const message = buildMessage(specs, o, () => readFileSync(0))
      const r = await withDaemon(g.home, async c => {
        const sent = await c.request('a2a.send', { peer, mailbox, message, ttlMs })
        return waitMs === undefined ? sent : { ...sent, ...await waitForAnswer(c, sent.id, waitMs) }
      })
      emit(g, r, r => waitMs === undefined ? r.id : r.status === 'delivered' ? `${r.id} delivered (accepted by ${peer})` : `${r.id} ${r.status}`)
      // Send is idempotent on the messageId and keeps the first content: said, so other content
      // sent under a reused id is not lost unseen (stdout stays the id, for scripts).
      if (r.duplicate === true && g.json !== true) process.stderr.write(`note: message ${String(message.messageId)} was already queued to ${peer}/${mailbox} as ${String(r.id)}: nothing new was sent; other content needs a new --message-id\n`)
      if (r.status === 'failed' || r.status === 'expired') {
        // A refusal is the receiver's verdict: exit 3 with its code. A TTL that ran out is no
        // answer at all: exit 1, as a wait that ended (docs/operations.md).
        const e = new SovError(r.code ?? 'INTERNAL', `Cannot deliver "${r.id}" to ${peer}/${mailbox}: ${r.status}: ${r.reason ?? 'no reason given'}`)
        if (g.json !== true) reportError(g, e)
        process.exitCode = r.status === 'expired' ? 1 : 3
      }
    })
  registerReceive(a2a)
  for (const verb of ['ack', 'nack'] as const) {
    a2a.command(verb).argument('<mailbox>').argument('<leases...>', 'the "lease" of each message, as `a2a receive` printed it')
      .description(verb === 'ack' ? 'acknowledge (delete) leased messages' : 'return leased messages to the queue')
      .action(async (mailbox: string, leases: string[], _o: unknown, cmd: Command) => {
        const g = cmd.optsWithGlobals<GlobalOptions>()
        const r = await withDaemon(g.home, async c => await c.request(verb === 'ack' ? 'a2a.ack' : 'a2a.nack', { mailbox, leases }))
        // A nack past the delivery limit moves the message to the dead letters: said, not hidden.
        const dead: string[] = r.dead ?? []
        emit(g, r, r => verb === 'ack' ? `Acknowledged ${r.count ?? leases.length}`
          : `Returned ${(r.count ?? leases.length) - dead.length}${dead.length > 0 ? `; ${dead.length} reached the delivery limit and went to the dead letters (${dead.join(', ')}; see \`sov a2a dead ${mailbox}\`)` : ''}`)
        // A lease that names no message here (acked already, or never leased) is said, and fails
        // the command, so a script notices (issue 14); the JSON lists them under "missing".
        if (r.missing?.length > 0) {
          if (g.json !== true) process.stderr.write(`error[NOT_FOUND]: Cannot ${verb} ${r.missing.length} of ${leases.length}: no message in "${mailbox}" holds ${r.missing.map((l: string) => `"${l}"`).join(', ')} (already acknowledged, moved to the dead letters, or never leased); see \`sov a2a dead ${mailbox}\` and \`sov a2a receive ${mailbox}\`\n`)
          process.exitCode = 1
        }
      })
  }
  a2a.command('reply').argument('<mailbox>').argument('<id>', 'the id sov a2a receive gave the call').argument('[text]')
    .description('answer a call leased from a pull agent\'s mailbox: the next state of the caller\'s task')
    .option('--data <json>', 'a data part: any JSON value')
    .option('--file <path>', 'a file as a raw part; - reads stdin')
    .option('--media-type <type>', 'media type of the --file part', 'application/octet-stream')
    .option('--state <state>', 'working | completed | failed | input-required | rejected', 'completed')
    .option('--artifact <name>', 'the parts are the artifact NAME, not the status message')
    .option('--message-id <id>', 'the reply\'s A2A messageId (yours to make unique): sent again, the reply is answered as the first time, not added twice')
    .action(async (mailbox: string, id: string, text: string | undefined, o: { data?: string, file?: string, mediaType?: string, state: string, artifact?: string, messageId?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const specs: PartSpec[] = [
        ...(text !== undefined ? [{ kind: 'text' as const, value: text }] : []),
        ...(o.data !== undefined ? [{ kind: 'data' as const, value: o.data }] : []),
        ...(o.file !== undefined ? [{ kind: 'file' as const, value: o.file }] : [])
      ]
      if (specs.length !== 1) throw badRequest('Cannot reply: give exactly one of TEXT, --data JSON or --file F')
      const { parts } = buildMessage(specs, { mediaType: o.mediaType }, () => readFileSync(0)) as { parts: unknown[] }
      const messageId = o.messageId === undefined ? undefined : idFlag('--message-id', o.messageId)
      const r = await withDaemon(g.home, async c => await c.request('a2a.reply', { mailbox, callId: id, parts, state: o.state as any, artifact: o.artifact, messageId }))
      emit(g, r, r => `Task ${r.taskId} is now ${r.state}`)
    })
  registerA2AAdminCommands(a2a)
}

/** Polls the outbox row until it is settled or `waitMs` ran out (then TIMEOUT, exit 1). */
async function waitForAnswer (c: IpcClient, id: string, waitMs: number): Promise<Record<string, any>> {
  const until = Date.now() + waitMs
  for (;;) {
    const [row] = await c.request('a2a.outbox', { outboxId: id }) as any[]
    if (row !== undefined && row.status !== 'queued') return row
    if (Date.now() >= until) {
      throw timeout(`Cannot confirm "${id}": still queued after ${formatDuration(waitMs)}${row?.lastError !== undefined ? ` (last error: ${row.lastError as string})` : ''}; it stays queued — see \`sov a2a outbox\``)
    }
    await new Promise(resolve => setTimeout(resolve, SEND_POLL_MS))
  }
}

function registerReceive (a2a: Command): void {
  a2a.command('receive').argument('<mailbox>').description('lease messages from a mailbox; --follow keeps printing them (NDJSON with --json)')
    .option('--lease <duration>', 'how long the messages are yours before they return to the queue (1s to 24h)', '30s')
    .option('--max <n>', 'at most this many messages (1 to 1000)', '10')
    .option('--wait <duration>', 'wait this long for a message when none is ready (0s to 5m)', '0s')
    .option('--follow', 'keep receiving until Ctrl-C, one message a line; leases still held are released on exit')
    .option('--ack', 'with --follow: acknowledge each message once printed')
    .option('--out <dir>', 'save raw parts to files in this directory (named <id>-<n>[-filename])')
    .action(async (mailbox: string, opt: { lease: string, max: string, wait: string, follow?: boolean, ack?: boolean, out?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>()
      const leaseMs = durationFlag('--lease', opt.lease, { min: 1000, max: MAX_LEASE_MS })
      const waitMs = durationFlag('--wait', opt.wait, { min: 0, max: MAX_WAIT_MS })
      const max = intFlag('--max', opt.max, { min: 1, max: 1000 })
      if (opt.ack === true && opt.follow !== true) throw badRequest('Cannot use --ack without --follow; acknowledge with `sov a2a ack MAILBOX LEASE…`')
      if (opt.out !== undefined) mkdirSync(opt.out, { recursive: true })
      if (opt.follow !== true) {
        const r = await withDaemon(g.home, async c => await c.request('a2a.receive', { mailbox, leaseMs, max, waitMs }, waitMs + 30_000)) as any[]
        if (opt.out !== undefined) for (const m of r) saveRaw(opt.out, m)
        emit(g, r, r => r.length === 0 ? 'No messages' : r.map(human).join('\n'))
        return
      }
      await follow(g, mailbox, { leaseMs, max, ack: opt.ack === true, out: opt.out })
    })
}

/** `receive --follow`: a consumer loop until SIGINT/SIGTERM; unacknowledged leases go back on exit. */
async function follow (g: GlobalOptions, mailbox: string, opts: { leaseMs: number, max: number, ack: boolean, out?: string }): Promise<void> {
  const c = await IpcClient.open(g.home)
  const held = new Set<string>()
  const stop = new AbortController()
  const onSignal = (): void => { stop.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  // One listener for the whole loop (one per poll piled up: a warning at the 11th, and memory).
  const stopped = new Promise<null>(resolve => { stop.signal.addEventListener('abort', () => { resolve(null) }, { once: true }) })
  try {
    while (!stop.signal.aborted) {
      const got = c.request('a2a.receive', { mailbox, leaseMs: opts.leaseMs, max: opts.max, waitMs: FOLLOW_POLL_MS }, FOLLOW_POLL_MS + 30_000) as Promise<any[]>
      const r = await Promise.race([got, stopped])
      // Interrupted mid-poll: the daemon ends that poll when the connection closes.
      if (r === null) break
      for (const m of r) held.add(m.lease)
      // With --ack, what was printed is acknowledged even when a later message of the batch
      // cannot be saved: released instead, it would come back and count towards a dead letter.
      const printed: string[] = []
      try {
        for (const m of r) {
          if (opts.out !== undefined) saveRaw(opts.out, m)
          process.stdout.write((g.json === true ? JSON.stringify(m) : printable(human(m))) + '\n')
          printed.push(m.lease)
        }
      } finally {
        if (opts.ack && printed.length > 0) {
          await c.request('a2a.ack', { mailbox, leases: printed })
          for (const lease of printed) held.delete(lease)
        }
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    // Closing ends the pending poll on the daemon; the release goes over a fresh connection,
    // since this one may still be answering that poll. Also when the loop failed (a part that
    // cannot be saved): what was not printed goes back to the queue at once.
    c.close()
    if (held.size > 0) await withDaemon(g.home, async r => await r.request('a2a.nack', { mailbox, leases: [...held] })).catch(() => {})
  }
}

/** Longest sender-given file name kept, in UTF-16 units (a file name is at most 255 bytes). */
const MAX_SAVED_NAME = 100

function saveRaw (dir: string, m: any): void {
  ;(m.message?.parts ?? []).forEach((p: any, i: number) => {
    if (p.raw === undefined) return
    const name = `${String(m.id)}-${i}${typeof p.filename === 'string' && p.filename !== '' ? '-' + safeFileName(p.filename) : ''}`
    try {
      writeFileSync(join(dir, name), Buffer.from(p.raw, 'base64'), { mode: 0o600 })
    } catch (err: any) {
      throw unavailable(`Cannot save part ${i} of message ${String(m.id)} to "${join(dir, name)}": ${String(err.code ?? err.message)}; free space or choose another --out directory (the message was not acknowledged)`)
    }
  })
}

/**
 * The sender's file name made safe as one name in the --out directory: separators, control
 * characters (NUL among them) become `_`, lone surrogates U+FFFD, and it is cut to MAX_SAVED_NAME —
 * the name comes from a remote peer, so it must neither escape the directory nor fail the write.
 */
function safeFileName (filename: string): string {
  return filename.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, MAX_SAVED_NAME).toWellFormed()
}

function human (m: any): string {
  return `${String(m.id)} from ${String(m.from)} (delivery ${String(m.deliveries)}, lease ${String(m.lease)})\n${summarise(m.message)}`
}

function summarise (message: any): string {
  return (message?.parts ?? []).map((p: any) =>
    p.text !== undefined ? `  ${p.text}` : p.data !== undefined ? `  data ${JSON.stringify(p.data)}` : p.raw !== undefined ? `  raw ${p.filename ?? ''} (${Math.floor(String(p.raw).length * 3 / 4)} bytes)` : `  url ${p.url}`
  ).join('\n')
}
