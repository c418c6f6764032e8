/**
 * Schema issues (valibot) in words a user can act on, for every message that reports one: the
 * IPC server's refusals and `config.json` (never `Invalid length: Expected >=1 but received 0`).
 */
import type * as v from 'valibot'

/** What is wrong with the value `issue` is about, e.g. `must be at least 1 character (got 0)`. */
export function describeIssue (issue: v.BaseIssue<unknown>): string {
  const got = `got ${issue.received}`
  const n = Number(issue.requirement)
  const unit = typeof issue.input === 'string' ? (n === 1 ? 'character' : 'characters') : (n === 1 ? 'entry' : 'entries')
  switch (issue.type) {
    case 'min_value': return `must be at least ${String(issue.requirement)} (${got})`
    case 'max_value': return `must be at most ${String(issue.requirement)} (${got})`
    case 'integer': return `must be a whole number (${got})`
    case 'min_length': return `must have at least ${String(issue.requirement)} ${unit} (${got})`
    case 'max_length': return `must have at most ${String(issue.requirement)} ${unit} (${got})`
    case 'picklist': return `must be one of ${issue.expected ?? '?'} (${got})`
    default: return issue.kind === 'schema' ? `must be ${issue.expected ?? 'another type'} (${got})` : issue.message
  }
}

/** `path "value"` of an issue, for messages: the value only when it is a short string. */
export function issueSubject (issue: v.BaseIssue<unknown>, path: string): string {
  return typeof issue.input === 'string' && issue.input.length <= 80 ? `${path} "${issue.input}"` : path
}
