/**
 * The benchmark harness: what a `bench/<capability>-*.ts` module exports, how one case is measured
 * (repetitions, median wall and process CPU time, heap after forced GC), and the protocol between
 * the runner and the child process that runs one case in a fresh heap.
 * @module
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** What a case measures: a rate (operations per second) or bytes retained per parked task. */
export type CaseKind = 'rate' | 'memory'

/**
 * One measurement of one subject, e.g. "ping-pong round trips of taskos generator tasks".
 * `run` does its own set-up and clean-up, and brackets the measured part with `probe.start()` and
 * `probe.stop()`; a memory case reads `probe.heapDelta()` while its `n` tasks are parked.
 */
export interface BenchCase {
  /** Unique within its module, `<metric>/<subject>`, e.g. `ping-pong/taskos-gen`. */
  readonly id: string
  readonly kind: CaseKind
  /** Operations (rate) or parked tasks (memory) per repetition, full run. */
  readonly n: number
  /** The same for `--quick`. */
  readonly quickN: number
  /** Measured repetitions of a full run, when not the kind's default (`--quick` runs 1). */
  readonly reps?: number
  run(n: number, probe: Probe): Promise<void>
}

/** A capability's benchmark: its cases, and how to print their results. */
export interface Benchmark {
  /** Capability name, e.g. `kernel`. */
  readonly name: string
  readonly cases: readonly BenchCase[]
  /** Prints tables from the results (cases filtered out are missing from the map). */
  report(results: ReadonlyMap<string, CaseResult>, run: RunInfo): void
}

/** How the run was made, for the report. */
export interface RunInfo {
  readonly quick: boolean
  readonly isolated: boolean
}

/** The repetitions of one case. */
export interface CaseResult {
  readonly id: string
  readonly kind: CaseKind
  readonly n: number
  /** Wall time of the measured part, ms, one per repetition. */
  readonly wallMs: number[]
  /** Process CPU time (user + system, every thread) of the measured part, ms. */
  readonly cpuMs: number[]
  /** Heap bytes retained (after forced GC) per task, memory cases only. */
  readonly bytesPerTask: number[]
  /** Figures a case noted with `probe.note(key, value)`, one per repetition that noted it. */
  readonly notes?: Record<string, number[]>
}

/** Brackets the measured part of a case. */
export interface Probe {
  /**
   * Forces a full GC (unless `gc: false`), records the heap baseline, then starts the wall and CPU
   * clocks. A latency case that has already collected before its warm-up passes `gc: false`: a
   * forced GC can deoptimize the hot path it is about to time (docs/benchmarks.md, pool).
   */
  start(options?: { readonly gc?: boolean }): void
  /** Stops the clocks. */
  stop(): void
  /** Forces a full GC and records the heap growth since `start()` (memory cases). */
  heapDelta(): number
  /** Records a figure of this repetition under `key` (e.g. a latency percentile). */
  note(key: string, value: number): void
}

type GcFn = () => void

let gcFn: GcFn | undefined

/** `global.gc` (`--expose-gc`), or the same function obtained through V8 flags when it is missing. */
export function gc(): void {
  if (gcFn === undefined) {
    const exposed = (globalThis as { gc?: GcFn }).gc
    if (typeof exposed === 'function') gcFn = exposed
    else {
      setFlagsFromString('--expose-gc')
      gcFn = runInNewContext('gc') as GcFn
    }
  }
  gcFn()
  gcFn()
}

function usedHeap(): number {
  return getHeapStatistics().used_heap_size
}

