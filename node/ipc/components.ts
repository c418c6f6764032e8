/**
 * What the IPC handlers may touch (STYLE 13): each group of handlers names the few parts it
 * uses; the daemon implements all of them and nothing here imports the daemon (issue 16).
 * Parts started after construction (`mesh`, `a2a`) are read when a request runs, not before.
 */
import type { StatusResult } from '../../protocol/index.js'
import type { MeshNode } from '../../mesh/index.js'
import type { A2aTasks, Mailboxes } from '../../a2a/index.js'
import type { AuditEvent, AuditLog } from '../audit/index.js'
import type { AgentTokens, Capabilities, RevokedPeers } from '../caps/index.js'

/**
 * Writes an audit row. A `durable` row is on disk before the promise resolves, which rejects when
 * the row cannot be written (the caller then refuses its action); other rows ride the next group
 * commit.
 */
export type AuditWriter = (event: AuditEvent, durable?: boolean) => Promise<void>

/** The licence watcher as requests see it: the last verdict, and a check on demand. */
export interface LicenceView {
  summary: () => StatusResult['licence']
  verdict: () => unknown
  verifyNow: () => Promise<unknown>
}

/** `cap …`, `agent-token …`, `audit …` and the agent-token authority check. */
export interface CapsComponents {
  caps: Capabilities
  agents: AgentTokens
  auditLog: AuditLog
  audit: AuditWriter
}

/** `a2a …`: the mailboxes, and the capability table to filter what an agent may see. */
export interface A2aComponents {
  a2a: Mailboxes
  caps: Capabilities
}

/** `agent …`, `agents PEER` (issue 11). Undefined until the a2a-tasks part has started. */
export interface AgentsComponents {
  tasks?: A2aTasks
}

/** `licence …`. */
export interface LicenceComponents {
  licence: LicenceView
}

/** `status`, `peers …`, `token rotate`, `node stop`. */
export interface NodeComponents {
  peerId: string
  startedAt: number
  mesh: MeshNode
  /** Undefined until the a2a part has started. */
  a2a?: Mailboxes
  /** Undefined until the a2a-tasks part has started. */
  tasks?: A2aTasks
  revoked: RevokedPeers
  licence: LicenceView
  auditLog: AuditLog
  audit: AuditWriter
  /** Replaces the operator token; sessions opened with the old one end. Returns the file's path. */
  rotateOperatorToken: () => string
  stop: () => Promise<void>
}

export type IpcComponents = CapsComponents & A2aComponents & AgentsComponents & LicenceComponents & NodeComponents
