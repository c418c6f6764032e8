/** Shared pieces of the benchmarks: the result row and small statistics helpers. */

/** One row of `bench/results/latest.json`; `ratio` = value / baseline (null without baseline). */
export interface BenchResult {
  name: string
  value: number
  unit: string
  baseline: number | null
  ratio: number | null
  /** What the baseline is and anything a reader must know (failures, targets). */
  note?: string
}

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function percentile (values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

export function row (name: string, value: number, unit: string, baseline: number | null, note?: string): BenchResult {
  const ratio = baseline === null || baseline === 0 ? null : value / baseline
  return { name, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: ratio === null ? null : round(ratio), note }
}

function round (n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(4)) : n
}
