/**
 * `config.json`: listen and bootstrap addresses, licence terms, limits. Parsed once at start
 * against a schema; an unknown or mistyped field is a clear error naming it.
 */
import { existsSync, readFileSync } from 'node:fs'
import * as v from 'valibot'
import { DEFAULT_A2A_HTTP_PORT, DEFAULT_MAX_DELIVERIES, MAX_ENVELOPE_BYTES, RECEIVE_MAX_BYTES, badRequest, describeIssue, parseHttpListen } from '../protocol/index.js'
import { multiaddr } from '@multiformats/multiaddr'
import { memberAddrProblem } from '../protocol/addr/index.js'
import { explainFsError, writeFileAtomic } from './files/index.js'

/** Where a fresh node listens: loopback only; `--listen /ip4/0.0.0.0/tcp/4001` opens it to the LAN. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/4001']
/** How often the daemon re-verifies its licence. @default 1 hour */
export const LICENCE_RECHECK_S = 3600
/** How long a licence last verified valid stays valid (stale) while no server is reachable. @default 7 days */
export const LICENCE_GRACE_S = 7 * 24 * 3600
/** Audit checkpoint cadence, in rows. */
export const AUDIT_CHECKPOINT_EVERY = 1000

/**
 * The longest a Node timer waits (2^31 - 1 ms, 24.8 days): a longer one fires after 1 ms with a
 * TimeoutOverflowWarning, so `blockingMaxMs: 1e12` ended blocking calls at once and a long
 * `sweepIntervalMs` swept every millisecond (helper finding, stop 33). Every setting that becomes
 * a timer is bounded by it.
 */
export const TIMER_MAX_MS = 2 ** 31 - 1
const timerMs = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(TIMER_MAX_MS))
const timerS = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(Math.floor(TIMER_MAX_MS / 1000)))

// Strict: a misspelt key ("heigth") is an error, not a silently ignored term. Every term is
// optional so that the section can be written key by key (`sov config set licence.txid …`;
// helper finding: on a fresh home each key was refused for want of the others); the daemon
// reports the licence `unconfigured`, naming what is missing, until the section is whole. What
// the check would refuse in a term (address vs network, server URLs, txid, amount, CA file) is
// refused by `sov config set` with finance's own checks (cli/commands/config.ts), loaded only there.
const LicenceSchema = v.strictObject({
  vendorAddress: v.optional(v.string()),
  requiredSats: v.optional(v.union([v.string(), v.number()])),
  network: v.optional(v.picklist(['main', 'test', 'signet', 'regtest']), 'main'),
  minConf: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
  electrum: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
  electrumCa: v.optional(v.string()),
  txid: v.optional(v.string()),
  /** The payment's block height: no vendor history needed (issue 13). */
  height: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  recheckS: v.optional(timerS(10), LICENCE_RECHECK_S),
  /** Outage grace (issue 13); 0 turns it off. */
  graceS: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), LICENCE_GRACE_S)
})

/**
 * Values the daemon parses at start are parsed here too, so that `sov config set` refuses what
 * `sov node start` would (before, a bad multiaddr or endpoint address was written and the next
 * start failed).
 */
const Multiaddrs = v.array(v.pipe(v.string(), v.check(isMultiaddr, issue => `"${String(issue.input).slice(0, 120)}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)`)))
/** Members to dial (`bootstrap`, `relay.use`): TCP or relayed, ending with /p2p/<PeerId> (`memberAddrProblem`). */
const MemberAddrs = v.array(v.pipe(v.string(), v.check(a => memberAddrProblem(a) === undefined, issue => `"${String(issue.input).slice(0, 120)}" ${memberAddrProblem(String(issue.input)) ?? ''}`)))
const HttpListen = v.pipe(
  v.union([v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), v.string()]),
  v.check(isHttpListen, issue => `"${String(issue.input).slice(0, 120)}" is not 0 (off), a port, or HOST:PORT with a loopback HOST such as 127.0.0.1:4011 (loopback only)`)
)

function isMultiaddr (text: string): boolean {
  try { multiaddr(text); return true } catch { return false }
}

function isHttpListen (value: string | number): boolean {
  try { parseHttpListen(value); return true } catch { return false }
}

const Int = (min: number) => v.pipe(v.number(), v.integer(), v.minValue(min))

/** Circuit relay between members (issue 12): serving is off by default. */
const RelaySchema = v.strictObject({
  serve: v.optional(v.boolean(), false),
  use: v.optional(v.union([v.literal('auto'), MemberAddrs]), 'auto'),
  maxReservations: v.optional(Int(1)),
  /** Per relayed connection; absent = unlimited (members are already gated by the swarm key). */
  durationLimitS: v.optional(timerS(1)),
  dataLimitBytes: v.optional(Int(1024))
})

