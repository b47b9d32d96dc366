/**
 * Pool benchmark: taskos's worker `Pool` against piscina, tinypool and workerpool, and hand-written
 * worker_threads baselines, in the same run. Every subject has 2 worker threads and runs the same
 * task bodies (`bench/fixtures/pool-bodies.mjs`). Five metrics, the targets:
 *
 * 1. tiny tasks `x => x + 1`, 200,000 submitted at once and all awaited: tasks/s; and the heap
 *    each task takes while queued (200,000 submitted, none completed yet)
 * 2. sequential round trip of one tiny task: p50 and p99
 * 3. 400 CPU-bound tasks of ~5 ms (a busy loop of calibrated iterations): parallel efficiency
 * 4. a 64 MiB Float64Array handed to a worker: clone, transfer, SharedArrayBuffer (`shared`)
 * 5. new pool → first result
 * @module
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { shared } from '../src/pool/index.js'
import { monotonicMs } from './fixtures/pool-bodies.mjs'
import type { BenchCase, Benchmark, CaseResult, Probe, RunInfo } from './lib/harness.js'
import { gc, median, rotated, splitInterleaved } from './lib/harness.js'
import type { Row, TargetCheck } from './lib/pool-report.js'
import {
  compact,
  fixed,
  grouped,
  note,
  percent,
  perRep,
  printTable,
  printTargets,
  ratio,
} from './lib/pool-report.js'
import { compiledPool, sourceVersion } from './lib/compiled.js'
import { AtomicsChannel, RawPool, SpinChannel } from './lib/pool-raw.js'
import { spinCpuMs, spinPerMs } from './lib/pool-spin.js'
import type { SubjectName } from './lib/pool-subjects.js'
import { open, WORKERS } from './lib/pool-subjects.js'

const K = 1_000

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong result: ${what}`)
}

/** The p-quantile (0..1) of samples, nearest rank. */
function quantile(samples: Float64Array, p: number): number {
  const s = Float64Array.from(samples).sort()
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
}

function ignore(): void {}

// ---- 1. tiny tasks ------------------------------------------------------------------------------

/** n tiny tasks submitted in one synchronous loop, then all awaited. */
async function tiny(name: SubjectName, n: number, p: Probe): Promise<void> {
  const s = await open(name)
  const all = new Array<PromiseLike<number>>(n)
  // collect, then run a tenth of n untimed, then time without collecting: a forced GC right before
  // the timed part deoptimizes the path (roundTrips); every subject alike
  gc()
  await Promise.all(Array.from({ length: Math.ceil(n / 10) }, (_, i) => s.run('inc', i)))
  p.start({ gc: false })
  for (let i = 0; i < n; i++) all[i] = s.run('inc', i)
  const results = await Promise.all(all)
  p.stop()
  check(results[n - 1] === n, `inc(${n - 1}) gave ${results[n - 1]}`)
  await s.close()
}

/** The raw pool with the tasks packed 1,000 to a message: one promise per message. */
async function tinyBatched(n: number, p: Probe): Promise<void> {
  const pool = await RawPool.open(WORKERS, 'coalesced')
  await Promise.all([pool.runBatch('inc', [1, 2]), pool.runBatch('inc', [3, 4])])
  const batches: Promise<number[]>[] = []
  p.start()
  for (let from = 0; from < n; from += 1000) {
    const args: number[] = []
    for (let i = from; i < Math.min(n, from + 1000); i++) args.push(i)
    batches.push(pool.runBatch('inc', args))
  }
  const results = await Promise.all(batches)
  p.stop()
  const last = results[results.length - 1]!
  check(last[last.length - 1] === n, 'last batch')
  await pool.close()
}

/**
 * Heap per queued task: n tasks submitted in one synchronous loop, then a forced GC while none can
 * have completed (no result can arrive before the loop yields). Then the pool is destroyed.
 */
async function queuedMemory(name: SubjectName, n: number, p: Probe): Promise<void> {
  const s = await open(name)
  const all = new Array<PromiseLike<number> | undefined>(n).fill(undefined)
  p.start()
  for (let i = 0; i < n; i++) all[i] = s.run('inc', i)
  p.stop()
  p.heapDelta()
  for (const task of all) task!.then(undefined, ignore)
  await s.destroy()
}

