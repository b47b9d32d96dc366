/**
 * `taskos demo`: a few-second tour on the embedded default (an in-process kernel and a local pool
 * of worker threads; no server). Every number it prints is measured in this run; every result is
 * checked.
 *
 * 0. The pool: counting primes with one task function, first in-process, then partitioned across
 *    every core with live progress, and the measured speed-up.
 * 1. 100,000 light generator tasks parked in `receive`: spawn rate and heap bytes per task.
 * 2. A message to every one of them, and a join of all.
 * 3. Ping-pong between two tasks: round trips per second (generator and async bodies).
 * 4. COS Dispatch: lazily pulled jobs, 3 at a time, a collector, results in job order.
 * 5. Structured concurrency: a failing child fails its parent and its siblings are cancelled;
 *    cancelling a parent cancels its children.
 * 6. Supervision: a flaky task restarted until it succeeds; a hopeless one hits the restart limit.
 * @module
 */
import { Command, InvalidArgumentError } from 'commander'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { availableParallelism } from 'node:os'
import { Kernel, TaskosError } from '../kernel/index.js'
import type { Job, KernelTask, Task, TaskContext } from '../kernel/index.js'
import { Pool } from '../pool/index.js'
import { countPrimes } from './demo-tasks.js'
import { packageVersion } from './version.js'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where output lines go. @default console.log */
  out?: (line: string) => void
  /**
   * Multiplies the task and message counts (100,000 tasks and 300,000 round trips at 1); the
   * dispatch, structured-concurrency and supervision parts do not change. @default 1
   */
  scale?: number
}

/** The numbers a demo run measured (also printed). */
export interface DemoReport {
  /** Light tasks spawned in part 1. */
  tasks: number
  /** Spawns per second in part 1. */
  spawnsPerSecond: number
  /** Heap bytes per parked task, or undefined when no garbage collector could be reached. */
  bytesPerTask: number | undefined
  /** Ping-pong round trips per second between two generator tasks. */
  roundTripsPerSecond: number
  /** Dispatch results, in job order. */
  dispatchResults: number[]
  /** Starts of the flaky supervised task (fails twice, then succeeds: 3). */
  flakyStarts: number
  /** Primes counted, in-process and on the pool (the same number). */
  primes: number
  /** In-process time ÷ pool time for the prime count. */
  speedUp: number
}

const DEFAULTS = Object.freeze({ scale: 1, tasks: 100_000, roundTrips: 300_000, primesBelow: 3_000_000 })

