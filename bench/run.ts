/**
 * `npm run bench`: runs every `*.bench.js` beside this file (or those whose name contains an
 * argument), prints a Markdown table and writes `bench/results/latest.json` as
 * `[{"name","value","unit","baseline","ratio"}]`.
 */
import '../protocol/index.js'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchResult } from './kit.js'

const here = new URL('.', import.meta.url).pathname
const filters = process.argv.slice(2)
const files = readdirSync(here).filter(f => f.endsWith('.bench.js') && (filters.length === 0 || filters.some(w => f.includes(w)))).sort()
const results: BenchResult[] = []
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`)
  const mod = await import(join(here, file)) as { run: () => Promise<BenchResult[]> }
  try {
    results.push(...await mod.run())
  } catch (err) {
    process.stderr.write(`bench: ${file} failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}
const fmt = (n: number | null): string => n === null ? '—' : String(n)
const lines = ['| name | value | unit | baseline | ratio | note |', '|---|---:|---|---:|---:|---|']
for (const r of results) lines.push(`| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${fmt(r.baseline)} | ${fmt(r.ratio)} | ${r.note ?? ''} |`)
console.log(lines.join('\n'))
const outDir = new URL('../../bench/results/', import.meta.url).pathname
mkdirSync(outDir, { recursive: true })
writeFileSync(join(outDir, 'latest.json'), JSON.stringify(results, null, 2) + '\n')
writeFileSync(join(outDir, 'latest.md'), lines.join('\n') + '\n')
process.exit()
