/**
 * One error type for the whole product: `SovError` with a `code` from a closed set (DESIGN §6).
 * Build errors through the per-code helpers so call sites read
 * `throw badRequest('Cannot parse frame: length 5242880 exceeds 4194304', { cause })`.
 */

export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'TOO_LARGE',
  'UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
  'SWARM_KEY_INVALID',
  'SWARM_KEY_MISMATCH',
  'GRANT_INVALID',
  'AUDIT_BROKEN',
  'LICENCE_INVALID',
  'ELECTRUM_ERROR',
  'INVITE_INVALID'
] as const

export type ErrorCode = typeof ERROR_CODES[number]

export interface SovErrorOptions { cause?: unknown }

export class SovError extends Error {
  override readonly name = 'SovError'
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: SovErrorOptions) {
    super(message, options)
    this.code = code
  }

  toJSON (): { code: ErrorCode, message: string } {
    return { code: this.code, message: this.message }
  }
}

export function isErrorCode (value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value)
}

/** True for a `SovError`, optionally of one code. */
export function isSovError (err: unknown, code?: ErrorCode): err is SovError {
  return err instanceof SovError && (code === undefined || err.code === code)
}

/** Wraps anything thrown into a `SovError`, keeping the original as `cause`. */
export function toSovError (err: unknown, fallback: ErrorCode = 'INTERNAL'): SovError {
  if (err instanceof SovError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new SovError(fallback, message, { cause: err })
}

const make = (code: ErrorCode) => (message: string, options?: SovErrorOptions): SovError =>
  new SovError(code, message, options)

export const badRequest = make('BAD_REQUEST')
export const unauthenticated = make('UNAUTHENTICATED')
export const forbidden = make('FORBIDDEN')
export const notFound = make('NOT_FOUND')
export const conflict = make('CONFLICT')
export const tooLarge = make('TOO_LARGE')
export const unavailable = make('UNAVAILABLE')
export const timeout = make('TIMEOUT')
export const internal = make('INTERNAL')
export const swarmKeyInvalid = make('SWARM_KEY_INVALID')
export const swarmKeyMismatch = make('SWARM_KEY_MISMATCH')
export const grantInvalid = make('GRANT_INVALID')
export const auditBroken = make('AUDIT_BROKEN')
export const licenceInvalid = make('LICENCE_INVALID')
export const electrumError = make('ELECTRUM_ERROR')
export const inviteInvalid = make('INVITE_INVALID')

/**
 * CLI exit code for an error (DESIGN §4): 2 usage, 3 negative verdict, 1 anything operational.
 */
export function exitCodeFor (code: ErrorCode): 1 | 2 | 3 {
  switch (code) {
    case 'BAD_REQUEST':
    case 'SWARM_KEY_INVALID':
    case 'INVITE_INVALID':
      return 2
    case 'LICENCE_INVALID':
    case 'AUDIT_BROKEN':
      return 3
    default:
      return 1
  }
}
