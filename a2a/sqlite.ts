/**
 * Opening SQLite files so that no better-sqlite3 object is garbage collected while the process
 * runs. On Node 24, better-sqlite3 12.x aborts the whole process when V8 collects one of its
 * objects at a moment without a JS context (`Assertion failed: (env) != nullptr` in
 * `node::RemoveEnvironmentCleanupHook`, from `Statement::~Statement`; WiseLibs/better-sqlite3#1515,
 * closed without a fix). 13.x is not an option (it crashes on Node 20), so, per database:
 * - `prepare(sql)` returns one statement per SQL text, kept for the database's life;
 * - `pragma(...)` never makes a throwaway statement: a setting runs through `exec`, a read
 *   through that cache;
 * - the database object itself is kept after `close()` (a few hundred bytes each).
 * Issue 16: the suite must pass on Node 20, 22 and 24.
 */
import Database from 'better-sqlite3'
import { unavailable } from '../protocol/index.js'

const kept: Database.Database[] = []

/** `new Database(path, options)`, with statements cached and nothing left for the collector. */
export function openDatabase (path: string, options?: Database.Options): Database.Database {
  const db = new Database(path, options)
  kept.push(db)
  const statements = new Map<string, Database.Statement>()
  const prepare = db.prepare.bind(db)
  const cached = (sql: string): Database.Statement => {
    let s = statements.get(sql)
    if (s === undefined) {
      s = prepare(sql)
      statements.set(sql, s)
    }
    return s
  }
  db.prepare = cached as typeof db.prepare
  db.pragma = ((source: string, opts?: { simple?: boolean }): unknown => {
    if (source.includes('=')) {
      db.exec(`PRAGMA ${source}`)
      return undefined
    }
    const s = cached(`PRAGMA ${source}`)
    if (!s.reader) {
      // An action such as `incremental_vacuum` works one step per row: exec runs it to the end.
      db.exec(`PRAGMA ${source}`)
      return opts?.simple === true ? undefined : []
    }
    return opts?.simple === true ? s.pluck(true).get() : s.pluck(false).all()
  }) as typeof db.pragma
  return db
}

/**
 * One `db.transaction` for any function (`db.transaction(fn)` builds a new wrapper at each
 * call), with the machine's refusals said in words: `SQLITE_FULL`, `SQLITE_IOERR_*` and
 * `SQLITE_READONLY*` throw `UNAVAILABLE` naming the file and the fix (a full disk answered
 * `a2a ack` with INTERNAL and a stack in daemon.log). Other errors pass unchanged.
 */
export function transactionOf (db: Database.Database): <T>(fn: () => T) => T {
  const tx = db.transaction((fn: () => unknown) => fn())
  return <T>(fn: () => T): T => {
    try {
      return tx(fn) as T
    } catch (err) {
      throw explainSqliteError(db.name, err)
    }
  }
}

const SQLITE_REASONS: Array<[RegExp, string]> = [
  [/^SQLITE_FULL$/, 'the disk is full ({code}); free some space and try again'],
  [/^SQLITE_READONLY/, 'the file or its file system is read-only ({code}); make the home writable'],
  [/^SQLITE_IOERR/, 'the disk reported an I/O error ({code}); check it and its free space, then try again']
]

/** A SQLite error of the machine as `UNAVAILABLE` naming `path`; anything else unchanged. */
export function explainSqliteError (path: string, err: unknown): unknown {
  const code = (err as { code?: unknown })?.code
  if (typeof code !== 'string') return err
  for (const [match, reason] of SQLITE_REASONS) {
    if (match.test(code)) return unavailable(`Cannot write "${path}": ${reason.replace('{code}', code)}`, { cause: err })
  }
  return err
}
