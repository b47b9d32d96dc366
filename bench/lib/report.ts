/**
 * Printing: one table per metric (subjects side by side, medians, ratios against the peer and the
 * floor) and the list of targets with PASS / MISS.
 * @module
 */
import type { CaseKind, CaseResult, Summary } from './harness.js'
import { summarize } from './harness.js'

/** Who a row measures. */
export type Party = 'taskos' | 'effect' | 'floor'

/** One subject in a metric's table. */
export interface Row {
  /** Case id. */
  readonly id: string
  readonly label: string
  readonly party: Party
  /** Case id of the floor this taskos row is compared with (default: the metric's). */
  readonly floor?: string
}

/** A metric: one table. */
export interface Metric {
  readonly title: string
  readonly kind: CaseKind
  /** What one operation is, for the rate columns: "spawns", "round trips". */
  readonly op: string
  readonly rows: readonly Row[]
  /** Case id of the Effect row taskos rows are compared with. */
  readonly effect: string
  /** Case id of the floor row taskos rows are compared with (unless a row names its own). */
  readonly floor: string
}

/** A target from the issue: the best of `candidates` must meet it. */
export interface Target {
  readonly label: string
  readonly kind: CaseKind
  readonly candidates: readonly string[]
  readonly op: '<=' | '>='
  readonly value: number
}

/** 1234567 → "1.23M", 45678 → "45.7k", 512 → "512". */
export function compact(x: number): string {
  if (!Number.isFinite(x)) return '—'
  const a = Math.abs(x)
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`
  if (a >= 1e3) return `${(x / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`
  return x.toFixed(0)
}

function grouped(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—'
}

function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return ''
  const r = a / b
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`
}

/** Renders rows of cells as an aligned text table (first column left, the rest right). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** The headline figure of a summary: bytes per task, or operations per wall second. */
function figure(kind: CaseKind, s: Summary | undefined): number {
  if (s === undefined) return Number.NaN
  return kind === 'memory' ? s.bytesPerTask : s.perSec
}

/** Summaries of the results, by case id. */
export function summaries(results: ReadonlyMap<string, CaseResult>): Map<string, Summary> {
  const out = new Map<string, Summary>()
  for (const [id, r] of results) out.set(id, summarize(r))
  return out
}

/** Prints one metric's table; rows without a result are left out. */
export function printMetric(m: Metric, s: ReadonlyMap<string, Summary>): void {
  const rows = m.rows.filter((r) => s.has(r.id))
  if (rows.length === 0) return
  const effect = figure(m.kind, s.get(m.effect))
  const cells = rows.map((r) => {
    const x = s.get(r.id)!
    const own = figure(m.kind, x)
    const floor = figure(m.kind, s.get(r.floor ?? m.floor))
    const vsEffect = r.party === 'taskos' ? ratio(own, effect) : ''
    const vsFloor = r.party === 'taskos' ? ratio(own, floor) : ''
    return m.kind === 'memory'
      ? [
          r.label,
          grouped(x.n),
          grouped(x.bytesPerTask),
          compact(x.perSec),
          compact(x.perCpuSec),
          vsEffect,
          vsFloor,
        ]
      : [
          r.label,
          grouped(x.n),
          x.wallMs.toFixed(1),
          x.cpuMs.toFixed(1),
          compact(x.perSec),
          compact(x.perCpuSec),
          vsEffect,
          vsFloor,
        ]
  })
  const header =
    m.kind === 'memory'
      ? ['subject', 'n', 'B/task', 'spawn/s', 'spawn/CPU-s', 'taskos/Effect', 'taskos/floor']
      : ['subject', 'n', 'wall ms', 'CPU ms', `${m.op}/s`, `${m.op}/CPU-s`, 'taskos/Effect', 'taskos/floor']
  console.log(`\n${m.title}`)
  console.log(table(header, cells))
}

/** Outcome of one target. */
export interface TargetOutcome {
  readonly target: Target
  /** Case id of the best candidate, undefined when none ran. */
  readonly best: string | undefined
  readonly value: number
  /** The same target checked on per-CPU-second rates (rate targets only). */
  readonly cpuValue: number
  readonly met: boolean | undefined
}

/** Checks the targets against the best candidate of each (by the wall-time median). */
export function checkTargets(targets: readonly Target[], s: ReadonlyMap<string, Summary>): TargetOutcome[] {
  return targets.map((t) => {
    let best: string | undefined
    for (const id of t.candidates) {
      if (!s.has(id)) continue
      const better =
        best === undefined ||
        (t.op === '>='
          ? figure(t.kind, s.get(id)) > figure(t.kind, s.get(best))
          : figure(t.kind, s.get(id)) < figure(t.kind, s.get(best)))
      if (better) best = id
    }
    if (best === undefined)
      return { target: t, best, value: Number.NaN, cpuValue: Number.NaN, met: undefined }
    const x = s.get(best)!
    const value = figure(t.kind, x)
    return {
      target: t,
      best,
      value,
      cpuValue: t.kind === 'rate' ? x.perCpuSec : Number.NaN,
      met: t.op === '>=' ? value >= t.value : value <= t.value,
    }
  })
}

/** Prints the targets and a summary line; gives how many were met and how many were checked. */
export function printTargets(outcomes: readonly TargetOutcome[], labels: ReadonlyMap<string, string>): void {
  const ran = outcomes.filter((o) => o.met !== undefined)
  if (ran.length === 0) return
  const cells = ran.map((o) => {
    const t = o.target
    const unit = t.kind === 'memory' ? ' B' : '/s'
    const fmt = (x: number): string => (t.kind === 'memory' ? grouped(x) : compact(x)) + unit
    const cpuNote =
      t.kind === 'rate'
        ? `${fmt(o.cpuValue)}${(t.op === '>=' ? o.cpuValue >= t.value : false) ? ' ✓' : ''}`
        : ''
    return [
      o.met === true ? 'PASS' : 'MISS',
      `${t.label} ${t.op === '>=' ? '≥' : '≤'} ${fmt(t.value)}`,
      fmt(o.value),
      cpuNote,
      labels.get(o.best!) ?? o.best!,
    ]
  })
  console.log('\nTargets (median; rates on wall time, the per-CPU-second rate beside it, ✓ when it meets)')
  console.log(table(['', 'target', 'measured', 'per CPU-s', 'best way'], cells))
  const met = ran.filter((o) => o.met === true).length
  const missed = ran.filter((o) => o.met !== true).map((o) => o.target.label)
  console.log(
    `\ntargets met: ${met}/${ran.length}${missed.length > 0 ? ` — missed: ${missed.join('; ')}` : ''}`,
  )
}