// ---- 2. sequential round trip -------------------------------------------------------------------

/**
 * Untimed round trips before the timed ones, every subject alike: each repetition starts a new
 * pool, whose workers' code V8 has not optimised yet; with 500 the p50 of a taskos pool moved
 * between 12 and 20 µs from one repetition to the next, with 4,000 it stays at the steady state
 * of a long-running pool (as bench/cluster.ts warms its round trips).
 */
const RT_WARM = 4000

/**
 * n sequential calls of `inc` (each awaited before the next) after an untimed warm-up; notes the
 * p50 and p99 in µs. `inc` may answer synchronously (the Atomics baseline blocks for its reply).
 */
async function roundTrips(
  inc: (x: number) => number | PromiseLike<number>,
  n: number,
  p: Probe,
): Promise<void> {
  // the forced full GC before the warm-up, not between it and the timed part: a forced gc() between
  // two round trips finds none of their objects alive, their maps die, and V8 deoptimizes the code
  // built on them (p50 of the next 3,000 round trips: taskos +50%, piscina +15%, raw +3%; natural
  // major GCs do not do this: docs/benchmarks.md, pool)
  gc()
  for (let i = 0; i < Math.min(RT_WARM, n); i++) await inc(i)
  const samples = new Float64Array(n)
  let sum = 0
  p.start({ gc: false })
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = inc(i)
    sum += typeof r === 'number' ? r : await r
    samples[i] = performance.now() - t0
  }
  p.stop()
  check(sum === (n * (n + 1)) / 2, 'sum of inc')
  p.note('p50', quantile(samples, 0.5) * 1000)
  p.note('p99', quantile(samples, 0.99) * 1000)
}

async function roundTrip(name: SubjectName, n: number, p: Probe): Promise<void> {
  const s = await open(name)
  await roundTrips((x) => s.run('inc', x), n, p)
  await s.close()
}

/** The same through a SharedArrayBuffer: Atomics.notify, then Atomics.wait for the reply. */
async function roundTripAtomics(n: number, p: Probe): Promise<void> {
  const channel = await AtomicsChannel.open()
  await roundTrips((x) => channel.inc(x), n, p)
  await channel.close()
}

/** The same by message each way, the worker spinning on a doorbell between tasks (one wake-up). */
async function roundTripSpin(n: number, p: Probe): Promise<void> {
  const channel = await SpinChannel.open()
  await roundTrips((x) => channel.inc(x), n, p)
  await channel.close()
}

// ---- 3. CPU-bound tasks -------------------------------------------------------------------------

/** Iterations of the busy loop that take about 5 ms of CPU (calibrated once per run). */
const TASK_MS = 5
const SPIN_PER_MS = spinPerMs()
const SPIN = Math.round(TASK_MS * SPIN_PER_MS)

/**
 * n busy-loop tasks submitted at once. Notes the CPU work they held (`workMs`): n × the CPU time of
 * one task, measured on this thread just before and just after (mean of the two medians; the
 * report takes the median over every subject, see taskMs), and `nominalMs`, n × the calibrated 5 ms.
 */
async function cpuBound(name: SubjectName, n: number, p: Probe): Promise<void> {
  const s = await open(name)
  await Promise.all(Array.from({ length: 2 * WORKERS }, () => s.run('spin', SPIN)))
  const all = new Array<PromiseLike<number>>(n)
  const before = spinCpuMs(SPIN, 7)
  p.start()
  for (let i = 0; i < n; i++) all[i] = s.run('spin', SPIN)
  const results = await Promise.all(all)
  p.stop()
  const after = spinCpuMs(SPIN, 7)
  check(
    results.every((x) => x === results[0]),
    'spin results',
  )
  p.note('workMs', (n * (before + after)) / 2)
  p.note('nominalMs', n * TASK_MS)
  await s.close()
}

// ---- 4. 64 MiB hand-over ------------------------------------------------------------------------

const BIG = 8 * 1024 * 1024 // Float64 elements: 64 MiB

type Way = 'clone' | 'transfer' | 'shared'

