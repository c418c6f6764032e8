/**
 * Capabilities and audit benchmarks:
 * - `audit.append`: rows/s through the audit log (hash chain + group commit + fdatasync) with many
 *   concurrent writers, against bare `appendFile` + `fdatasync` of the very same bytes in the very
 *   same batches (target ≥ 0.8×);
 * - `audit.verify`: rows/s of a full verification (parse, canonical form, hash chain, signed
 *   checkpoints) against a bare `JSON.parse` of every line (target ≥ 200k rows/s);
 * - `cap.check`: checks/s over a table of 10k grants against re-reading and parsing
 *   `grants.jsonl` for each check, as Covenant does (target ≥ 100k/s);
 * - `cap.load`: time to load and verify the signatures of those 10k grants, once at start.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { AuditLog, verifyAuditFiles } from '../node/audit/index.js'
import { Capabilities, signGrant } from '../node/caps/index.js'
import { median, row, type BenchResult } from './kit.js'

/** Concurrent writers (each awaits its row before appending the next) and rows per append run. */
const WRITER_COUNTS = [1, 16, 64]
const APPEND_ROWS = 10_000
const VERIFY_ROWS = 200_000
const GRANTS = 10_000
const CHECKS = 1_000_000
const RUNS = 3

const detail = (i: number) => ({ id: `0190f2a0-${String(i).padStart(4, '0')}-7abc-8def-0123456789ab`, mailbox: 'builder', bytes: 1024 + (i % 512), peer: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' })

async function appendRun (dir: string, key: any, writers: number): Promise<{ rate: number, batches: number[], lines: Buffer }> {
  const log = await AuditLog.open({ dir, privateKey: key, checkpointEvery: 1_000_000, warn: () => {} })
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < APPEND_ROWS) {
      const i = next++
      await log.append({ type: 'A2A_ACCEPTED', actor: 'peer:12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', outcome: 'ok', detail: detail(i) })
    }
  }))
  const secs = Number(process.hrtime.bigint() - started) / 1e9
  const batches = [...log.batchSizes]
  await log.close()
  return { rate: APPEND_ROWS / secs, batches, lines: readFileSync(join(dir, 'events.jsonl')) }
}

