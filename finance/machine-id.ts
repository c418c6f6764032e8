// The OS machine id (DESIGN §11): Linux /etc/machine-id, macOS IOPlatformUUID, Windows
// MachineGuid. Read as the OS gives it (trimmed); overridable for containers, whose
// /etc/machine-id is often missing or shared by every copy of an image.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { badRequest, notFound } from '../protocol/index.js'

export type MachineIdSource = 'override' | '/etc/machine-id' | '/var/lib/dbus/machine-id' | 'IOPlatformUUID' | 'MachineGuid'

export interface MachineIdInfo { id: string, source: MachineIdSource }

const LINUX_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'] as const
/** How long `ioreg` / `reg query` may take. */
const COMMAND_TIMEOUT_MS = 5_000

export interface ReadMachineIdOptions {
  /** Use this id instead of the OS's (config `machineId`, `--machine-id`). */
  override?: string
  /** @default process.platform */
  platform?: NodeJS.Platform
}

export function readMachineId (opts: ReadMachineIdOptions = {}): MachineIdInfo {
  if (opts.override !== undefined) {
    const id = opts.override.trim()
    // A usage mistake (config.json "machineId", --machine-id), refused alike by verify, payload and devnet pay.
    if (id === '') throw badRequest(`Cannot use the machine id "${opts.override}": it is empty; give the id the payment commits to, or leave it out to use this machine's`)
    return { id, source: 'override' }
  }
  const platform = opts.platform ?? process.platform
  const hint = 'set "machineId" in config.json or pass --machine-id'
  if (platform === 'darwin') {
    const id = parseIoreg(run('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice']))
    if (id === null) throw notFound(`Cannot read the machine id: no IOPlatformUUID in ioreg output; ${hint}`)
    return { id, source: 'IOPlatformUUID' }
  }
  if (platform === 'win32') {
    const id = parseRegQuery(run('reg', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid']))
    if (id === null) throw notFound(`Cannot read the machine id: no MachineGuid in the registry; ${hint}`)
    return { id, source: 'MachineGuid' }
  }
  for (const file of LINUX_FILES) {
    try {
      const id = readFileSync(file, 'utf8').trim()
      if (id !== '') return { id, source: file }
    } catch { /* try the next place */ }
  }
  throw notFound(`Cannot read the machine id: ${LINUX_FILES.join(' and ')} are missing or empty; ${hint}`)
}

/** The IOPlatformUUID in `ioreg -rd1 -c IOPlatformExpertDevice` output, or null. */
export function parseIoreg (output: string): string | null {
  return /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(output)?.[1] ?? null
}

/** The MachineGuid in `reg query … /v MachineGuid` output, or null. */
export function parseRegQuery (output: string): string | null {
  return /MachineGuid\s+REG_SZ\s+(\S+)/.exec(output)?.[1] ?? null
}

function run (cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] })
  } catch (cause) {
    throw notFound(`Cannot read the machine id: \`${cmd} ${args.join(' ')}\` failed (${(cause as Error).message}); set "machineId" in config.json or pass --machine-id`, { cause })
  }
}
