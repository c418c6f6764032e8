/**
 * JSON-RPC 2.0 §5.1 says a body that is JSON but not a Request object gets -32600 (Invalid
 * Request). `@a2a-js/sdk` 1.3.0 answers such a body with -32602 (it folds -32600 into its
 * `RequestMalformedError`), so this middleware, mounted after `express.json()` and before the
 * SDK's handler, answers it first; `parseErrorHandler` answers a body that does not parse with
 * -32700 exactly as the SDK's own parser does, and any other refusal of the body parser (too
 * large, an unknown encoding, cut short) with a JSON-RPC error naming the cause and the limit,
 * never Express's HTML page with its stack trace. Params, methods and the rest are the SDK's.
 */
import type { NextFunction, Request, Response } from 'express'
import { jsonProblem } from '../../protocol/index.js'

export function invalidRequestGuard (req: Request, res: Response, next: NextFunction): void {
  const body = req.body as any
  const id = typeof body?.id === 'string' || typeof body?.id === 'number' ? body.id : null
  if (req.method !== 'POST' || body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) &&
      body.jsonrpc === '2.0' && typeof body.method === 'string' && body.method !== '' && (body.id === undefined || body.id === null || typeof body.id === 'string' || typeof body.id === 'number'))) {
    // JSON fit to keep, as at every other edge: no lone surrogates, no nesting that would
    // overflow the stack when the message is stored (stop 26).
    const problem = body === undefined ? null : jsonProblem(body.params, '$.params')
    if (problem === null) { next(); return }
    res.status(200).json({ jsonrpc: '2.0', id, error: { code: -32602, message: `Invalid params: ${problem}` } })
    return
  }
  res.status(200).json({
    jsonrpc: '2.0',
    id,
    error: {
      code: -32600,
      message: 'Invalid Request: the body is not a JSON-RPC 2.0 request object (jsonrpc "2.0", a method, an optional string or number id)',
      data: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'INVALID_REQUEST', domain: 'a2a-protocol.org' }]
    }
  })
}

/** Express error handler after `express.json()`: a body that is not JSON → -32700 (as the SDK). */
export function parseErrorHandler (err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (err instanceof SyntaxError && 'body' in err) {
    res.status(200).json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Invalid JSON payload.' } })
    return
  }
  const e = err as { status?: number, type?: string, limit?: number, length?: number }
  if (typeof e?.type === 'string' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const why = e.type === 'entity.too.large'
      ? `error[TOO_LARGE]: the request body is ${e.length !== undefined ? `${e.length} bytes, ` : ''}over the endpoint's limit of ${e.limit} bytes; send large content as a file URL`
      : `error[BAD_REQUEST]: the request body could not be read (${e.type}); send UTF-8 JSON with Content-Type: application/json`
    res.status(e.status).json({ jsonrpc: '2.0', id: null, error: { code: -32600, message: why } })
    return
  }
  next(err)
}

/**
 * The app's last error handler: an error no route answered gets a JSON `error[INTERNAL]` line
 * (no stack, no paths) and one log line; Express's own would send an HTML page with the stack.
 */
export function lastErrorHandler (log: (line: string) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    log(`a2a endpoint: ${(err as Error)?.message ?? String(err)}`)
    if (res.headersSent) { res.end(); return }
    res.status(500).json({ error: 'error[INTERNAL]: Cannot serve this request; the node\'s log says why' })
  }
}
