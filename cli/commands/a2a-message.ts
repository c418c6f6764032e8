/**
 * Building the A2A `Message` that `sov a2a send` queues (issue 14): parts in the order given
 * (`--text`, `--data`, `--file` repeatable; `--file -` reads stdin), plus `--message-id`, `--context-id`,
 * `--task-id`, `--metadata JSON` and `--media-type` (of the `--file` parts). Every input is read
 * and checked here, before anything reaches the daemon; a wrong one is a usage error naming it.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { MAX_ENVELOPE_BYTES, SovError, badRequest, tooLarge } from '../../protocol/index.js'

/** A part as typed, in command-line order. */
export type PartSpec = { kind: 'text' | 'data' | 'file', value: string }

/** A commander option parser that appends to one ordered list for all three part flags. */
export function partCollector (kind: PartSpec['kind']) {
  return (value: string): PartSpec[] => { orderedParts.push({ kind, value }); return orderedParts }
}
/** Shared across the three flags so `--text a --file f --text b` keeps its order (one command a process). */
export const orderedParts: PartSpec[] = []

/** type/subtype (RFC 6838 names), optionally with parameters. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;.*)?$/

export interface MessageFlags { contextId?: string, taskId?: string, metadata?: string, mediaType?: string, messageId?: string }

export function buildMessage (specs: PartSpec[], flags: MessageFlags, readStdin: () => Buffer): Record<string, unknown> {
  if (specs.length === 0) throw badRequest('Cannot send: give the content as TEXT, --text T, --data JSON or --file F (each repeatable)')
  if (specs.filter(s => s.kind === 'file' && s.value === '-').length > 1) throw badRequest('Cannot send: --file - (stdin) can be given once')
  // An empty TEXT is most often an unset shell variable ("$ANSWER"): said, not sent as nothing.
  if (specs.some(s => s.kind === 'text' && s.value === '')) throw badRequest('Cannot send an empty text: give the text (is a shell variable unset?), or --data JSON or --file F')
  if (flags.mediaType !== undefined && !MEDIA_TYPE.test(flags.mediaType)) throw badRequest(`Cannot use --media-type "${flags.mediaType}": give a media type such as text/plain or application/pdf`)
  const parts = specs.map(s => {
    if (s.kind === 'text') return { text: s.value }
    if (s.kind === 'data') return { data: parseJson('--data', s.value) }
    return fileRawPart(s.value, flags.mediaType, readStdin)
  })
  // A script that sends again after a lost answer gives the same --message-id: one message.
  const messageId = flags.messageId !== undefined ? idFlag('--message-id', flags.messageId) : randomUUID()
  const message: Record<string, unknown> = { messageId, role: 'ROLE_USER', parts }
  if (flags.contextId !== undefined) message.contextId = idFlag('--context-id', flags.contextId)
  if (flags.taskId !== undefined) message.taskId = idFlag('--task-id', flags.taskId)
  if (flags.metadata !== undefined) {
    const m = parseJson('--metadata', flags.metadata)
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badRequest(`Cannot use --metadata "${flags.metadata}": it must be a JSON object, e.g. '{"priority":"high"}'`)
    message.metadata = m
  }
  return message
}

/**
 * The largest file a raw part can carry: its base64 must fit one envelope (a reply's snapshot is
 * a little smaller still, which the daemon checks). Said here, naming the file, before it is read
 * whole and sent: a 10 MB file was an IPC frame error naming neither (helper finding, stop 26).
 */
const MAX_FILE_PART_BYTES = Math.floor(MAX_ENVELOPE_BYTES / 4) * 3

function tooBig (path: string, size: number): Error {
  const what = path === '-' ? 'stdin' : `"${path}"`
  return tooLarge(`Cannot send --file ${what}: it is ${size} bytes, over the ${MAX_FILE_PART_BYTES} bytes one message could ever carry (their base64 fills a ${MAX_ENVELOPE_BYTES}-byte envelope); put it where the receiver can fetch it and send its URL instead`)
}

function fileRawPart (path: string, mediaType: string | undefined, readStdin: () => Buffer): Record<string, unknown> {
  let bytes: Buffer
  if (path === '-') {
    bytes = readStdin()
  } else {
    let isDir = false
    try {
      const st = statSync(path)
      isDir = st.isDirectory()
      if (st.isFile() && st.size > MAX_FILE_PART_BYTES) throw tooBig(path, st.size)
    } catch (cause) {
      if (cause instanceof SovError) throw cause
      const code = (cause as NodeJS.ErrnoException).code
      throw badRequest(`Cannot read --file "${path}": ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (cause as Error).message}; check the path`, { cause })
    }
    if (isDir) throw badRequest(`Cannot read --file "${path}": it is a directory; give a file (or pack the directory, e.g. with tar)`)
    try { bytes = readFileSync(path) } catch (cause) {
      throw badRequest(`Cannot read --file "${path}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}; check its permissions`, { cause })
    }
  }
  // Also after reading: a pipe or device has no size until read.
  if (bytes.length > MAX_FILE_PART_BYTES) throw tooBig(path, bytes.length)
  const part: Record<string, unknown> = { raw: bytes.toString('base64'), mediaType: mediaType ?? 'application/octet-stream' }
  if (path !== '-') part.filename = basename(path)
  return part
}

function parseJson (flag: string, text: string): unknown {
  const shown = text.length > 60 ? text.slice(0, 60) + '…' : text
  let huge: string | undefined
  let value: unknown
  try {
    // A number JSON can write but not hold (1e400 parses to Infinity) would be sent as null.
    value = JSON.parse(text, (_k, v) => { if (typeof v === 'number' && !Number.isFinite(v)) huge ??= String(v); return v })
  } catch (cause) {
    throw badRequest(`Cannot use ${flag} "${shown}": not valid JSON (${(cause as Error).message}); quote it for the shell, e.g. '{"n":1}'`, { cause })
  }
  if (huge !== undefined) throw badRequest(`Cannot use ${flag} "${shown}": a number in it is beyond what JSON numbers hold (it reads as ${huge}); send it as a string`)
  return value
}

/** An id flag's value (`--message-id`, `--context-id`, `--task-id`): 1 to 256 characters, not only blanks. */
export function idFlag (flag: string, text: string): string {
  if (text.length === 0 || text.length > 256 || text.trim() === '') throw badRequest(`Cannot use ${flag} "${text}": use 1 to 256 characters, not only spaces`)
  return text
}
