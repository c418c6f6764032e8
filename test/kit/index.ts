/**
 * Test kit: things tests start for real, each registering its teardown as it is created
 * (hyperdht's testnet style). `kitSuite()` gives every test a `ctx.defer()` and runs the
 * deferred closers in reverse after each test, whether it passed or not.
 */
import '../../protocol/index.js'
import { suite, type Test } from 'uvu'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface KitContext {
  /** Registers a closer; closers run in reverse order after the test. */
  defer: (close: () => unknown) => void
  /** A fresh temp directory, removed after the test. */
  tmp: (prefix?: string) => string
  closers: Array<() => unknown>
}

export function kitSuite (name: string): Test<KitContext> {
  const s = suite<KitContext>(name, { closers: [] } as any)
  s.before.each(ctx => {
    ctx.closers = []
    ctx.defer = (close) => { ctx.closers.push(close) }
    ctx.tmp = (prefix = 'sov-test-') => {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      ctx.closers.push(() => { rmSync(dir, { recursive: true, force: true }) })
      return dir
    }
  })
  s.after.each(async ctx => {
    const closers = ctx.closers.splice(0).reverse()
    for (const close of closers) {
      try { await close() } catch (err) { console.error('teardown failed:', err) }
    }
  })
  return s
}

/** Races `promise` against a deadline (uvu has no per-test timeout). */
export async function withDeadline<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`Deadline of ${ms} ms passed: ${what}`)) }, ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T> (check: () => T | Promise<T>, ms: number, what: string, everyMs = 50): Promise<NonNullable<T>> {
  const until = Date.now() + ms
  let last: unknown
  while (Date.now() < until) {
    try {
      const value = await check()
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    } catch (err) { last = err }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`)
}

/** Absolute path of a file in the repository (tests run from dist/test). */
export function repoPath (...parts: string[]): string {
  return join(new URL('../../..', import.meta.url).pathname, ...parts)
}

/** Asserts that `fn` rejects; returns the error for further checks. */
export async function assertRejects (fn: () => Promise<unknown>, what = 'the call'): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error(`Expected ${what} to fail, but it succeeded`)
}