// Strict everywhere: an unknown or mistyped key (`lisen`) is an error naming it (issue 14).
export const ConfigSchema = v.strictObject({
  listen: v.optional(Multiaddrs, DEFAULT_LISTEN),
  bootstrap: v.optional(MemberAddrs, []),
  machineId: v.optional(v.string()),
  licence: v.optional(LicenceSchema),
  limits: v.optional(v.strictObject({
    // Above one receive reply's budget an accepted envelope could never be handed out (issue 10).
    maxEnvelopeBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024), v.maxValue(RECEIVE_MAX_BYTES, `must be at most ${RECEIVE_MAX_BYTES} (what one receive can hand out)`))),
    maxDeliveries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)))
  }), {}),
  /** Delivery tuning (tests shorten it); limits of what peers may send are under `limits`. */
  a2a: v.optional(v.strictObject({
    retryBaseMs: v.optional(timerMs(1)),
    retryMaxMs: v.optional(timerMs(1)),
    sweepIntervalMs: v.optional(timerMs(10)),
    /** The local A2A endpoint (issue 11): `listen` is 0 (off), a port or `127.0.0.1:PORT`. */
    http: v.optional(v.strictObject({
      listen: v.optional(HttpListen),
      /** Longest blocking SendMessage. @default 60 s */
      blockingMaxMs: v.optional(timerMs(1))
    }), {})
  }), {}),
  relay: v.optional(RelaySchema, {}),
  reachability: v.optional(v.picklist(['auto', 'public', 'private']), 'auto'),
  /** Kubo semantics (issue 12): replace / add to / remove from the announced addresses. */
  announce: v.optional(Multiaddrs, []),
  appendAnnounce: v.optional(Multiaddrs, []),
  noAnnounce: v.optional(Multiaddrs, []),
  audit: v.optional(v.strictObject({
    checkpointEvery: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), AUDIT_CHECKPOINT_EVERY)
  }), {})
})

export type Config = v.InferOutput<typeof ConfigSchema>

/**
 * What the parts use for the keys the file leaves out, for `sov config get|show` ("defaults filled
 * in"; helper finding, stop 29: `config get a2a.http.blockingMaxMs` said null). The values live
 * with their parts (a2a/sender, a2a/mailboxes, a2a/tasks), which `sov config` must not load:
 * test/config-defaults.test.ts keeps the two in step.
 */
export const CONFIG_DEFAULTS = {
  limits: { maxEnvelopeBytes: MAX_ENVELOPE_BYTES, maxDeliveries: DEFAULT_MAX_DELIVERIES },
  a2a: { retryBaseMs: 500, retryMaxMs: 60_000, sweepIntervalMs: 1000, http: { listen: DEFAULT_A2A_HTTP_PORT, blockingMaxMs: 60_000 } }
} as const

/** `config` with CONFIG_DEFAULTS under every key it leaves out. */
export function withDefaults (config: Config): Config {
  const merge = (d: Record<string, any>, c: Record<string, any> | undefined): Record<string, any> => {
    const out: Record<string, any> = { ...c }
    for (const [k, dv] of Object.entries(d)) {
      out[k] = typeof dv === 'object' && dv !== null ? merge(dv, c?.[k]) : c?.[k] ?? dv
    }
    return out
  }
  return merge(CONFIG_DEFAULTS, config) as Config
}
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
  return parseConfig(raw, path)
}

/**
 * Checks a config value against the schema the daemon uses; `path` names the file in messages.
 * An unknown key is named with the keys allowed there. `verb` says what was being done
 * (`config set` checks the file it is about to write: "change config", not "read config").
 */
export function parseConfig (raw: unknown, path: string, verb = 'read config'): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badRequest(`Cannot ${verb} "${path}": it must be a JSON object like {"listen": [...]}, not ${Array.isArray(raw) ? 'an array' : String(raw)}`)
  }
  const parsed = v.safeParse(ConfigSchema, raw)
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const field = v.getDotPath(issue) ?? '(root)'
    if (issue.type === 'strict_object' && issue.received === 'undefined') {
      throw badRequest(`Cannot ${verb} "${path}": key "${field}" is missing; it is required there`)
    }
    if (issue.type === 'strict_object') {
      const parent = field.split('.').slice(0, -1)
      throw badRequest(`Cannot ${verb} "${path}": unknown key "${field}"; allowed ${parent.length === 0 ? 'at the top' : `in "${parent.join('.')}"`}: ${configKeys(parent).join(', ')}`)
    }
    throw badRequest(`Cannot ${verb} "${path}": field "${field}": ${describeIssue(issue)}`)
  }
  return parsed.output
}

/** The keys the schema allows under `parent` (a dotted path split), for messages and `config get`. */
export function configKeys (parent: string[] = []): string[] {
  let schema: any = ConfigSchema
  for (const key of parent) {
    schema = schema?.entries?.[key]
    while (schema !== undefined && schema.entries === undefined && schema.wrapped !== undefined) schema = schema.wrapped
  }
  return Object.keys(schema?.entries ?? {})
}

/** Reads the file as plain JSON (keeping fields this version does not know), merges, writes. */
export function updateConfig (path: string, change: (raw: Record<string, any>) => void): void {
  const raw = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}
  change(raw)
  try {
    writeFileAtomic(path, JSON.stringify(raw, null, 2) + '\n')
  } catch (err) {
    // A read-only or full home said in our words, naming the file (it was error[INTERNAL]: EROFS…).
    throw explainFsError(err, `change "${path}"`)
  }
}
