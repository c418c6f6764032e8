/** Expiry of grants and agent tokens as the CLI shows and checks it (issue 14). */
import { MAX_EXPIRES_S } from '../../protocol/index.js'

/** Longest `--expires` of a grant or agent token: 3650 days. */
export const MAX_EXPIRES_MS = MAX_EXPIRES_S * 1000

/** `until 2026-…` or `EXPIRED 2025-…`, from unix seconds (null = no expiry). */
export function expiryMark (exp: number | null, now = Date.now()): string {
  if (exp === null) return 'no expiry'
  const at = new Date(exp * 1000).toISOString()
  return exp * 1000 <= now ? `EXPIRED ${at}` : `until ${at}`
}
