/**
 * A2A tasks across the mesh (issue 11): the local A2A v1.0 endpoint on loopback, agents offered
 * to the mesh (forward model), and `/sov/a2a-task/1.1.0` (one stream per peer; 1.0.0 still
 * spoken) carrying calls and task snapshots between nodes, durable on both sides in `tasks.db`.
 * See docs/a2a.md.
 */
export { A2aTasks, REPLY_STATES, type ReplyState, type TasksInit, type OfferedAgentInfo } from './service.js'
export { BLOCKING_MAX_MS } from './endpoint.js'
export { cardUrlOf, freshnessMs, cacheLifeMs, ifNoneMatch, CARD_CACHE_DEFAULT_MS, CARD_CACHE_MIN_MS, CARD_CACHE_MAX_MS } from './agent-card.js'
export { localFetch, type LocalFetch } from './http-fetch.js'
