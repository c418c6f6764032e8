/**
 * Reading a JSON state file (`agents.json`, `peers/revoked.json`) so that a damaged one is named
 * with what to do (issue 14), instead of `Unexpected token…` with no file.
 */
import { existsSync, readFileSync } from 'node:fs'
import { internal } from '../../protocol/index.js'

/** The parsed file, or `fallback` when it does not exist. `what` names it for people. */
export function readJsonFile<T> (path: string, what: string, fallback: T, check: (x: any) => boolean): T {
  if (!existsSync(path)) return fallback
  let data: unknown
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw internal(`Cannot read ${what} "${path}": ${(cause as Error).message}; restore it from a backup, or move it aside to start with none`, { cause })
  }
  if (!check(data)) throw internal(`Cannot read ${what} "${path}": valid JSON but not the expected shape; restore it from a backup, or move it aside to start with none`)
  return data as T
}