function cpuNow(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

class Measure implements Probe {
  wall = Number.NaN
  cpu = Number.NaN
  heap = Number.NaN
  readonly notes = new Map<string, number>()
  #base = 0
  #t0 = 0
  #c0 = 0
  start(options?: { readonly gc?: boolean }): void {
    if (options?.gc !== false) gc()
    this.#base = usedHeap()
    this.#c0 = cpuNow()
    this.#t0 = performance.now()
  }
  stop(): void {
    this.wall = performance.now() - this.#t0
    this.cpu = cpuNow() - this.#c0
  }
  heapDelta(): number {
    gc()
    this.heap = usedHeap() - this.#base
    return this.heap
  }
  note(key: string, value: number): void {
    this.notes.set(key, value)
  }
}

/**
 * Resolves on the next turn of the event loop, after every pending microtask: an async task is
 * parked only once the microtasks its `await` queued have run.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Repetitions per case kind. */
export function repetitions(kind: CaseKind, quick: boolean): number {
  if (kind === 'memory') return quick ? 1 : 3
  return quick ? 1 : 5
}

/** Repetitions of a case: its own count for a full run if it sets one, else its kind's. */
export function caseRepetitions(c: BenchCase, quick: boolean): number {
  return quick || c.reps === undefined ? repetitions(c.kind, quick) : c.reps
}

/**
 * Lets the immediates, timers and microtasks a repetition left behind run out, so what they hold is
 * garbage before the next baseline (a peer's scheduler may release its last fibers only then).
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * Runs one case: an untimed warm-up (rate cases, a tenth of n; skipped for a single repetition),
 * then `reps` measured repetitions.
 * @throws when the case never called `probe.start()`/`stop()`, or a memory case never measured.
 */
export async function runCase(c: BenchCase, n: number, reps: number): Promise<CaseResult> {
  const result: CaseResult = { id: c.id, kind: c.kind, n, wallMs: [], cpuMs: [], bytesPerTask: [], notes: {} }
  await settle()
  if (c.kind === 'rate' && reps > 1) {
    await c.run(Math.max(1, Math.ceil(n / 10)), new Measure())
    await settle()
  }
  for (let i = 0; i < reps; i++) {
    const m = new Measure()
    await c.run(n, m)
    await settle()
    if (Number.isNaN(m.wall)) throw new Error(`case ${c.id} did not call probe.start() and probe.stop()`)
    if (c.kind === 'memory' && Number.isNaN(m.heap)) throw new Error(`case ${c.id} never measured the heap`)
    result.wallMs.push(m.wall)
    result.cpuMs.push(m.cpu)
    if (c.kind === 'memory') result.bytesPerTask.push(m.heap / n)
    for (const [key, value] of m.notes) (result.notes![key] ??= []).push(value)
  }
  return result
}

/**
 * The order in which the subjects of an interleaved case take their turns in round `round`: the
 * list rotated by one place per round, so that no subject always runs first (or right after
 * another's heavy turn).
 */
export function rotated<T>(subjects: readonly T[], round: number): T[] {
  const first = round % subjects.length
  return [...subjects.slice(first), ...subjects.slice(0, first)]
}

/**
 * An interleaved case (one case whose every repetition runs every subject in turn and notes
 * `<subject>:<figure>`) as one result per subject, `<metric>/<subject>` beside it (its id is
 * `<metric>/interleaved`), for reports that read one result per subject. `make` gives each
 * subject's own fields from its figures (`pick(figure)`: one value per repetition that noted it).
 */
export function splitInterleaved(
  results: ReadonlyMap<string, CaseResult>,
  id: string,
  subjects: readonly string[],
  make: (pick: (figure: string) => number[], r: CaseResult) => Partial<CaseResult>,
): Map<string, CaseResult> {
  const all = new Map(results)
  const r = results.get(id)
  if (r === undefined) return all
  const metric = id.slice(0, id.indexOf('/'))
  for (const subject of subjects) {
    const pick = (figure: string): number[] => r.notes?.[`${subject}:${figure}`] ?? []
    all.set(`${metric}/${subject}`, { ...r, ...make(pick, r), id: `${metric}/${subject}` })
  }
  return all
}

/** The median (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Medians of a result: wall and CPU ms, operations per second and per CPU second, bytes/task. */
export interface Summary {
  readonly n: number
  readonly wallMs: number
  readonly cpuMs: number
  readonly perSec: number
  readonly perCpuSec: number
  readonly bytesPerTask: number
}

/** Medians of each figure over the repetitions (rates are medians of per-repetition rates). */
export function summarize(r: CaseResult): Summary {
  return {
    n: r.n,
    wallMs: median(r.wallMs),
    cpuMs: median(r.cpuMs),
    perSec: median(r.wallMs.map((ms) => (r.n * 1000) / ms)),
    perCpuSec: median(r.cpuMs.map((ms) => (ms > 0 ? (r.n * 1000) / ms : Number.POSITIVE_INFINITY))),
    bytesPerTask: median(r.bytesPerTask),
  }
}

/** Marks the result line a child process prints. */
export const RESULT_MARK = '@@bench-result '
