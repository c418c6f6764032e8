// Licence terms from their two sources — command-line flags first, then config.json's
// `licence` section and `machineId` — checked once here, for the CLI and the daemon alike.
import { readFileSync } from 'node:fs'
import { badRequest, notFound } from '../protocol/index.js'
import { readMachineId, type MachineIdSource } from './machine-id.js'
import { isNetworkName } from './networks.js'
import { checkTerms, type LicenceTerms } from './verify.js'
import { parseElectrumUrl } from './electrum-client.js'

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
  let ca: string | undefined
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8')
    } catch (cause) {
      throw notFound(`Cannot read the Electrum CA "${caFile}": ${(cause as Error).message}`, { cause })
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw badRequest(`Cannot use the Electrum CA "${caFile}": it holds no PEM certificate`)
  }
  const machine = readMachineId({ override: flags.machineId ?? config.machineId })
  const height = flags.height ?? c.height
  const terms: LicenceTerms = { txid: txid.toLowerCase(), vendorAddress, requiredSats: parseSats(sats), network, minConf, machineId: machine.id, ...(height !== undefined ? { height } : {}) }
  checkTerms(terms)
  return { terms, machineIdSource: machine.source, servers, ca, caFile }
}
