/** Leases as consumers name them: `<id>.<delivery>` (DESIGN §13, issue 10 §1). */
import { badRequest } from '../protocol/index.js'

/** `<id>.<delivery>` → its parts; `BAD_REQUEST` for anything else (a bare id names no lease). */
export function parseLease (lease: string): { id: string, delivery: number } {
  const dot = lease.lastIndexOf('.')
  const delivery = Number(lease.slice(dot + 1))
  if (dot < 1 || !/^[1-9][0-9]{0,8}$/.test(lease.slice(dot + 1))) {
    throw badRequest(`Cannot parse lease "${lease.slice(0, 80)}": a lease is "<id>.<delivery>" as \`a2a receive\` returns it`)
  }
  return { id: lease.slice(0, dot), delivery }
}
