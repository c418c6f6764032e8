/**
 * Asking before a destructive step (issue 14, `a2a purge`, `audit purge`): `--yes` goes ahead;
 * on a terminal the user is asked; otherwise (a script, a pipe) it is a usage error naming `--yes`,
 * so nothing is deleted by accident and nothing waits for an answer that never comes.
 */
import { createInterface } from 'node:readline/promises'
import { badRequest } from '../protocol/index.js'

export async function confirm (question: string, yes: boolean | undefined, what: string): Promise<void> {
  if (yes === true) return
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw badRequest(`Cannot ${what} without confirmation: add --yes (stdin is not a terminal to ask on)`)
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = await rl.question(`${question} [y/N] `)
    if (!/^y(es)?$/i.test(answer.trim())) throw badRequest(`Cannot ${what}: not confirmed`)
  } finally {
    rl.close()
  }
}
