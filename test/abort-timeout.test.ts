// The bounds of the node (dial, reply write, GetTask, card fetch, idle session) are signals that
// abort after a timeout or with another signal. On Node 20, `AbortSignal.any` with an
// `AbortSignal.timeout` among its sources never fires once a GC has run (nodejs/node#57736):
// `anySignalWithin` (protocol/abort.ts) holds the timeout, and no source combines them otherwise.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { anySignalWithin } from '../protocol/index.js'
import { repoPath } from './kit/index.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function gc (): void {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error('run with --expose-gc (the test runner does)')
  collect()
}

test('anySignalWithin fires its timeout after garbage collections (TimeoutError), and aborts with another signal at once', async () => {
  const never = new AbortController()
  const fired: string[] = []
  const signal = anySignalWithin(300, never.signal, undefined)
  signal.addEventListener('abort', () => { fired.push(String((signal.reason as Error)?.name)) })
  for (let i = 0; i < 5; i++) { gc(); await sleep(20) }
  await sleep(500)
  assert.ok(signal.aborted, 'the timeout fired')
  assert.equal(fired, ['TimeoutError'])
  const stop = new AbortController()
  const early = anySignalWithin(60_000, stop.signal)
  stop.abort(new Error('stopping'))
  assert.ok(early.aborted)
  assert.is((early.reason as Error).message, 'stopping')
})

test('no source combines AbortSignal.any with AbortSignal.timeout itself (only protocol/abort.ts)', () => {
  const bad: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) { walk(path); continue }
      if (!name.endsWith('.ts') || path.endsWith(join('protocol', 'abort.ts'))) continue
      const text = readFileSync(path, 'utf8')
      for (const m of text.matchAll(/AbortSignal\.any\(\[[^\]]*AbortSignal\.timeout\(/g)) bad.push(`${path}:${text.slice(0, m.index).split('\n').length}`)
    }
  }
  for (const folder of ['protocol', 'mesh', 'a2a', 'finance', 'node', 'cli']) walk(repoPath(folder))
  assert.equal(bad, [], 'use anySignalWithin (protocol/abort.ts)')
})

test.run()