/** The same bytes, in the same batches, with `appendFile` + `fdatasync` and nothing else. */
async function bareRun (path: string, lines: Buffer, batches: number[]): Promise<number> {
  const chunks: Buffer[] = []
  let pos = 0
  for (const n of batches) {
    let end = pos
    for (let k = 0; k < n; k++) end = lines.indexOf(0x0a, end) + 1
    chunks.push(lines.subarray(pos, end))
    pos = end
  }
  const fh = await open(path, 'a', 0o600)
  const started = process.hrtime.bigint()
  for (const c of chunks) {
    await fh.appendFile(c)
    await fh.datasync()
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9
  await fh.close()
  return batches.reduce((a, b) => a + b, 0) / secs
}

export async function run (): Promise<BenchResult[]> {
  const root = mkdtempSync(join(tmpdir(), 'sov-bench-audit-'))
  try {
    const key = await generateKeyPair('Ed25519')

    // audit.append vs bare appendFile + fdatasync of the same batches, at several concurrencies.
    const appendRows: BenchResult[] = []
    for (const writers of WRITER_COUNTS) {
      const ours: number[] = []
      const bare: number[] = []
      let meanBatch = 0
      for (let r = 0; r < RUNS; r++) {
        const { rate, batches, lines } = await appendRun(join(root, `append-${writers}-${r}`), key, writers)
        ours.push(rate)
        bare.push(await bareRun(join(root, `bare-${writers}-${r}.jsonl`), lines, batches))
        meanBatch = APPEND_ROWS / batches.length
      }
      appendRows.push(row(`audit.append.w${writers}`, median(ours), 'rows/s', median(bare), `chain + group commit + fdatasync, ${writers} writer(s) each awaiting its row, mean batch ${meanBatch.toFixed(1)} rows, vs bare appendFile + fdatasync of the same bytes in the same batches (target ≥ 0.8×)`))
    }

    // audit.verify over a long log, against a bare JSON.parse of every line.
    const vdir = join(root, 'verify')
    const log = await AuditLog.open({ dir: vdir, privateKey: key, warn: () => {} })
    for (let i = 0; i < VERIFY_ROWS; i += 5000) {
      await Promise.all(Array.from({ length: 5000 }, async (_, k) => await log.append({ type: 'A2A_ACCEPTED', actor: 'operator', outcome: 'ok', detail: detail(i + k) })))
    }
    await log.close()
    const verifyRates: number[] = []
    const verifyCpuRates: number[] = []
    const parseRates: number[] = []
    for (let r = 0; r < RUNS; r++) {
      let t = process.hrtime.bigint()
      const cpu = process.cpuUsage()
      const v = await verifyAuditFiles(join(vdir, 'events.jsonl'), join(vdir, 'checkpoints.jsonl'), key.publicKey)
      if (!v.ok) throw new Error(`verify failed: ${v.reason}`)
      verifyRates.push(v.rows / (Number(process.hrtime.bigint() - t) / 1e9))
      const used = process.cpuUsage(cpu)
      verifyCpuRates.push(v.rows / ((used.user + used.system) / 1e6))
      t = process.hrtime.bigint()
      const text = readFileSync(join(vdir, 'events.jsonl'), 'utf8')
      let n = 0
      for (const line of text.split('\n')) if (line !== '') { JSON.parse(line); n++ }
      parseRates.push(n / (Number(process.hrtime.bigint() - t) / 1e9))
    }

    // cap.check over 10k grants, against re-reading grants.jsonl per check.
    const cdir = join(root, 'caps')
    const self = peerIdFromPrivateKey(key).toString()
    const peers = await Promise.all(Array.from({ length: 100 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    const lines: string[] = []
    for (let i = 0; i < GRANTS; i++) {
      const aud = i % 2 === 0 ? peers[i % peers.length] : `agent:a${i % 500}`
      const { grant } = await signGrant(key, { iss: self, aud, cmd: aud.startsWith('agent:') ? '/a2a/read' : '/a2a/send', mailbox: `m${i % 200}`, expiresS: 86_400 })
      lines.push(JSON.stringify(grant))
    }
    const { mkdirSync } = await import('node:fs')
    mkdirSync(cdir, { recursive: true })
    writeFileSync(join(cdir, 'grants.jsonl'), lines.join('\n') + '\n')
    let t = process.hrtime.bigint()
    const caps = await Capabilities.open({ dir: cdir, privateKey: key, peerId: self })
    const loadMs = Number(process.hrtime.bigint() - t) / 1e6
    const queries = Array.from({ length: 4096 }, (_, i) => ({ aud: i % 2 === 0 ? peers[i % peers.length] : `agent:a${i % 700}`, cmd: i % 3 === 0 ? '/a2a/read' : '/a2a/send', mailbox: `m${i % 250}` }))
    const checkRates: number[] = []
    let granted = 0
    for (let r = 0; r < RUNS; r++) {
      t = process.hrtime.bigint()
      for (let i = 0; i < CHECKS; i++) if (caps.check(queries[i & 4095]).ok) granted++
      checkRates.push(CHECKS / (Number(process.hrtime.bigint() - t) / 1e9))
    }
    const rereadChecks = 200
    t = process.hrtime.bigint()
    for (let i = 0; i < rereadChecks; i++) {
      const q = queries[i]
      const all = readFileSync(join(cdir, 'grants.jsonl'), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l))
      if (all.some(g => g.aud === q.aud && g.cmd === q.cmd && (g.with === 'mailbox:*' || g.with === `mailbox:${q.mailbox}`))) granted++
    }
    const rereadRate = rereadChecks / (Number(process.hrtime.bigint() - t) / 1e9)
    await caps.close()

    return [
      ...appendRows,
      row('audit.verify', median(verifyRates), 'rows/s', median(parseRates), `${VERIFY_ROWS} rows: canonical form, hash chain, signed checkpoints, vs bare JSON.parse of every line (target ≥ 200k rows/s); ${Math.round(median(verifyCpuRates))} rows per second of process CPU (all threads, GC included)`),
      row('cap.check', median(checkRates), 'checks/s', rereadRate, `${GRANTS} grants in memory, vs re-reading grants.jsonl per check as Covenant does (target ≥ 100k/s); ${granted > 0 ? 'mixed hits and misses' : 'no hits?'}`),
      row('cap.load', loadMs, 'ms', null, `load ${GRANTS} grants and verify each signature once, at start`)
    ]
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
