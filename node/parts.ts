/**
 * The daemon's first two supervised parts: the audit log (opened first, closed last, with a
 * signed checkpoint at shutdown) and the capability table (its unsigned or torn lines reported
 * as audit rows at load, and the changes the log recorded but a crash kept from the files
 * settled: unfinished-changes.ts).
 */
import type { PrivateKey } from '@libp2p/interface'
import { VERSION } from '../protocol/index.js'
import { AUDIT_TAIL_WINDOW_ROWS, AuditLog, START_TYPE, STOP_TYPE } from './audit/index.js'
import { AGENT_TOKEN_PREFIX, Capabilities, type AgentTokens } from './caps/index.js'
import { settleUnfinishedChanges } from './unfinished-changes.js'
import type { AuditWriter } from './ipc/index.js'
import type { Config } from './config.js'
import type { HomePaths } from './home.js'
import type { Part } from './supervisor.js'

/** What the audit and caps parts read from the node, and the two fields they open. */
export interface CapsAuditHost {
  readonly paths: Pick<HomePaths, 'auditDir' | 'capabilitiesDir'>
  readonly config: Pick<Config, 'audit'>
  readonly privateKey: PrivateKey
  readonly peerId: string
  readonly startedAt: number
  readonly audit: AuditWriter
  readonly agents: AgentTokens
  auditLog: AuditLog
  caps: Capabilities
}

/**
 * Every encoding in which a secret of this node could leak into a row: the operator token, the
 * swarm key and the identity key's private bytes. Rows containing one are redacted.
 */
export function secretForms (operatorToken: () => string, swarmKey: Uint8Array, privateKey: PrivateKey): () => string[] {
  const fixed: string[] = []
  for (const bytes of [swarmKey, privateKey.raw, privateKey.raw.subarray(0, 32)]) {
    const b = Buffer.from(bytes)
    fixed.push(b.toString('hex'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'))
  }
  return () => [operatorToken(), ...fixed]
}

export function capsAuditParts (d: CapsAuditHost, secrets: () => string[], log: (line: string) => void): Part[] {
  return [
    {
      name: 'audit',
      start: async () => {
        d.auditLog = await AuditLog.open({
          dir: d.paths.auditDir,
          privateKey: d.privateKey,
          checkpointEvery: d.config.audit.checkpointEvery,
          secrets,
          secretPrefixes: [AGENT_TOKEN_PREFIX],
          warn: line => { log(`audit: ${line}`) }
        })
        await d.audit({ type: START_TYPE, actor: 'node', outcome: 'ok', detail: { peerId: d.peerId, version: VERSION, pid: process.pid } }, true)
      },
      stop: async () => {
        await d.audit({ type: STOP_TYPE, actor: 'node', outcome: 'ok', detail: { uptimeS: Math.round((Date.now() - d.startedAt) / 1000) } }, true)
          .catch(() => {})
        await d.auditLog.close()
      }
    },
    {
      name: 'caps',
      start: async () => {
        d.caps = await Capabilities.open({ dir: d.paths.capabilitiesDir, privateKey: d.privateKey, peerId: d.peerId })
        for (const t of d.caps.torn) {
          await d.audit({ type: 'CAP_FILE_TORN', actor: 'node', outcome: 'error', detail: { file: t.file, bytes: t.bytes, savedAs: t.savedAs } }, true)
        }
        for (const i of d.caps.ignored) {
          log(`capabilities: ignoring ${i.file} line ${i.line}: ${i.reason}`)
          await d.audit({ type: 'CAP_LINE_IGNORED', actor: 'node', outcome: 'denied', detail: { file: i.file, line: i.line, id: i.id ?? null, reason: i.reason } }, true)
        }
        await settleUnfinishedChanges({ rows: await d.auditLog.tail(AUDIT_TAIL_WINDOW_ROWS), caps: d.caps, agents: d.agents, audit: async e => { await d.audit(e, true) } })
      },
      stop: async () => { await d.caps.close() }
    }
  ]
}