/**
 * Round trips after each hand-over's forced GC, before it is timed (every subject alike): without
 * them taskos's shared hand-over read 0.45 ms against 0.06 ms warm (raw: 0.15 against 0.07).
 */
const HAND_REWARM = 3000

/**
 * n hand-overs of a fresh 64 MiB Float64Array (filled, so its pages are real). Notes, medians
 * over the n: hand-over ms (from `run` until the body in the worker has read the array's last
 * element), round trip ms (until the result is back), and process CPU ms per hand-over.
 */
async function handOver(name: 'taskos' | 'raw-each', way: Way, n: number, p: Probe): Promise<void> {
  const s = await open(name, 1, 10)
  const hand = new Float64Array(n)
  const trip = new Float64Array(n)
  const cpu = new Float64Array(n)
  p.start()
  for (let i = 0; i < n; i++) {
    const array =
      way !== 'shared'
        ? new Float64Array(BIG)
        : name === 'taskos'
          ? shared.float64(BIG)
          : new Float64Array(new SharedArrayBuffer(BIG * 8))
    array.fill(1.5)
    gc() // the arrays of earlier hand-overs are garbage: collect them outside the timed part
    // then the path runs warm again, as in an application (a forced GC deoptimizes it: roundTrips)
    for (let k = 0; k < HAND_REWARM; k++) await s.run('inc', k)
    const c0 = cpuMs()
    const t0 = monotonicMs()
    const at = await s.run(
      'receivedAt',
      array,
      way === 'transfer' ? [array.buffer as ArrayBuffer] : undefined,
    )
    trip[i] = monotonicMs() - t0
    cpu[i] = cpuMs() - c0
    hand[i] = at - t0
    check(at > 0, 'the last element arrived')
  }
  p.stop()
  p.note('handMs', quantile(hand, 0.5))
  p.note('tripMs', quantile(trip, 0.5))
  p.note('cpuMs', quantile(cpu, 0.5))
  await s.close()
}

// ---- 5. new pool → first result ---------------------------------------------------------------

const execFileAsync = promisify(execFile)
const PROBE = fileURLToPath(new URL('./fixtures/pool-startup.mjs', import.meta.url))
/** taskos from its TypeScript sources: the pool, and the task module that imports it. */
const SOURCE = {
  pool: new URL('../src/pool/index.ts', import.meta.url).href,
  tasks: new URL('./fixtures/pool-tasks.ts', import.meta.url).href,
}

/** Who starts in the start-up probe, and how. */
const STARTERS = ['taskos-js', 'taskos-tsx', 'piscina', 'tinypool', 'workerpool', 'raw'] as const
type Starter = (typeof STARTERS)[number]

/** Rounds of the interleaved start-up case (1 with --quick): each subject runs once in each place. */
const STARTUP_ROUNDS = 6

/** What one probe process measured: its cold start, then one figure per new pool. */
interface ProbeRun {
  cold: number
  ms: number[]
  cpuMs: number[]
}

/**
 * Runs the probe (`bench/fixtures/pool-startup.mjs`) once in a fresh node process: one cold start,
 * then `pools` new pools one after the other, each until its first result. Plain `node` for every
 * subject but taskos from its sources, which needs `--import tsx`. Undefined, said aloud, when the
 * probe died twice.
 */
async function probeOnce(who: Starter, pools: number): Promise<ProbeRun | undefined> {
  const taskos = who === 'taskos-js' ? await compiledPool() : SOURCE
  const subject = who.startsWith('taskos') ? 'taskos' : who
  const execArgv = who === 'taskos-tsx' ? ['--import', 'tsx'] : []
  // Node 20.19+ sometimes aborts (`CreateRequiredModuleFacade` or `IsGraphAsync` assertions) when
  // piscina's worker require()s an ES module task file: a second try, said aloud
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const { stdout } = await execFileAsync(process.execPath, [...execArgv, PROBE, subject, String(pools)], {
        env: { ...process.env, TASKOS_BENCH_POOL_URL: taskos.pool, TASKOS_BENCH_TASKS_URL: taskos.tasks },
      })
      return JSON.parse(stdout.trim().split('\n').pop()!) as ProbeRun
    } catch (error) {
      const why = (error as Error).message.split('\n')[0]
      process.stderr.write(
        `\n  startup/${who}: the probe died (${why}); ${attempt === 1 ? 'once more' : 'this round goes without it'}\n`,
      )
    }
  }
  return undefined
}

