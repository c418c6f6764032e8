/**
 * What the IPC handlers may touch (STYLE 13): each group of handlers names the few parts it
 * uses; the daemon implements all of them and nothing here imports the daemon (issue 16).
 * Parts started after construction (`mesh`, `a2a`) are read when a request runs, not before.
 */
import type { StatusResult } from '../../protocol/index.js'
import type { MeshNode, ReachabilityMode } from '../../mesh/index.js'
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
  /**
   * Records a refusal of a local caller, aggregated per actor and reason (refusal-audit.ts): the
   * first of a window is durable before it resolves, repeats are counted into one row.
   */
  refusal: (event: AuditEvent) => Promise<void>
  /** Ends, once the current reply is out, every IPC session whose token no longer authenticates. */
  endStaleSessions: () => void
}

/** `a2a …`: the mailboxes, and the capability table to filter what an agent may see. */
export interface A2aComponents {
  a2a: Mailboxes
  caps: Capabilities
  /** Redrive and purge are audited (issue 14). */
  audit: AuditWriter
}

/** `agent …`, `agents PEER` (issue 11). Undefined until the a2a-tasks part has started. */
export interface AgentsComponents {
  tasks?: A2aTasks
  /** This node: `agents SELF` is a mistake to say, not a dial to fail. */
  peerId: string
}

/** `licence …`. */
export interface LicenceComponents {
  licence: LicenceView
}

/** `status`, `peers …`, `token rotate`, `node stop`. */
export interface NodeComponents {
  peerId: string
  /** The home directory and swarm key fingerprint, for `status` (issue 14). */
  home: string
  fingerprint: string
  startedAt: number
  mesh: MeshNode
  /** The configured reachability and whether this node serves as a relay (issue 12). */
  config: { reachability: ReachabilityMode, relay: { serve: boolean } }
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
  /** Re-reads config.json: applies what it can, names what needs a restart (issue 14). */
  reloadConfig: () => Promise<{ applied: string[], restartNeeded: string[], dialled: Array<{ addr: string, ok: boolean, error?: string }> }>
  stop: () => Promise<void>
}

export type IpcComponents = CapsComponents & A2aComponents & AgentsComponents & LicenceComponents & NodeComponents
