/**
 * `config.json`: listen and bootstrap addresses, licence terms, limits. Parsed once at start
 * against a schema; an unknown or mistyped field is a clear error naming it.
 */
import { existsSync, readFileSync } from 'node:fs'
import * as v from 'valibot'
import { badRequest } from '../protocol/index.js'
import { writeFileAtomic } from './files/index.js'

/** Where a fresh node listens: loopback only; `--listen /ip4/0.0.0.0/tcp/4001` opens it to the LAN. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/4001']
/** How often the daemon re-verifies its licence. @default 1 hour */
export const LICENCE_RECHECK_S = 3600
/** Audit checkpoint cadence, in rows. */
export const AUDIT_CHECKPOINT_EVERY = 1000

const LicenceSchema = v.object({
  vendorAddress: v.string(),
  requiredSats: v.union([v.string(), v.number()]),
  network: v.optional(v.picklist(['main', 'test', 'signet', 'regtest']), 'main'),
  minConf: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
  electrum: v.pipe(v.array(v.string()), v.minLength(1)),
  electrumCa: v.optional(v.string()),
  txid: v.optional(v.string()),
  recheckS: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10)), LICENCE_RECHECK_S)
})

export const ConfigSchema = v.object({
  listen: v.optional(v.array(v.string()), DEFAULT_LISTEN),
  bootstrap: v.optional(v.array(v.string()), []),
  machineId: v.optional(v.string()),
  licence: v.optional(LicenceSchema),
  limits: v.optional(v.object({
    maxEnvelopeBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024))),
    maxDeliveries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)))
  }), {}),
  /** Delivery tuning (tests shorten it); limits of what peers may send are under `limits`. */
  a2a: v.optional(v.object({
    retryBaseMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    retryMaxMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    sweepIntervalMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10))),
    /** The local A2A endpoint (issue 11): `listen` is 0 (off), a port or `127.0.0.1:PORT`. */
    http: v.optional(v.strictObject({
      listen: v.optional(v.union([v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), v.string()])),
      /** Longest blocking SendMessage. @default 60 s */
      blockingMaxMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)))
    }), {})
  }), {}),
  audit: v.optional(v.object({
    checkpointEvery: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), AUDIT_CHECKPOINT_EVERY)
  }), {})
})

export type Config = v.InferOutput<typeof ConfigSchema>
export type LicenceConfig = v.InferOutput<typeof LicenceSchema>

export function loadConfig (path: string): Config {
  let raw: unknown = {}
  if (existsSync(path)) {
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (cause) {
      throw badRequest(`Cannot read config "${path}": not valid JSON`, { cause })
    }
  }
  const parsed = v.safeParse(ConfigSchema, raw)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const field = v.getDotPath(issue) ?? '(root)'
    throw badRequest(`Cannot read config "${path}": field "${field}": ${issue.message}`)
  }
  return parsed.output
}

/** Reads the file as plain JSON (keeping fields this version does not know), merges, writes. */
export function updateConfig (path: string, change: (raw: Record<string, any>) => void): void {
  const raw = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}
  change(raw)
  writeFileAtomic(path, JSON.stringify(raw, null, 2) + '\n')
}