/**
 * Every subject's start-up, interleaved: rounds of one probe process per subject, the subjects
 * taking turns in an order that rotates from round to round, so that a slow stretch of this shared
 * machine weighs on all of them alike (one case per subject ran each subject's pools a minute
 * apart from the others'; in a fixed order taskos always ran first, right after the previous
 * round's last probe). Notes, per subject
 * (`<who>:ms`, `<who>:cpuMs`, `<who>:cold`, `<who>:pools`), the median over every pool of every
 * round, and over the cold starts (a subject whose probe died in every round has none: its
 * figures read NaN).
 */
async function startup(pools: number, p: Probe): Promise<void> {
  const rounds = pools === 1 ? 1 : STARTUP_ROUNDS
  const runs = new Map<Starter, ProbeRun[]>(STARTERS.map((who) => [who, []]))
  p.start()
  for (let round = 0; round < rounds; round++) {
    for (const who of rotated(STARTERS, round)) {
      const run = await probeOnce(who, pools)
      if (run !== undefined) runs.get(who)!.push(run)
    }
  }
  p.stop()
  for (const [who, list] of runs) {
    p.note(`${who}:ms`, median(list.flatMap((r) => r.ms)))
    p.note(`${who}:cpuMs`, median(list.flatMap((r) => r.cpuMs)))
    p.note(`${who}:cold`, median(list.map((r) => r.cold)))
    p.note(`${who}:pools`, list.length * pools)
  }
}

// ---- the cases ----------------------------------------------------------------------------------

const PEERS = ['piscina', 'tinypool', 'workerpool'] as const

function rate(
  id: string,
  n: number,
  quickN: number,
  run: (n: number, p: Probe) => Promise<void>,
  reps?: number,
): BenchCase {
  return reps === undefined
    ? { id, kind: 'rate', n, quickN, run }
    : { id, kind: 'rate', n, quickN, reps, run }
}

const TINY = 200 * K

const cases: BenchCase[] = [
  rate('tiny/taskos', TINY, 2 * K, (n, p) => tiny('taskos', n, p)),
  // the peers take 4-30 s per 200,000 (their queues slow down as they grow): tinypool and workerpool
  // run once; piscina, the target's yardstick, 3 times (its rate moves with the machine's thread
  // wake-up latency: it keeps one task per worker in flight)
  ...PEERS.map((name) =>
    rate(`tiny/${name}`, TINY, 2 * K, (n, p) => tiny(name, n, p), name === 'piscina' ? 3 : 1),
  ),
  rate('tiny/raw-each', TINY, 2 * K, (n, p) => tiny('raw-each', n, p)),
  rate('tiny/raw-coalesced', TINY, 2 * K, (n, p) => tiny('raw-coalesced', n, p)),
  rate('tiny/raw-batch1000', TINY, 2 * K, tinyBatched),

  // tinypool and workerpool reject queued tasks on destroy in time quadratic in the queue (17 s for
  // 200,000): they queue 20,000
  ...(['taskos', ...PEERS, 'raw-coalesced'] as const).map((name): BenchCase => ({
    id: `memory/${name}`,
    kind: 'memory',
    n: name === 'tinypool' || name === 'workerpool' ? TINY / 10 : TINY,
    quickN: 2 * K,
    run: (n, p) => queuedMemory(name, n, p),
  })),

  ...(['taskos', ...PEERS, 'piscina-atomics-async', 'piscina-atomics-disabled', 'raw-each'] as const).map(
    (name) => rate(`round-trip/${name}`, 5 * K, 200, (n, p) => roundTrip(name, n, p), 3),
  ),
  rate('round-trip/raw-spin', 5 * K, 200, roundTripSpin, 3),
  rate('round-trip/raw-atomics', 5 * K, 200, roundTripAtomics, 3),

  ...(['taskos', ...PEERS, 'raw-each'] as const).map((name) =>
    rate(`cpu/${name}`, 400, 20, (n, p) => cpuBound(name, n, p), 3),
  ),

  ...(['taskos', 'raw-each'] as const).flatMap((name) =>
    (['clone', 'transfer', 'shared'] as const).map((way) =>
      rate(`hand-over/${name}-${way}`, 5, 1, (n, p) => handOver(name, way, n, p), 3),
    ),
  ),

  // rounds of one probe process per subject, the subjects taking turns, n new pools in each
  rate('startup/interleaved', 5, 1, startup, 1),
]