/**
 * Runs the demo on a fresh kernel and closes it. Takes a few seconds at scale 1.
 * @throws ERR_INVALID_OPTION for a scale that is not a positive finite number; any error means a
 *   check failed (the demo verifies its results).
 * @example
 * const lines: string[] = []
 * await runDemo({ scale: 0.01, out: (line) => lines.push(line) })
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const say = options.out ?? defaultSay
  const scale = options.scale ?? DEFAULTS.scale
  if (typeof scale !== 'number' || !Number.isFinite(scale) || !(scale > 0)) {
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option scale: ${String(scale)} (expected a number > 0)`,
    )
  }
  const tasks = Math.max(100, Math.round(DEFAULTS.tasks * scale))
  const roundTrips = Math.max(100, Math.round(DEFAULTS.roundTrips * scale))

  say(
    `taskos ${packageVersion()} demo: an in-process kernel and a local pool of worker threads ` +
      `(no server), Node ${process.version} ${process.platform}/${process.arch}`,
  )
  const { primes, speedUp } = await poolPart(say, Math.max(10_000, Math.round(DEFAULTS.primesBelow * scale)))
  const k = new Kernel()
  try {
    const light = await lightTasks(k, say, tasks)
    const roundTripsPerSecond = await pingPong(k, say, roundTrips)
    const dispatchResults = await dispatchJobs(k, say)
    await structured(k, say)
    const flakyStarts = await supervision(k, say)
    const s = k.stats()
    say('')
    say(
      `kernel stats: ${fmt(s.spawned)} tasks spawned, ${fmt(s.tasks.done)} done, ` +
        `${fmt(s.tasks.failed)} failed, ${fmt(s.tasks.cancelled)} cancelled, ${fmt(s.messages)} messages, ` +
        `${s.tasks.running} still running`,
    )
    return { ...light, roundTripsPerSecond, dispatchResults, flakyStarts, primes, speedUp }
  } finally {
    await k.close()
  }
}

// ---- 0: the pool -----------------------------------------------------------------------------------

async function poolPart(
  say: (line: string) => void,
  limit: number,
): Promise<{ primes: number; speedUp: number }> {
  const cores = availableParallelism()
  say('')
  say(`0. the pool: primes below ${fmt(limit)}, one task function run two ways`)
  const k = new Kernel()
  let t0 = performance.now()
  const alone = await k.spawn(countPrimes, [limit]).join()
  const aloneMs = performance.now() - t0
  await k.close()
  say(`   in this thread, as a kernel task:       ${fmt(alone)} primes in ${ms(aloneMs)}`)
  const pool = new Pool({ workers: cores })
  try {
    await pool.run(countPrimes, [10]) // workers up and the module loaded: time the work, not the start
    const parts = cores * 4
    const done = new Map<number, number>()
    let shown = 0
    const tty = process.stdout.isTTY && say === defaultSay
    pool.on('progress', ({ task, done: d }) => {
      done.set(task.id, d)
      let sum = 0
      for (const v of done.values()) sum += v
      const pct = Math.floor((sum / limit) * 100)
      if (tty) process.stdout.write(`\r   progress: ${bar(pct)} ${pct}%`)
      else if (pct >= shown + 25 && pct < 100) {
        shown = pct - (pct % 25)
        say(`   progress: ${shown}% (${fmt(sum)} of ${fmt(limit)} numbers checked)`)
      }
    })
    t0 = performance.now()
    const counts = await pool.partition(countPrimes, limit, [limit], { parts })
    const poolMs = performance.now() - t0
    if (tty) process.stdout.write('\r' + ' '.repeat(60) + '\r')
    const total = counts.reduce((a, b) => a + b, 0)
    if (total !== alone)
      throw new Error(`demo check failed: the pool counted ${total} primes, the kernel ${alone}`)
    const speedUp = aloneMs / poolMs
    say(
      `   on ${cores} worker threads, ${parts} parts:       ${fmt(total)} primes in ${ms(poolMs)} (same count: checked)`,
    )
    say(
      `   speed-up: ${speedUp.toFixed(2)}× on ${cores} cores (${Math.round((speedUp / cores) * 100)}% parallel efficiency)`,
    )
    return { primes: total, speedUp }
  } finally {
    await pool.close()
  }
}

function bar(pct: number): string {
  const width = 30
  const full = Math.round((pct / 100) * width)
  return '[' + '#'.repeat(full) + '.'.repeat(width - full) + ']'
}

const defaultSay = (line: string): void => console.log(line)

// ---- 1 + 2: many light tasks ---------------------------------------------------------------------

function* parked(t: TaskContext): Generator<unknown, number> {
  const n = yield* t.receive<number>()
  return n * 2
}

async function lightTasks(
  k: Kernel,
  say: (line: string) => void,
  n: number,
): Promise<Pick<DemoReport, 'tasks' | 'spawnsPerSecond' | 'bytesPerTask'>> {
  say('')
  say(`1. ${fmt(n)} light tasks, each a generator parked in t.receive()`)
  const gc = findGc()
  const heapBefore = gc === undefined ? 0 : heapAfterGc(gc)
  const all: KernelTask<number>[] = []
  const t0 = performance.now()
  for (let i = 0; i < n; i++) all.push(k.spawn(parked))
  const spawnMs = performance.now() - t0
  const spawnsPerSecond = perSecond(n, spawnMs)
  say(`   spawned in ${ms(spawnMs)}: ${rate(spawnsPerSecond)} spawns/s (each ran to its receive)`)
  let bytesPerTask: number | undefined
  if (gc !== undefined) {
    bytesPerTask = Math.round((heapAfterGc(gc) - heapBefore) / n)
    say(`   memory: ${fmt(bytesPerTask)} bytes of heap per parked task (growth after a full GC)`)
  }
  const parkedNow = all.filter((task) => task.status === 'running').length
  if (parkedNow !== n) throw new Error(`demo check failed: ${parkedNow} of ${n} tasks are parked`)

  say('')
  say(`2. a message to each of the ${fmt(n)} tasks, then a join of every one`)
  const t1 = performance.now()
  for (let i = 0; i < n; i++) all[i]!.send(i)
  let sum = 0
  for (const task of all) sum += await task.join()
  const msgMs = performance.now() - t1
  const expected = n * (n - 1) // sum of 2i for i < n
  if (sum !== expected) throw new Error(`demo check failed: the tasks returned ${sum}, not ${expected}`)
  say(
    `   all woke, answered and were joined in ${ms(msgMs)}: ${rate(perSecond(n, msgMs))} tasks/s ` +
      `(sum of answers ${fmt(sum)}: correct)`,
  )
  return { tasks: n, spawnsPerSecond, bytesPerTask }
}

/** A full garbage collection, if one can be reached: `--expose-gc`, else V8's flag at run time. */
function findGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc
  if (typeof exposed === 'function') return exposed as () => void
  try {
    // The same trick jest's leak detector uses: expose gc to a fresh context and take it from there.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as unknown
    return typeof gc === 'function' ? (gc as () => void) : undefined
  } catch {
    return undefined
  }
}

