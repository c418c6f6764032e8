#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own Node process, cores + 1 at a time,
// and ends with the line CI reads: `N passed, N failed`. A file that dies or times out without
// uvu's totals counts as one failure. `npm test -- WORD` runs only the files whose path has WORD.
// Longest files start first (their last measured seconds, test/durations.json; a file not in it
// counts as DEFAULT_SECONDS): started last, one 150 s file would run alone while the other job
// idles. `TEST_RECORD=1 npm test` writes the seconds of the files it ran into that file.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const testDir = process.env.TEST_DIR ?? join(root, 'dist', 'test') // another directory: the runner's own test
const filters = process.argv.slice(2)
// One more than the cores: the files wait on daemons, sockets and fsync much of their time (at
// two jobs on two cores, 1.4 cores were busy; at three, 1.8). At most 8: Node 20 counts the
// host's cores, not a container's CPU quota.
const jobs = Number(process.env.TEST_JOBS ?? Math.min(8, availableParallelism() + 1))
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error(`error[BAD_REQUEST]: Cannot use TEST_JOBS "${process.env.TEST_JOBS}": give a whole number of files to run at once, 1 or more`)
  process.exit(2)
}
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 300_000)

/** The seconds each file last took; a file that cannot be read or parsed only loses the order. */
function readDurations () {
  if (!existsSync(durationsFile)) return {}
  try {
    const d = JSON.parse(readFileSync(durationsFile, 'utf8'))
    if (typeof d === 'object' && d !== null && !Array.isArray(d)) return d
    throw new Error('not a JSON object')
  } catch (err) {
    console.error(`warning: cannot use "${durationsFile}" (${String(err.message).replace(/\s+/g, ' ')}): files run in name order; \`TEST_RECORD=1 npm test\` writes it again`)
    return {}
  }
}

function walk (dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) { if (name !== 'kit') out.push(...walk(path)) } else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const durationsFile = process.env.TEST_DURATIONS ?? join(root, 'test', 'durations.json')
const durations = readDurations()
const DEFAULT_SECONDS = 30
const secondsOf = file => Number(durations[relative(testDir, file)] ?? DEFAULT_SECONDS) || DEFAULT_SECONDS
const files = walk(testDir).filter(f => filters.length === 0 || filters.some(w => f.includes(w))).sort()
  .sort((a, b) => secondsOf(b) - secondsOf(a))
const measured = {}
let passed = 0
let failed = 0
let skipped = 0

function runFile (file) {
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(process.execPath, ['--enable-source-maps', '--expose-gc', file], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, FORCE_COLOR: '0' }
    })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    const timer = setTimeout(() => {
      out += `\n[test runner] ${relative(root, file)} exceeded ${fileTimeoutMs} ms; killed\n`
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
    }, fileTimeoutMs)
    child.on('close', code => {
      clearTimeout(timer)
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN)
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN)
      const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0)
      let f
      // uvu's Total counts the tests that ran, not the skipped ones: a skip must not offset a failure.
      if (Number.isNaN(total) || Number.isNaN(ok)) { f = 1 } else { passed += ok; skipped += skip; f = Math.max(0, total - ok) }
      if (code !== 0 && f === 0) f = 1
      failed += f
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      measured[relative(testDir, file)] = Math.round(Number(secs))
      process.stdout.write(`\n=== ${relative(root, file)} (${secs}s, exit ${code})${f > 0 ? ' FAILED' : ''}\n${out.trim()}\n`)
      resolve()
    })
  })
}

const queue = [...files]
await Promise.all(Array.from({ length: jobs }, async () => {
  while (queue.length > 0) await runFile(queue.shift())
}))
if (files.length === 0) { console.log('no test files found (run `npm run build` first)'); failed = 1 }
if (process.env.TEST_RECORD === '1' && files.length > 0) {
  const all = { ...durations, ...measured }
  const sorted = Object.fromEntries(Object.keys(all).sort().map(k => [k, all[k]]))
  writeFileSync(durationsFile, JSON.stringify(sorted, null, 2) + '\n')
}
console.log(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
