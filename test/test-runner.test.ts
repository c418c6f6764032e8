// The test runner (scripts/test.js) CI reads: a skipped test elsewhere must never offset a failure;
// the longest files start first.
// Before: uvu's Total counts only the tests that ran, the runner subtracted the skips once more,
// and one failing file next to one skipping file summed to "0 failed" with exit 0.
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { kitSuite, repoPath } from './kit/index.js'

const test = kitSuite('test-runner')

test('a failing test and a skipped one in another file: "0 passed, 1 failed, 1 skipped", exit 1', ctx => {
  const dir = ctx.tmp()
  const uvu = JSON.stringify(repoPath('node_modules', 'uvu', 'dist', 'index.mjs'))
  const assertJs = JSON.stringify(repoPath('node_modules', 'uvu', 'assert', 'index.mjs'))
  writeFileSync(join(dir, 'fails.test.js'), `import { suite } from ${uvu}; import * as assert from ${assertJs}\nconst t = suite('fails'); t('fails', () => { assert.ok(false) }); t.run()\n`)
  writeFileSync(join(dir, 'skips.test.js'), `import { suite } from ${uvu}\nconst t = suite('skips'); t.skip('skipped', () => {}); t.run()\n`)
  const r = spawnSync(process.execPath, [repoPath('scripts', 'test.js')], { env: { ...process.env, TEST_DIR: dir }, encoding: 'utf8', timeout: 60_000 })
  assert.match(r.stdout, /\n0 passed, 1 failed, 1 skipped\n/)
  assert.is(r.status, 1)
})

test('the longest files start first (test/durations.json); TEST_RECORD=1 writes what it measured', ctx => {
  const dir = ctx.tmp()
  const uvu = JSON.stringify(repoPath('node_modules', 'uvu', 'dist', 'index.mjs'))
  for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, `${name}.test.js`), `import { suite } from ${uvu}\nconst t = suite('${name}'); t('${name}', () => {}); t.run()\n`)
  const durations = join(dir, 'durations.json')
  writeFileSync(durations, JSON.stringify({ 'a.test.js': 1, 'c.test.js': 90 }))
  const r = spawnSync(process.execPath, [repoPath('scripts', 'test.js')], { env: { ...process.env, TEST_DIR: dir, TEST_DURATIONS: durations, TEST_JOBS: '1', TEST_RECORD: '1' }, encoding: 'utf8', timeout: 60_000 })
  assert.is(r.status, 0, r.stdout + r.stderr)
  // c (90 s), then b (not measured: 30 s), then a (1 s).
  assert.equal([...r.stdout.matchAll(/^=== .*?(\w)\.test\.js/gm)].map(m => m[1]), ['c', 'b', 'a'])
  assert.equal(Object.keys(JSON.parse(readFileSync(durations, 'utf8'))), ['a.test.js', 'b.test.js', 'c.test.js'])
  // A damaged durations file only loses the order; a TEST_JOBS that is no count runs nothing and says so.
  writeFileSync(durations, '<<<<<<< HEAD\n')
  const damaged = spawnSync(process.execPath, [repoPath('scripts', 'test.js')], { env: { ...process.env, TEST_DIR: dir, TEST_DURATIONS: durations, TEST_JOBS: '1' }, encoding: 'utf8', timeout: 60_000 })
  assert.is(damaged.status, 0, damaged.stdout + damaged.stderr)
  assert.match(damaged.stderr, /^warning: cannot use ".*durations\.json" \(.*\): files run in name order/)
  assert.match(damaged.stdout, /\n3 passed, 0 failed\n/)
  const badJobs = spawnSync(process.execPath, [repoPath('scripts', 'test.js')], { env: { ...process.env, TEST_DIR: dir, TEST_JOBS: 'abc' }, encoding: 'utf8', timeout: 60_000 })
  assert.is(badJobs.status, 2)
  assert.match(badJobs.stderr, /^error\[BAD_REQUEST\]: Cannot use TEST_JOBS "abc": give a whole number/)
})

test.run()