function heapAfterGc(gc: () => void): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

// ---- 3: ping-pong ----------------------------------------------------------------------------------

type Ping = readonly [from: Task, n: number]

async function pingPong(k: Kernel, say: (line: string) => void, n: number): Promise<number> {
  say('')
  say(`3. ping-pong: ${fmt(n)} round trips between two tasks`)
  // generator bodies: the kernel resumes them from its own run queue, no promise per message
  const genPong = k.spawn(function* (t) {
    for (;;) {
      const [from, i] = yield* t.receive<Ping>()
      if (i < 0) return
      from.send(i)
    }
  })
  let t0 = performance.now()
  const genSum = await k
    .spawn(
      function* (t, rounds: number) {
        let s = 0
        for (let i = 0; i < rounds; i++) {
          genPong.send([t.task, i] satisfies Ping)
          s += yield* t.receive<number>()
        }
        genPong.send([t.task, -1] satisfies Ping)
        return s
      },
      [n],
    )
    .join()
  const genRate = perSecond(n, performance.now() - t0)
  await genPong.join()

  // the same with async bodies: each wait is a promise
  const asyncPong = k.spawn(async (t) => {
    for (;;) {
      const [from, i] = await t.receive<Ping>()
      if (i < 0) return
      from.send(i)
    }
  })
  t0 = performance.now()
  const asyncSum = await k
    .spawn(
      async (t, rounds: number) => {
        let s = 0
        for (let i = 0; i < rounds; i++) {
          asyncPong.send([t.task, i] satisfies Ping)
          s += await t.receive<number>()
        }
        asyncPong.send([t.task, -1] satisfies Ping)
        return s
      },
      [n],
    )
    .join()
  const asyncRate = perSecond(n, performance.now() - t0)
  await asyncPong.join()

  const expected = (n * (n - 1)) / 2
  if (genSum !== expected || asyncSum !== expected)
    throw new Error('demo check failed: ping-pong lost a ball')
  say(`   generator tasks: ${rate(genRate)} round trips/s (${rate(2 * genRate)} messages/s)`)
  say(`   async tasks:     ${rate(asyncRate)} round trips/s (${rate(2 * asyncRate)} messages/s)`)
  return genRate
}

// ---- 4: dispatch -------------------------------------------------------------------------------------

function* square(t: TaskContext, x: number, delay: number): Generator<unknown, number> {
  yield* t.sleep(delay) // stands in for real work of varying length
  return x * x
}

async function dispatchJobs(k: Kernel, say: (line: string) => void): Promise<number[]> {
  const delays = [60, 10, 35, 5, 40, 15, 5, 20]
  say('')
  say(`4. COS dispatch: ${delays.length} jobs pulled lazily from a generator, 3 at a time, with a collector`)
  let pulled = 0
  function* jobs(): Generator<Job<typeof square>> {
    for (const [i, delay] of delays.entries()) {
      pulled++
      yield { fn: square, args: [i, delay], extra: `job-${i}` }
    }
  }
  const seen: string[] = []
  const t0 = performance.now()
  const results = await k.dispatch(jobs(), {
    concurrency: 3,
    results: true,
    collector: ({ index, value }) => seen.push(`#${index}=${value}`),
  })
  const wall = performance.now() - t0
  const expected = delays.map((_, i) => i * i)
  if (pulled !== delays.length || results.join() !== expected.join()) {
    throw new Error(`demo check failed: dispatch gave ${results.join()}`)
  }
  const work = delays.reduce((a, b) => a + b, 0)
  say(`   collector, as jobs finished: ${seen.join(' ')}`)
  say(`   results, in job order:       [${results.join(', ')}]`)
  say(`   ${ms(wall)} wall for ${work} ms of job time`)
  return results
}

// ---- 5: structured concurrency ---------------------------------------------------------------------

