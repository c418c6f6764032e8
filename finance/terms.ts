// Licence terms from their two sources — command-line flags first, then config.json's
// `licence` section and `machineId` — checked once here, for the CLI and the daemon alike.
import { readFileSync } from 'node:fs'
import { badRequest, notFound } from '../protocol/index.js'
import { readMachineId, type MachineIdSource } from './machine-id.js'
import { isNetworkName } from './networks.js'
import { checkTerms, type LicenceTerms } from './verify.js'
import { parseElectrumUrl } from './electrum-client.js'
import { outputScriptFor } from './address.js'
import { isHex } from './bytes.js'

/** config.json's `licence` section as written (DESIGN §11). */
export interface LicenceSettings {
  vendorAddress?: string
  requiredSats?: string | number
  network?: string
  minConf?: number
  electrum?: string[]
  electrumCa?: string
  txid?: string
  /** The payment's block height (issue 13). */
  height?: number
}

/** `sov licence verify` flags. */
export interface LicenceFlags {
  txid?: string
  vendor?: string
  sats?: string
  network?: string
  minConf?: number
  electrum?: string[]
  electrumCa?: string
  machineId?: string
  height?: number
}

export interface ResolvedLicence {
  terms: LicenceTerms
  machineIdSource: MachineIdSource
  servers: string[]
  /** Contents of the PEM to trust, when one is configured. */
  ca?: string
  caFile?: string
}

/** A whole number of satoshis as BigInt; `BAD_REQUEST` otherwise. */
export function parseSats (text: string): bigint {
  if (!/^\d{1,16}$/.test(text.trim())) throw badRequest(`Cannot use "${text}" as an amount: give a whole number of satoshis`)
  return BigInt(text.trim())
}

/** The terms a check cannot do without, as config.json keys under `licence`. */
export const LICENCE_REQUIRED_KEYS = ['txid', 'vendorAddress', 'requiredSats', 'electrum'] as const

/** Which required terms config.json's `licence` section leaves out (the daemon's "unconfigured"). */
export function missingLicenceKeys (c: LicenceSettings): string[] {
  return LICENCE_REQUIRED_KEYS.filter(k => c[k] === undefined || (k === 'electrum' && c.electrum?.length === 0))
}

/**
 * The first term of config.json's `licence` section (and `machineId`) that a check would refuse,
 * as `{ key, message }`, or undefined: `sov config set` refuses what the daemon's check would
 * (helper finding: a mainnet address on regtest, http:// servers, txid "zz", requiredSats -1 or
 * "5e4" were written, and every check then failed). Missing terms are not problems here: the
 * section may be written key by key, and the daemon reports it unconfigured until it is whole.
 * The same primitives as `resolveLicence` and `checkTerms`.
 */
export function licenceSettingsProblem (c: LicenceSettings, machineId?: string): { key: string, message: string } | undefined {
  const attempt = (key: string, fn: () => unknown): { key: string, message: string } | undefined => {
    try { fn(); return undefined } catch (err) { return { key, message: (err as Error).message } }
  }
  const network = c.network ?? 'main'
  return (c.network !== undefined && !isNetworkName(network) ? { key: 'licence.network', message: `unknown network "${network}"; use main, test, signet or regtest` } : undefined) ??
    (c.vendorAddress !== undefined && isNetworkName(network) ? attempt('licence.vendorAddress', () => { try { outputScriptFor(c.vendorAddress!, network) } catch (err) { throw c.network === undefined ? new Error(`${(err as Error).message}; the network is main unless "licence.network" says otherwise: set that first`) : err } }) : undefined) ??
    (c.requiredSats !== undefined ? attempt('licence.requiredSats', () => parseSats(String(c.requiredSats))) : undefined) ??
    (c.txid !== undefined && !(isHex(c.txid) && c.txid.length === 64) ? { key: 'licence.txid', message: `"${c.txid.slice(0, 80)}" is not a txid: a txid is 64 hex digits` } : undefined) ??
    (c.electrum ?? []).map((url, i) => attempt(`licence.electrum.${i}`, () => parseElectrumUrl(url))).find(p => p !== undefined) ??
    (c.electrumCa !== undefined ? attempt('licence.electrumCa', () => readCa(c.electrumCa!)) : undefined) ??
    (machineId !== undefined ? attempt('machineId', () => readMachineId({ override: machineId })) : undefined)
}

/** The PEM to trust for `ssl://` servers: `NOT_FOUND` when unreadable, `BAD_REQUEST` when it holds no certificate. */
export function readCa (caFile: string): string {
  let ca: string
  try {
    ca = readFileSync(caFile, 'utf8')
  } catch (cause) {
    throw notFound(`Cannot read the Electrum CA "${caFile}": ${(cause as Error).message}`, { cause })
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw badRequest(`Cannot use the Electrum CA "${caFile}": it holds no PEM certificate`)
  return ca
}

/** Merges flags over config; `BAD_REQUEST` naming what is missing or wrong. */
export function resolveLicence (flags: LicenceFlags, config: { licence?: LicenceSettings, machineId?: string } = {}): ResolvedLicence {
  const c = config.licence ?? {}
  const missing = (what: string, flag: string, key: string): never => {
    throw badRequest(`Cannot verify the licence: no ${what}; pass ${flag} or set "licence.${key}" in config.json`)
  }
  const txid = flags.txid ?? c.txid ?? missing('transaction id', '--txid', 'txid')
  const vendorAddress = flags.vendor ?? c.vendorAddress ?? missing('vendor address', '--vendor', 'vendorAddress')
  const sats = flags.sats ?? (c.requiredSats === undefined ? undefined : String(c.requiredSats)) ?? missing('required amount', '--sats', 'requiredSats')
  const network = flags.network ?? c.network ?? 'main'
  if (!isNetworkName(network)) throw badRequest(`Cannot verify the licence: unknown network "${network}"; use main, test, signet or regtest`)
  const minConf = flags.minConf ?? c.minConf ?? 1
  const servers = (flags.electrum !== undefined && flags.electrum.length > 0 ? flags.electrum : c.electrum) ?? missing('Electrum server', '--electrum URL', 'electrum')
  if (servers.length === 0) missing('Electrum server', '--electrum URL', 'electrum')
  for (const s of servers) parseElectrumUrl(s)
  const caFile = flags.electrumCa ?? c.electrumCa
  const ca = caFile === undefined ? undefined : readCa(caFile)
  const machine = readMachineId({ override: flags.machineId ?? config.machineId })
  const height = flags.height ?? c.height
  const terms: LicenceTerms = { txid: txid.toLowerCase(), vendorAddress, requiredSats: parseSats(sats), network, minConf, machineId: machine.id, ...(height !== undefined ? { height } : {}) }
  checkTerms(terms)
  return { terms, machineIdSource: machine.source, servers, ca, caFile }
}
