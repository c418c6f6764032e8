// Keeps the architecture visible (STYLE 1): a top-level folder imports another only through
// its index.ts, and protocol/ imports nothing of ours.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { repoPath } from './kit/index.js'

const FOLDERS = ['protocol', 'mesh', 'a2a', 'finance', 'node', 'cli', 'bench', 'test']

function sources (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g

test('folders import each other only through index.ts', () => {
  const bad: string[] = []
  for (const folder of FOLDERS) {
    for (const file of sources(repoPath(folder))) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? m[3]
        if (!spec.startsWith('.')) continue
        const target = relative(repoPath(), join(file, '..', spec))
        const [top, ...rest] = target.split('/')
        if (top === folder || !FOLDERS.includes(top)) continue
        if (top === 'test' && folder === 'test') continue
        if (rest.join('/') !== 'index.js') bad.push(`${relative(repoPath(), file)} -> ${spec}`)
      }
    }
  }
  assert.equal(bad, [], 'imports that reach into another folder')
})

test('protocol/ imports nothing of ours', () => {
  for (const file of sources(repoPath('protocol'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]
      if (spec.startsWith('.')) assert.ok(spec.startsWith('./'), `${file} imports ${spec}`)
    }
  }
})

test('cli/ imports mesh/ and finance/ only lazily, and never node/ or a2a/', () => {
  for (const file of sources(repoPath('cli'))) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]
      if (/^import\s+type/.test(m[0])) continue
      assert.not.ok(/\/(mesh|finance|node|a2a)\/index\.js$/.test(spec), `${relative(repoPath(), file)} statically imports ${spec}`)
    }
  }
})

test.run()
