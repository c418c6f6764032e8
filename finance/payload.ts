// The licence commitment a buyer puts in an OP_RETURN: SHA256(utf8("LICENSE") ‖ utf8(machine_id)).
import { bytesToHex, sha256 } from './bytes.js'
import { readMachineId, type MachineIdSource } from './machine-id.js'

const TAG = 'LICENSE'
const OP_RETURN = 0x6a
const PUSH_32 = 0x20

let last: { machineId: string, hash: Uint8Array } | null = null

/** The 32-byte commitment for a machine id. */
export function licenceHash (machineId: string): Uint8Array {
  // A node checks one machine id again and again: keep the last one.
  if (last?.machineId !== machineId) last = { machineId, hash: sha256(Buffer.from(TAG + machineId, 'utf8')) }
  return Uint8Array.from(last.hash)
}

/** `OP_RETURN <32-byte push>` carrying the commitment. */
export function licenceOpReturnScript (machineId: string): Uint8Array {
  return Uint8Array.from([OP_RETURN, PUSH_32, ...licenceHash(machineId)])
}

export interface LicencePayload {
  machineId: string
  source: MachineIdSource
  /** Hex of the 32-byte commitment (what the OP_RETURN must carry). */
  hash: string
  /** Hex of the whole output script: `6a20` + hash. */
  opReturnScript: string
}

/** What `sov licence payload` prints. `machineId` overrides the OS's. */
export function licencePayload (opts: { machineId?: string } = {}): LicencePayload {
  const { id, source } = readMachineId({ override: opts.machineId })
  return {
    machineId: id,
    source,
    hash: bytesToHex(licenceHash(id)),
    opReturnScript: bytesToHex(licenceOpReturnScript(id))
  }
}