async function structured(k: Kernel, say: (line: string) => void): Promise<void> {
  say('')
  say('5. structured concurrency')
  const kids: KernelTask<unknown>[] = []
  const t0 = performance.now()
  const parent = k.spawn(
    function* (t) {
      kids.push(t.spawn(napper, [10_000], { name: 'reader' }))
      kids.push(t.spawn(napper, [10_000], { name: 'indexer' }))
      kids.push(
        t.spawn(
          function* (t) {
            yield* t.sleep(20)
            throw new Error('disk full')
          },
          [],
          { name: 'writer' },
        ),
      )
      return 'the body returned; the task waits for its children'
    },
    [],
    { name: 'parent' },
  )
  const outcome = await parent.settle()
  const wall = performance.now() - t0
  if (outcome.status !== 'failed') throw new Error(`demo check failed: the parent ended ${outcome.status}`)
  say(`   a child fails after 20 ms and nobody joins it: the parent ends '${outcome.status}'`)
  say(`     ${errorLine(outcome.error)}`)
  const statuses = kids.map((c) => `${c.name} ${c.status}`).join(', ')
  if (statuses !== 'reader cancelled, indexer cancelled, writer failed') {
    throw new Error(`demo check failed: children ${statuses}`)
  }
  say(`   children: ${statuses}: the siblings' 10 s sleeps were cut short, all over in ${ms(wall)}`)

  const boss = k.spawn(
    function* (t) {
      for (let i = 0; i < 3; i++) t.spawn(napper, [10_000])
      yield* t.sleep(10_000)
    },
    [],
    { name: 'boss' },
  )
  boss.cancel('the user pressed ctrl-c')
  const bossOutcome = await boss.settle()
  const stats = k.stats()
  if (bossOutcome.status !== 'cancelled' || stats.tasks.running !== 0) {
    throw new Error(`demo check failed: boss ${bossOutcome.status}, ${stats.tasks.running} tasks running`)
  }
  say(`   cancelling a parent cancels its children: boss '${bossOutcome.status}', 0 tasks left running`)
  say(`     ${errorLine(bossOutcome.error)}`)
}

function* napper(t: TaskContext, delay: number): Generator<unknown, void> {
  yield* t.sleep(delay)
}

// ---- 6: supervision --------------------------------------------------------------------------------

async function supervision(k: Kernel, say: (line: string) => void): Promise<number> {
  say('')
  say('6. supervision (one-for-one, at most 3 restarts within 1 s)')
  let starts = 0
  const flaky = function* (t: TaskContext): Generator<unknown, string> {
    starts++
    yield* t.sleep(5)
    if (starts < 3) throw new Error(`flaky failure ${starts}`)
    return 'ok'
  }
  const log: string[] = []
  const unlisten = k.on('task-end', ({ task, outcome }) => {
    if (task.name !== 'flaky') return
    log.push(outcome.status === 'done' ? `#${task.id} done` : `#${task.id} ${outcome.status}`)
  })
  await k.supervise([{ fn: flaky, name: 'flaky' }], { maxRestarts: 3, within: 1000 }).join()
  unlisten()
  if (starts !== 3) throw new Error(`demo check failed: the flaky task started ${starts} times`)
  say(`   a task that fails twice, then succeeds: ${log.join(' → restart → ')}; supervisor done`)

  const hopeless = function* (t: TaskContext): Generator<unknown, never> {
    yield* t.sleep(2)
    throw new Error('config file missing')
  }
  const supervisor = k.supervise([{ fn: hopeless, name: 'hopeless' }], { maxRestarts: 3, within: 1000 })
  const outcome = await supervisor.settle()
  if (outcome.status !== 'failed') throw new Error(`demo check failed: supervisor ${outcome.status}`)
  say(`   a task that always fails: the supervisor gives up after 3 restarts and fails`)
  say(`     ${errorLine(outcome.error)}`)
  return starts
}

// ---- formatting ------------------------------------------------------------------------------------

function fmt(n: number): string {
  return n.toLocaleString('en-US')
}

function ms(t: number): string {
  return t >= 10 ? `${Math.round(t)} ms` : `${t.toFixed(1)} ms`
}

function perSecond(count: number, millis: number): number {
  return count / (Math.max(millis, 0.001) / 1000)
}

function rate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M`
  if (perSec >= 1e3) return `${Math.round(perSec / 1e3)} k`
  return `${Math.round(perSec)}`
}

function errorLine(error: unknown): string {
  if (error instanceof TaskosError) return `${error.name} [${error.code}]: ${error.message}`
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

// ---- the command -----------------------------------------------------------------------------------

function parseScale(value: string): number {
  const scale = Number(value)
  if (value.trim() === '' || !Number.isFinite(scale) || !(scale > 0)) {
    throw new InvalidArgumentError('expected a number > 0, e.g. 0.1')
  }
  return scale
}

/** The `taskos demo` subcommand. */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'a few-second tour: a computation split across the cores by the pool (with progress and ' +
        'the speed-up), then the kernel: 100,000 light tasks, messages, ping-pong, dispatch, ' +
        'structured concurrency, supervision',
    )
    .option('--scale <factor>', 'multiply the task and message counts (0.1 for a quick run)', parseScale, 1)
    .showHelpAfterError('(taskos demo --help lists the options)')
    .action(async (options: { scale: number }) => {
      await runDemo({ scale: options.scale })
    })
}