// ---- the report ---------------------------------------------------------------------------------

const LABEL: Record<SubjectName | 'raw-batch1000' | 'raw-atomics' | 'raw-spin', string> = {
  taskos: 'taskos Pool, defineTask',
  piscina: 'piscina',
  'piscina-atomics-async': "piscina, atomics: 'async' (Atomics.waitAsync)",
  'piscina-atomics-disabled': "piscina, atomics: 'disabled' (messages only)",
  tinypool: 'tinypool',
  workerpool: 'workerpool',
  'raw-each': 'raw: one postMessage per task',
  'raw-coalesced': 'raw: promise per task, coalesced per microtask',
  'raw-batch1000': 'raw: 1,000 tasks per message',
  'raw-atomics': 'raw: Atomics.wait / notify',
  'raw-spin': 'raw: MessagePort, worker spins ≤ 50 µs',
}

function rows(metric: string, names: readonly string[], labels: Record<string, string> = LABEL): Row[] {
  return names.map((name) => ({ id: `${metric}/${name}`, label: labels[name] ?? name }))
}

const ALL = ['taskos', ...PEERS, 'raw-each', 'raw-coalesced', 'raw-batch1000']

/** Tasks per second (wall) of each repetition, median. */
function perSec(r: CaseResult | undefined): number {
  return perRep(r, (w) => (r!.n * 1000) / w)
}

function perCpuSec(r: CaseResult | undefined): number {
  return perRep(r, (_w, c) => (r!.n * 1000) / c)
}

/**
 * The CPU time of one busy-loop task (ms): every subject runs the same loop, so the median of what
 * all of them measured around their runs (one subject's calibration can catch a slow stretch of
 * the VM: once 6.17 ms against 4.99–5.01 for the others, in the same run).
 */
function taskMs(results: ReadonlyMap<string, CaseResult>): number {
  const all: number[] = []
  for (const [id, r] of results)
    if (id.startsWith('cpu/')) for (const w of r.notes?.['workMs'] ?? []) all.push(w / r.n)
  return median(all)
}

/** Work ÷ the 2 workers' wall time. */
function efficiency(r: CaseResult | undefined, ms: number): number {
  return perRep(r, (w) => (r!.n * ms) / (WORKERS * w))
}

/** Work ÷ the CPU time the process got (all its threads). */
function efficiencyOfCpu(r: CaseResult | undefined, ms: number): number {
  return perRep(r, (_w, c) => (r!.n * ms) / c)
}

/** CPU the process got ÷ what 2 cores give in the wall time. */
function cpuShare(r: CaseResult | undefined): number {
  return perRep(r, (w, c) => c / (WORKERS * w))
}

