/**
 * JSON-RPC 2.0 §5.1 says a body that is JSON but not a Request object gets -32600 (Invalid
 * Request). `@a2a-js/sdk` 1.3.0 answers such a body with -32602 (it folds -32600 into its
 * `RequestMalformedError`), so this middleware, mounted after `express.json()` and before the
 * SDK's handler, answers it first; `parseErrorHandler` answers a body that does not parse with
 * -32700 exactly as the SDK's own parser does. Params, methods and the rest are the SDK's.
 */
import type { NextFunction, Request, Response } from 'express'

export function invalidRequestGuard (req: Request, res: Response, next: NextFunction): void {
  const body = req.body as any
  if (req.method !== 'POST' || body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) &&
      body.jsonrpc === '2.0' && typeof body.method === 'string' && body.method !== '' && (body.id === undefined || body.id === null || typeof body.id === 'string' || typeof body.id === 'number'))) {
    next()
    return
  }
  const id = typeof body?.id === 'string' || typeof body?.id === 'number' ? body.id : null
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
  next(err)
}
