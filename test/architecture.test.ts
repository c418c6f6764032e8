// Keeps the architecture visible (STYLE 1, 13, 14; issue 16): a top-level folder imports another
// only through its index.ts; inside node/, a sub-room imports another only through its index.ts
// and never the daemon's own wiring files; nothing imports the daemon but node/index.ts; and no
// import cycle runs through our files.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { repoPath } from './kit/index.js'

const FOLDERS = ['protocol', 'mesh', 'a2a', 'finance', 'node', 'cli', 'bench', 'test']
/** Folders whose sub-folders are rooms with one door each (STYLE 14). */
const ROOMED = ['node']
/**
 * Sub-entries of protocol/ every part may import, like protocol/index.ts: kept out of it so that
 * a CLI command does not load what only some need (protocol/addr: multiaddr, ~40 ms a command).
 */
const SHARED_DOORS = ['protocol/addr/index.ts']
/** Top-level node/ files: the daemon's wiring. */
const MAX_NODE_TOP_FILES = 12

function sources (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g

/** Every relative import of every source file, as repo-relative `.ts` paths. */
function edges (): Array<{ from: string, to: string, spec: string, typeOnly: boolean }> {
  const out = []
  for (const folder of FOLDERS) {
    for (const file of sources(repoPath(folder))) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = m[1] ?? m[2] ?? m[3]
        if (!spec.startsWith('.')) continue
        const to = relative(repoPath(), join(file, '..', spec)).replace(/\.js$/, '.ts')
        out.push({ from: relative(repoPath(), file), to, spec, typeOnly: /^(?:import|export)\s+type\s/.test(m[0]) })
      }
    }
  }
  return out
}

test('folders import each other only through index.ts', () => {
  const bad: string[] = []
  for (const { from, to, spec } of edges()) {
    const folder = from.split('/')[0]
    const [top, ...rest] = to.split('/')
    if (top === folder || !FOLDERS.includes(top)) continue
    if (top === 'test' && folder === 'test') continue
    // Tests and benchmarks of a sub-room import that room's door (issue 16).
    const door = ROOMED.includes(top) && (folder === 'test' || folder === 'bench') && rest.length === 2 && rest[1] === 'index.ts'
    if (rest.join('/') !== 'index.ts' && !door && !SHARED_DOORS.includes(to)) bad.push(`${from} -> ${spec}`)
  }
  assert.equal(bad, [], 'imports that reach into another folder')
})

test('node/ sub-rooms import each other only through index.ts, and never the wiring above them', () => {
  const bad: string[] = []
  for (const { from, to, spec } of edges()) {
    const [top, room, ...rest] = from.split('/')
    if (!ROOMED.includes(top) || rest.length === 0) continue
    const [toTop, toRoom, ...toRest] = to.split('/')
    if (toTop !== top || toRoom === room) continue
    if (toRest.length === 0) bad.push(`${from} -> ${spec} (the wiring of ${top}/)`)
    else if (toRest.join('/') !== 'index.ts') bad.push(`${from} -> ${spec}`)
  }
  assert.equal(bad, [], 'imports that reach into another room')
})

test('only node/index.ts imports the daemon', () => {
  const importers = edges().filter(e => e.to === 'node/daemon.ts').map(e => e.from)
  assert.equal([...new Set(importers)], ['node/index.ts'])
})

test(`node/ keeps at most ${MAX_NODE_TOP_FILES} files at its top`, () => {
  const top = readdirSync(repoPath('node')).filter(n => n.endsWith('.ts'))
  assert.ok(top.length <= MAX_NODE_TOP_FILES, `${top.length} files: ${top.join(', ')}`)
})

test('no import cycle among our files', () => {
  // Type-only imports count too: a cycle of types is still a circle a reader must walk.
  const graph = new Map<string, string[]>()
  for (const { from, to } of edges()) graph.set(from, [...(graph.get(from) ?? []), to])
  const state = new Map<string, 'open' | 'done'>()
  const cycles: string[] = []
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') { cycles.push([...path.slice(path.indexOf(file)), file].join(' -> ')); return }
    state.set(file, 'open')
    for (const next of graph.get(file) ?? []) visit(next, [...path, file])
    state.set(file, 'done')
  }
  for (const file of graph.keys()) visit(file, [])
  assert.equal(cycles, [], 'import cycles')
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