function report(measured: ReadonlyMap<string, CaseResult>, run: RunInfo): void {
  // the start-up case as one result per subject (`startup/<who>`; n: the pools timed)
  const results = splitInterleaved(measured, 'startup/interleaved', STARTERS, (pick, r) => ({
    n: pick('pools')[0] ?? r.n,
    notes: { ms: pick('ms'), cpuMs: pick('cpuMs'), cold: pick('cold') },
  }))
  const get = (id: string): CaseResult | undefined => results.get(id)
  console.log(
    `2 worker threads per subject; medians of repetitions; "taskos ÷" columns divide taskos's figure by the row's`,
  )
  console.log(`taskos measured: ${sourceVersion()}`)
  if (run.quick) console.log('--quick: small n, figures are a smoke test, not measurements')

  const tinyTaskos = get('tiny/taskos')
  printTable(
    '1. Tiny tasks x => x + 1, all submitted at once, all awaited',
    ['n', 'reps', 'wall ms', 'CPU ms', 'tasks/s', 'tasks/CPU-s', 'taskos ÷', 'taskos ÷ (CPU)'],
    rows('tiny', ALL),
    results,
    (r) => [
      grouped(r.n),
      String(r.wallMs.length),
      fixed(median(r.wallMs), 1),
      fixed(median(r.cpuMs), 1),
      compact(perSec(r)),
      compact(perCpuSec(r)),
      r === tinyTaskos ? '' : ratio(perSec(tinyTaskos), perSec(r)),
      r === tinyTaskos ? '' : ratio(perCpuSec(tinyTaskos), perCpuSec(r)),
    ],
  )

  const memTaskos = get('memory/taskos')
  const bytes = (r: CaseResult | undefined): number => median(r?.bytesPerTask ?? [])
  printTable(
    '1b. Heap per queued task (submitted, none completed yet; after forced GC)',
    ['n', 'B/task', 'submit/s', 'taskos ÷'],
    rows('memory', ['taskos', ...PEERS, 'raw-coalesced']),
    results,
    (r) => [
      grouped(r.n),
      grouped(bytes(r)),
      compact(perSec(r)),
      r === memTaskos ? '' : ratio(bytes(memTaskos), bytes(r)),
    ],
  )

  const rtTaskos = get('round-trip/taskos')
  printTable(
    '2. Sequential round trip of one tiny task (each awaited before the next)',
    ['n', 'reps', 'p50 µs', 'p99 µs', 'mean µs', 'CPU µs', 'taskos ÷ (p50)'],
    rows(
      'round-trip',
      [
        'taskos',
        ...PEERS,
        'piscina-atomics-async',
        'piscina-atomics-disabled',
        'raw-each',
        'raw-spin',
        'raw-atomics',
      ],
      {
        ...LABEL,
        'raw-each': 'raw: MessagePort (worker.postMessage)',
      },
    ),
    results,
    (r) => [
      grouped(r.n),
      String(r.wallMs.length),
      fixed(note(r, 'p50'), 1),
      fixed(note(r, 'p99'), 1),
      fixed(
        perRep(r, (w) => (w * 1000) / r.n),
        1,
      ),
      fixed(
        perRep(r, (_w, c) => (c * 1000) / r.n),
        1,
      ),
      r === rtTaskos ? '' : ratio(note(rtTaskos, 'p50'), note(r, 'p50')),
    ],
  )

  const cpuTaskos = get('cpu/taskos')
  const oneTask = taskMs(results)
  printTable(
    `3. CPU-bound: tasks of ~${TASK_MS} ms CPU (${grouped(SPIN)} busy-loop iterations) on ${WORKERS} workers`,
    [
      'tasks',
      'ms/task',
      'work ms',
      'wall ms',
      'CPU ms',
      'CPU share',
      'eff. (wall)',
      'eff. (CPU)',
      'taskos ÷ (eff. CPU)',
    ],
    rows('cpu', ['taskos', ...PEERS, 'raw-each']),
    results,
    (r) => [
      grouped(r.n),
      fixed(note(r, 'workMs') / r.n, 2),
      grouped(r.n * oneTask),
      fixed(median(r.wallMs), 1),
      fixed(median(r.cpuMs), 1),
      percent(cpuShare(r)),
      percent(efficiency(r, oneTask)),
      percent(efficiencyOfCpu(r, oneTask)),
      r === cpuTaskos ? '' : ratio(efficiencyOfCpu(cpuTaskos, oneTask), efficiencyOfCpu(r, oneTask)),
    ],
  )

  const ways = [
    'taskos-clone',
    'taskos-transfer',
    'taskos-shared',
    'raw-each-clone',
    'raw-each-transfer',
    'raw-each-shared',
  ]
  printTable(
    '4. A 64 MiB Float64Array handed to a worker (medians over hand-overs and repetitions)',
    ['hand-overs', 'hand-over ms', 'round trip ms', 'CPU ms'],
    rows('hand-over', ways, {
      'taskos-clone': 'taskos, copied (structured clone)',
      'taskos-transfer': 'taskos, { transfer: [buffer] }',
      'taskos-shared': 'taskos, shared.float64 (SharedArrayBuffer)',
      'raw-each-clone': 'raw postMessage, copied',
      'raw-each-transfer': 'raw postMessage, transferred',
      'raw-each-shared': 'raw postMessage, SharedArrayBuffer',
    }),
    results,
    (r) => [
      grouped(r.n * r.wallMs.length),
      fixed(note(r, 'handMs'), 3),
      fixed(note(r, 'tripMs'), 3),
      fixed(note(r, 'cpuMs'), 1),
    ],
  )

  const startTaskos = get('startup/taskos-js')
  printTable(
    `5. New pool (${WORKERS} workers) → first result, in a fresh node process per subject; the subjects take turns`,
    ['pools', 'ms', 'CPU ms', 'cold ms', 'taskos ÷'],
    rows('startup', STARTERS, {
      ...LABEL,
      'taskos-js': 'taskos Pool, compiled JS',
      'taskos-tsx': 'taskos Pool, TS sources (node --import tsx)',
      raw: 'raw: 2 × new Worker',
    }),
    results,
    (r) => [
      grouped(r.n),
      fixed(note(r, 'ms'), 1),
      fixed(note(r, 'cpuMs'), 1),
      fixed(note(r, 'cold'), 1),
      r === startTaskos ? '' : ratio(note(startTaskos, 'ms'), note(r, 'ms')),
    ],
  )

  const tinyRatio = perSec(tinyTaskos) / perSec(get('tiny/piscina'))
  const memBytes = bytes(memTaskos)
  const rtRatio = note(rtTaskos, 'p50') / note(get('round-trip/piscina'), 'p50')
  const eff = efficiencyOfCpu(cpuTaskos, oneTask)
  const sharedMs = note(get('hand-over/taskos-shared'), 'handMs')
  const startRatio = note(startTaskos, 'ms') / note(get('startup/piscina'), 'ms')
  const checks: TargetCheck[] = [
    {
      label: 'tiny tasks: taskos ÷ piscina',
      goal: '≥ 20x',
      value: tinyRatio,
      shown: ratio(tinyRatio, 1),
      aside: `per CPU-s ${ratio(perCpuSec(tinyTaskos), perCpuSec(get('tiny/piscina')))}`,
      met: tinyRatio >= 20,
    },
    {
      label: 'heap per queued task',
      goal: '≤ 1,024 B',
      value: memBytes,
      shown: `${grouped(memBytes)} B`,
      aside: `workerpool ${grouped(bytes(get('memory/workerpool')))} B`,
      met: memBytes <= 1024,
    },
    {
      label: 'round trip p50: taskos ÷ piscina',
      goal: '≤ 0.5x',
      value: rtRatio,
      shown: ratio(rtRatio, 1),
      aside: `${fixed(note(rtTaskos, 'p50'), 1)} vs ${fixed(note(get('round-trip/piscina'), 'p50'), 1)} µs`,
      met: rtRatio <= 0.5,
    },
    {
      label: 'CPU-bound efficiency, of the CPU the process got',
      goal: '≥ 95%',
      value: eff,
      shown: percent(eff),
      aside: `of 2 × wall ${percent(efficiency(cpuTaskos, oneTask))}; CPU share ${percent(cpuShare(cpuTaskos))}`,
      met: eff >= 0.95,
    },
    {
      label: '64 MiB hand-over through shared.float64',
      goal: '≤ 1 ms',
      value: sharedMs,
      shown: `${fixed(sharedMs, 3)} ms`,
      aside: `round trip ${fixed(note(get('hand-over/taskos-shared'), 'tripMs'), 3)} ms`,
      met: sharedMs <= 1,
    },
    {
      label: 'new pool → first result: taskos ÷ piscina',
      goal: '≤ 1.00x',
      value: startRatio,
      shown: ratio(startRatio, 1),
      aside: `${fixed(note(startTaskos, 'ms'), 1)} vs ${fixed(note(get('startup/piscina'), 'ms'), 1)} ms (compiled JS)`,
      met: startRatio <= 1,
    },
  ]
  printTargets(checks)
}

/** The pool benchmark. */
export const benchmark: Benchmark = { name: 'pool', cases, report }
