/**
 * Authority (DESIGN §9): signed grants and their revocations, the capability table that checks
 * them, agent and operator tokens, revoked peers, and the guard that refuses mesh streams of
 * peers without a grant.
 */
export { Capabilities, type CapQuery, type CapCheck, type GrantInfo, type IgnoredLine, type CapabilitiesOptions } from './capabilities.js'
export { CAP_COMMANDS, MAILBOX_COMMANDS, grantId, signGrant, signRevocation, parseGrant, type Grant, type Revocation, type CapCommand } from './grant.js'
export { AGENT_TOKEN_PREFIX, AgentTokens, MIN_OPERATOR_TOKEN_CHARS, newAgentToken, newOperatorToken, parseScope, readOperatorToken, secretDigest, digestEquals, tokenHint, type AgentRecord } from './tokens.js'
export { RevokedPeers } from './revoked-peers.js'
export { guardMeshProtocol, REFUSED_STREAM_LINGER_MS, type GuardOptions } from './mesh-guard.js'
