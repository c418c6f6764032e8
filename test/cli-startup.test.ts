// The CLI's file-only commands start without the daemon's heavy parts (cli/main.ts, issue 15 §2):
// `sov init`, `sov config` and `--help` never load libp2p's node, SQLite, the A2A SDK or express
// (before, `sov init` loaded all of them: ~1.4 s where ~0.6 s is needed).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoPath } from './kit/index.js'
import { SOV } from './kit/daemon.js'

const RECORDER = repoPath('dist', 'test', 'fixtures', 'record-imports.js')
const HEAVY = ['libp2p', '@libp2p/kad-dht', '@libp2p/tcp', '@chainsafe/libp2p-noise', '@libp2p/circuit-relay-v2', 'better-sqlite3', '@a2a-js/sdk', 'express']

/** The packages under node_modules that `sov ARGS` resolved, by name. */
function packagesLoaded (dir: string, args: string[]): Set<string> {
  const log = join(dir, 'imports.log')
  writeFileSync(log, '')
  const r = spawnSync(process.execPath, ['--import', RECORDER, SOV, '--home', join(dir, 'home'), ...args], { encoding: 'utf8', env: { ...process.env, RECORD_IMPORTS: log } })
  assert.is(r.status, 0, `sov ${args.join(' ')}: ${r.stderr}`)
  const names = new Set<string>()
  for (const url of readFileSync(log, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (m !== null) names.add(m[1])
  }
  return names
}

test('sov init, config get, config set and --help load no libp2p node, SQLite, A2A SDK or express', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sov-startup-'))
  try {
    for (const args of [['init', '--listen', '/ip4/127.0.0.1/tcp/0'], ['config', 'get', 'listen'], ['config', 'set', 'a2a.http.listen', '0'], ['--help']]) {
      const loaded = packagesLoaded(dir, args)
      // The recorder works: every command loads commander.
      assert.ok(loaded.has('commander'), `sov ${args.join(' ')} recorded no imports`)
      assert.equal(HEAVY.filter(p => loaded.has(p)), [], `sov ${args.join(' ')} loaded the daemon's parts`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
