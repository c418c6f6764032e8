/**
 * The `fetch` the forwarder gives the SDK client for `http:` agents (issue 11 performance): a
 * keep-alive `node:http` request answered with the few members of a `Response` the SDK's JSON-RPC
 * transport reads (`ok`, `status`, `statusText`, `headers.get`, `text()`, `json()`, `body`).
 * Node's own `fetch` (undici) cost the callee ~0.3 ms of CPU per call to a local agent, a tenth
 * of all its work. Anything else (`https:`, a `Request` object) goes to the global `fetch`.
 *
 * Errors are those `fetch` gives where the forwarder tells them apart: an aborted request
 * rejects with the signal's reason (a `TimeoutError` for `AbortSignal.timeout`); a refused or
 * reset connection with Node's error (`ECONNREFUSED`, `ECONNRESET`); a body cut short errors
 * its stream. Every answer, `https:` ones too, is read within `MAX_AGENT_ANSWER_BYTES` (per event
 * when it streams): past that its body errors with `error[TOO_LARGE]` and the request is dropped.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import { MAX_TASK_FRAME_BYTES } from '../../protocol/index.js'
import { boundedBody } from './bounded-body.js'

/**
 * Most bytes read of one answer of an agent, or of one event of its stream: a task snapshot
 * crosses the mesh in one frame, so anything larger could never reach the caller. @default 1 MiB + 64 KiB
 */
export const MAX_AGENT_ANSWER_BYTES = MAX_TASK_FRAME_BYTES + 64 * 1024

export interface LocalFetch {
  fetch: typeof fetch
  /** Closes the kept-alive sockets. */
  close: () => void
}

export function localFetch (): LocalFetch {
  const agent = new Agent({ keepAlive: true })
  const f = async (input: Parameters<typeof fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : undefined
    if (url === undefined || url.protocol !== 'http:') {
      const res = await fetch(input, init)
      return answer(res.status, res.statusText, name => res.headers.get(name), res.body ?? emptyBody(), () => { void res.body?.cancel() })
    }
    const signal = init.signal ?? undefined
    signal?.throwIfAborted()
    return await new Promise<Response>((resolve, reject) => {
      const req = request(url, { method: init.method ?? 'GET', headers: plainHeaders(init.headers), agent })
      const onAbort = (): void => { req.destroy(signal?.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
      req.once('error', err => { signal?.removeEventListener('abort', onAbort); reject(signal?.aborted === true ? signal.reason : err) })
      req.once('response', res => {
        res.once('close', () => { signal?.removeEventListener('abort', onAbort) })
        resolve(answer(res.statusCode ?? 0, res.statusMessage ?? '', name => headerOf(res, name), nodeBody(res), () => { res.destroy() }))
      })
      req.end(typeof init.body === 'string' ? init.body : undefined)
    })
  }
  return { fetch: f as typeof fetch, close: () => { agent.destroy() } }
}

/** What the SDK reads of a `Response`: its body bounded (`MAX_AGENT_ANSWER_BYTES`). */
function answer (status: number, statusText: string, header: (name: string) => string | null, raw: ReadableStream<Uint8Array>, drop: () => void): Response {
  const sse = (header('content-type') ?? '').toLowerCase().startsWith('text/event-stream')
  const body = boundedBody(raw, { maxBytes: MAX_AGENT_ANSWER_BYTES, sse, what: "the agent's answer", onOver: drop })
  let used = false
  const text = async (): Promise<string> => {
    if (used) throw new TypeError('Body is unusable: the body has already been read')
    used = true
    const chunks: Uint8Array[] = []
    for await (const chunk of body) chunks.push(chunk)
    return Buffer.concat(chunks).toString('utf8')
  }
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText,
    headers: { get: header },
    body,
    text,
    json: async () => JSON.parse(await text())
  } as unknown as Response
}

/** A Node response's body as a web stream. */
function nodeBody (res: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start (c) {
      // A stream already closed or errored ignores what comes after (a late 'aborted').
      const settled = (fn: () => void): void => { try { fn() } catch {} }
      res.on('data', (chunk: Buffer) => { settled(() => { c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)) }) })
      res.once('end', () => { settled(() => { c.close() }) })
      res.once('error', err => { settled(() => { c.error(err) }) })
      res.once('aborted', () => { settled(() => { c.error(new Error('aborted: the agent closed the connection mid-answer')) }) })
    },
    cancel () { res.destroy() }
  })
}

function emptyBody (): ReadableStream<Uint8Array> {
  return new ReadableStream({ start (c) { c.close() } })
}

function headerOf (res: IncomingMessage, name: string): string | null {
  const v = res.headers[name.toLowerCase()]
  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v
}

function plainHeaders (h: RequestInit['headers']): Record<string, string> {
  if (h === undefined) return {}
  if (h instanceof Headers) return Object.fromEntries(h.entries())
  if (Array.isArray(h)) return Object.fromEntries(h)
  return { ...h } as Record<string, string>
}
