/**
 * Printing for bench/pool.ts: tables whose columns differ per metric (latency percentiles,
 * efficiency, hand-over times), ratios of taskos against each peer, and the targets with PASS/MISS.
 * @module
 */
import type { CaseResult } from './harness.js'
import { median } from './harness.js'
import { compact, table } from './report.js'

/** 1234.5 → "1,235"; NaN → "—". */
export function grouped(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—'
}

/** A figure with a fixed number of decimals; NaN → "—". */
export function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—'
}

/** a ÷ b as "12.3x" / "0.45x"; empty when either is missing. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return ''
  const r = a / b
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`
}

/** 0.973 → "97.3%". */
export function percent(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—'
}

export { compact }

/** Median of a case's note, NaN when missing. */
export function note(r: CaseResult | undefined, key: string): number {
  return median(r?.notes?.[key] ?? [])
}

/** Median over repetitions of `f(wall ms, CPU ms, index)`. */
export function perRep(
  r: CaseResult | undefined,
  f: (wallMs: number, cpuMs: number, i: number) => number,
): number {
  if (r === undefined) return Number.NaN
  return median(r.wallMs.map((w, i) => f(w, r.cpuMs[i]!, i)))
}

/** One row of a metric's table: a case and its label. */
export interface Row {
  readonly id: string
  readonly label: string
}

/** Prints a table of the rows that ran; `cells` gives the columns after the label. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly Row[],
  results: ReadonlyMap<string, CaseResult>,
  cells: (r: CaseResult) => string[],
): void {
  const ran = rows.filter((row) => results.has(row.id))
  if (ran.length === 0) return
  console.log(`\n${title}`)
  console.log(
    table(
      ['subject', ...header],
      ran.map((row) => [row.label, ...cells(results.get(row.id)!)]),
    ),
  )
}

/** A target and what the run measured for it. */
export interface TargetCheck {
  readonly label: string
  /** The target as written: "≥ 20x", "≤ 1 ms". */
  readonly goal: string
  /** NaN when the cases it needs did not run. */
  readonly value: number
  readonly shown: string
  /** The same figure on CPU time, or another view of it; may be empty. */
  readonly aside: string
  readonly met: boolean
}

/** Prints the targets that could be checked, and a summary line. */
export function printTargets(checks: readonly TargetCheck[]): void {
  const ran = checks.filter((c) => Number.isFinite(c.value))
  if (ran.length === 0) return
  console.log('\nTargets (medians; wall time unless said otherwise)')
  console.log(
    table(
      ['', 'target', 'goal', 'measured', 'also'],
      ran.map((c) => [c.met ? 'PASS' : 'MISS', c.label, c.goal, c.shown, c.aside]),
    ),
  )
  const missed = ran.filter((c) => !c.met).map((c) => c.label)
  console.log(
    `\ntargets met: ${ran.length - missed.length}/${ran.length}${missed.length > 0 ? ` — missed: ${missed.join('; ')}` : ''}`,
  )
}
