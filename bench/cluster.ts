/**
 * Cluster benchmark: taskos's cluster against BullMQ (Redis 127.0.0.1:6379) and Moleculer (NATS
 * transporter) in the same run, each with 2 worker processes (taskos: 2 nodes × 2 slots; BullMQ:
 * 2 workers of concurrency 2; Moleculer: 2 brokers). Every subject gets its own fresh servers.
 *
 * 1. tiny remote tasks `x => x + 1`, 20,000 submitted at once and all awaited: jobs/s
 *    (taskos fast path, taskos durable path, BullMQ, Moleculer)
 * 2. sequential round trip of one tiny task: p50 and p99 (taskos, BullMQ, Moleculer)
 * 3. 20 nodes × 4 slots (node processes) on this machine, 20,000 tiny tasks: all complete; jobs/s
 * 4. a 1 MiB argument and result round trip (taskos; the peers refuse or fail it over NATS at the
 *    default 1 MiB max payload — Moleculer is measured and reported as failing when it does)
 *
 * Each case warms its fresh workers untimed: 2,000 tiny tasks at once (tiny tasks, every subject),
 * twice the measured count of sequential round trips, at most 4,000 (round trips, every subject), 20
 * (1 MiB). Tiny tasks are then timed twice on the same workers: the first n (noted as `fresh
 * jobs/s`: V8 still compiles the path in every process and thread it crosses) and the next n (the
 * case's rate: the steady state of long-running workers, which the targets are judged on, as for
 * round trips). The taskos cases also report the CPU each side spent per task in the steady window
 * (this client, the nodes, the nats-server).
 * `--quick` runs small n, one repetition, and skips BullMQ with a note when Redis is not running.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Cluster } from '../src/cluster/index.js'
import { echo, inc } from './fixtures/cluster-tasks.js'
import type { BenchCase, Benchmark, CaseResult, Probe, RunInfo } from './lib/harness.js'
import { gc, median } from './lib/harness.js'
import { bullmqWorkers, moleculerWorkers, redisAvailable, taskosNodes } from './lib/cluster-env.js'
import type { Env } from './lib/cluster-env.js'
import { fixed, grouped, note, printTable, printTargets, ratio } from './lib/pool-report.js'
import type { Row, TargetCheck } from './lib/pool-report.js'

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong result: ${what}`)
}

function quantile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
}

let skipped = false

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = 100

/** CPU time (ms) a process has used, all its threads, from /proc (undefined where there is none). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

/**
 * Measures the CPU each side spends on the measured part of a taskos case: this client process,
 * the node processes (their pool's worker threads and V8's compiler and GC threads included) and
 * the nats-server; noted as µs per task (`client µs`, `nodes µs`, `nats µs`).
 */
function cpuPerTask(env: Env, p: Probe): { start(): void; stop(n: number): void } {
  const pids = [...env.workers.map((w) => w.pid), env.nats.pids()[0]]
  let base: (number | undefined)[] = []
  let client = 0
  return {
    start() {
      base = pids.map(processCpuMs)
      const u = process.cpuUsage()
      client = u.user + u.system
    },
    stop(n) {
      const u = process.cpuUsage()
      p.note('client µs', (u.user + u.system - client) / n)
      const used = pids.map((pid, i) => (processCpuMs(pid) ?? Number.NaN) - (base[i] ?? Number.NaN))
      p.note('nodes µs', (1000 * used.slice(0, -1).reduce((a, b) => a + b, 0)) / n)
      p.note('nats µs', (1000 * used[used.length - 1]!) / n)
    },
  }
}

async function taskosTiny(durable: boolean, n: number, p: Probe): Promise<void> {
  const env = await taskosNodes(durable)
  const cluster = await Cluster.connect({ servers: env.nats.url })
  try {
    await cluster.waitForHosts(2)
    // untimed warm-up on these fresh node processes (code shipped, queue made, JIT warm)
    await Promise.all(
      Array.from({ length: Math.min(2000, n) }, (_, i) => cluster.run(inc, [i], { durable }).join()),
    )
    const cpu = cpuPerTask(env, p)
    await freshThenSteady(n, p, cpu, async () => {
      const all = new Array<Promise<number>>(n)
      for (let i = 0; i < n; i++) all[i] = cluster.run(inc, [i], { durable }).join()
      const results = await Promise.all(all)
      check(results[n - 1] === n, `inc(${n - 1}) gave ${results[n - 1]}`)
    })
  } finally {
    await cluster.destroy()
    await env.stop()
  }
}

/**
 * Times `window` (n tiny tasks submitted at once, all awaited) twice on the same warmed workers: the
 * first as the note `fresh jobs/s`, the second as the case's measured span (and its CPU, when given).
 */
async function freshThenSteady(
  n: number,
  p: Probe,
  cpu: { start(): void; stop(n: number): void } | undefined,
  window: () => Promise<void>,
): Promise<void> {
  const t0 = performance.now()
  await window()
  p.note('fresh jobs/s', (n * 1000) / (performance.now() - t0))
  p.start()
  cpu?.start()
  await window()
  p.stop()
  cpu?.stop(n)
}

/** 20 nodes × 4 slots on this machine (2 nodes in --quick): all complete; the throughput. */
async function taskosScale(n: number, p: Probe): Promise<void> {
  const count = n >= 10_000 ? 20 : 2
  const env = await taskosNodes(false, count, 4)
  const cluster = await Cluster.connect({ servers: env.nats.url })
  try {
    await cluster.waitForHosts(count, 120_000)
    await Promise.all(Array.from({ length: count * 8 }, (_, i) => cluster.run(inc, [i]).join()))
    const all = new Array<Promise<number>>(n)
    p.start()
    for (let i = 0; i < n; i++) all[i] = cluster.run(inc, [i]).join()
    const results = await Promise.all(all)
    p.stop()
    check(
      results.every((r, i) => r === i + 1),
      'every task completed with its value',
    )
    p.note('nodes', count)
    p.note(
      'hosts used',
      new Set(
        cluster
          .hosts()
          .filter((h) => h.slots === 4)
          .map((h) => h.id),
      ).size,
    )
  } finally {
    await cluster.destroy()
    await env.stop()
  }
}

/**
 * Untimed sequential round trips before a round-trip case measures, the same for every subject:
 * the steady state of long-running workers. From fresh processes V8 needs thousands of calls before
 * it optimises a path taken once per round trip; with 20 the p50 was about twice the steady one.
 * The harness's forced GC comes before the warm-up, not between it and the timed part: a forced GC
 * there deoptimizes the code about to be timed (bench/pool.ts, roundTrips).
 */
const RTT_WARM_UP = 4000

/** Twice the measured count, at most {@link RTT_WARM_UP} (smoke runs and the harness's own warm-up stay short). */
function rttWarmUp(n: number): number {
  return Math.min(RTT_WARM_UP, 2 * n)
}

async function taskosLatency(n: number, p: Probe, big: boolean): Promise<void> {
  const env = await taskosNodes(false)
  const cluster = await Cluster.connect({ servers: env.nats.url })
  const payload = new Uint8Array(1024 * 1024).fill(3)
  try {
    await cluster.waitForHosts(2)
    const warm = big ? 20 : rttWarmUp(n)
    gc() // before the warm-up, not before the timed part (see rttWarmUp)
    for (let i = 0; i < warm; i++) await (big ? cluster.run(echo, [payload]) : cluster.run(inc, [i])).join()
    const samples: number[] = []
    const cpu = cpuPerTask(env, p)
    p.start({ gc: false })
    cpu.start()
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const r = await (big ? cluster.run(echo, [payload]) : cluster.run(inc, [i])).join()
      samples.push(performance.now() - t0)
      check(big ? (r as Uint8Array).length === payload.length : r === i + 1, 'round trip value')
    }
    p.stop()
    cpu.stop(n)
    p.note('p50', quantile(samples, 0.5))
    p.note('p99', quantile(samples, 0.99))
  } finally {
    await cluster.destroy()
    await env.stop()
  }
}

async function moleculer(n: number, p: Probe, mode: 'tiny' | 'rtt' | 'mib'): Promise<void> {
  const { ServiceBroker } = (await import('moleculer')).default
  const env = await moleculerWorkers()
  const broker = new ServiceBroker({
    nodeID: `client-${process.pid}`,
    transporter: env.nats.url,
    logger: false,
  })
  try {
    await broker.start()
    await broker.waitForServices(['bench'])
    await new Promise((r) => setTimeout(r, 500)) // both workers discovered
    if (mode !== 'tiny') gc() // before the warm-up, as taskos
    for (let i = 0; i < (mode === 'rtt' ? rttWarmUp(n) : 20); i++) await broker.call('bench.inc', { x: i })
    if (mode === 'tiny') {
      await Promise.all(
        Array.from({ length: Math.min(2000, n) }, (_, i) => broker.call('bench.inc', { x: i })),
      ) // warm-up, as taskos
      await freshThenSteady(n, p, undefined, async () => {
        const all = new Array<Promise<number>>(n)
        for (let i = 0; i < n; i++) all[i] = broker.call('bench.inc', { x: i })
        const results = await Promise.all(all)
        check(results[n - 1] === n, 'moleculer inc')
      })
      return
    }
    const samples: number[] = []
    let failures = 0
    const big = { data: Buffer.alloc(1024 * 1024, 3).toString('base64') }
    p.start({ gc: false })
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      try {
        if (mode === 'mib') await broker.call('bench.echo', big)
        else await broker.call('bench.inc', { x: i })
      } catch {
        failures++
      }
      samples.push(performance.now() - t0)
    }
    p.stop()
    p.note('p50', quantile(samples, 0.5))
    p.note('p99', quantile(samples, 0.99))
    p.note('failures', failures)
  } finally {
    await broker.stop()
    await env.stop()
  }
}

async function bullmq(n: number, p: Probe, mode: 'tiny' | 'rtt'): Promise<void> {
  if (!(await redisAvailable())) {
    skipped = true
    p.start()
    p.stop()
    p.note('skipped', 1)
    return
  }
  const { Queue, QueueEvents } = await import('bullmq')
  const name = `taskos-bench-${randomUUID()}`
  const connection = { host: '127.0.0.1', port: 6379 }
  const queue = new Queue(name, { connection })
  const events = new QueueEvents(name, { connection })
  await events.waitUntilReady()
  const workers = await bullmqWorkers(name)
  try {
    const opts = { removeOnComplete: true, removeOnFail: true }
    if (mode === 'tiny') {
      /** Adds `count` jobs in bulks of 1,000 and waits until all are completed. */
      const jobs = async (count: number): Promise<void> => {
        let done = 0
        let onCompleted!: () => void
        const finished = new Promise<void>((resolve) => {
          onCompleted = () => {
            if (++done === count) resolve()
          }
        })
        events.on('completed', onCompleted)
        for (let from = 0; from < count; from += 1000) {
          await queue.addBulk(
            Array.from({ length: Math.min(1000, count - from) }, (_, i) => ({
              name: 'inc',
              data: { x: from + i },
              opts,
            })),
          )
        }
        await finished
        events.off('completed', onCompleted)
      }
      await jobs(Math.min(2000, n)) // warm-up, as taskos
      await freshThenSteady(n, p, undefined, () => jobs(n))
      return
    }
    gc() // before the warm-up, as taskos
    for (let i = 0; i < rttWarmUp(n); i++) await (await queue.add('inc', { x: i })).waitUntilFinished(events)
    const samples: number[] = []
    p.start({ gc: false })
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const job = await queue.add('inc', { x: i })
      const r = (await job.waitUntilFinished(events)) as number
      samples.push(performance.now() - t0)
      check(r === i + 1, 'bullmq inc')
    }
    p.stop()
    p.note('p50', quantile(samples, 0.5))
    p.note('p99', quantile(samples, 0.99))
  } finally {
    await workers.stop()
    await events.close()
    await queue.obliterate({ force: true }).catch(() => undefined)
    await queue.close()
  }
}

const cases: BenchCase[] = [
  {
    id: 'tiny/taskos',
    kind: 'rate',
    n: 20_000,
    quickN: 500,
    reps: 3,
    run: (n, p) => taskosTiny(false, n, p),
  },
  {
    id: 'tiny/taskos-durable',
    kind: 'rate',
    n: 20_000,
    quickN: 200,
    reps: 3,
    run: (n, p) => taskosTiny(true, n, p),
  },
  { id: 'tiny/bullmq', kind: 'rate', n: 20_000, quickN: 200, reps: 3, run: (n, p) => bullmq(n, p, 'tiny') },
  {
    id: 'tiny/moleculer',
    kind: 'rate',
    n: 20_000,
    quickN: 500,
    reps: 3,
    run: (n, p) => moleculer(n, p, 'tiny'),
  },
  {
    id: 'scale/taskos-20x4',
    kind: 'rate',
    n: 20_000,
    quickN: 200,
    reps: 1,
    run: (n, p) => taskosScale(n, p),
  },
  { id: 'rtt/taskos', kind: 'rate', n: 2000, quickN: 50, reps: 3, run: (n, p) => taskosLatency(n, p, false) },
  { id: 'rtt/bullmq', kind: 'rate', n: 1000, quickN: 20, reps: 3, run: (n, p) => bullmq(n, p, 'rtt') },
  { id: 'rtt/moleculer', kind: 'rate', n: 2000, quickN: 50, reps: 3, run: (n, p) => moleculer(n, p, 'rtt') },
  { id: 'mib/taskos', kind: 'rate', n: 30, quickN: 3, reps: 3, run: (n, p) => taskosLatency(n, p, true) },
  { id: 'mib/moleculer', kind: 'rate', n: 10, quickN: 2, reps: 3, run: (n, p) => moleculer(n, p, 'mib') },
]

function rate(r: CaseResult | undefined): number {
  if (r === undefined || note(r, 'skipped') === 1) return Number.NaN
  return median(r.wallMs.map((ms) => (r.n * 1000) / ms))
}

function report(results: ReadonlyMap<string, CaseResult>, run: RunInfo): void {
  const skippedBull = [...results.values()].some((r) => note(r, 'skipped') === 1) || skipped
  if (skippedBull) console.log('\nnote: BullMQ skipped: no Redis on 127.0.0.1:6379')
  const tinyRows: Row[] = [
    { id: 'tiny/taskos', label: 'taskos cluster (fast path)' },
    { id: 'tiny/taskos-durable', label: 'taskos cluster (durable path)' },
    { id: 'tiny/bullmq', label: 'BullMQ (Redis)' },
    { id: 'tiny/moleculer', label: 'Moleculer (NATS)' },
  ]
  const fast = rate(results.get('tiny/taskos'))
  const fresh = (id: string): number => note(results.get(id), 'fresh jobs/s')
  printTable(
    `Tiny remote tasks, ${run.quick ? 'quick n' : '20,000'} submitted at once (2 workers × 2 slots): the steady state (the second n on the same workers), and the first n on fresh workers`,
    ['jobs/s', 'taskos fast ÷ this', 'fresh jobs/s', 'fast ÷ this'],
    tinyRows,
    results,
    (r) => [
      grouped(rate(r)),
      ratio(fast, rate(r)),
      grouped(note(r, 'fresh jobs/s')),
      ratio(fresh('tiny/taskos'), note(r, 'fresh jobs/s')),
    ],
  )
  const latRows: Row[] = [
    { id: 'rtt/taskos', label: 'taskos cluster' },
    { id: 'rtt/bullmq', label: 'BullMQ (Redis)' },
    { id: 'rtt/moleculer', label: 'Moleculer (NATS)' },
    { id: 'mib/taskos', label: 'taskos, 1 MiB arg + result' },
    { id: 'mib/moleculer', label: 'Moleculer, 1 MiB (base64) arg + result' },
  ]
  printTable(
    'Scale: 20 nodes × 4 slots on this machine (2 nodes in --quick), 20,000 tiny tasks',
    ['nodes', 'jobs/s'],
    [{ id: 'scale/taskos-20x4', label: 'taskos cluster (fast path)' }],
    results,
    (r) => [grouped(note(r, 'nodes')), grouped(rate(r))],
  )
  printTable('Sequential round trip of one task', ['p50 ms', 'p99 ms', 'failures'], latRows, results, (r) =>
    note(r, 'skipped') === 1
      ? ['skipped', '', '']
      : [
          fixed(note(r, 'p50'), 2),
          fixed(note(r, 'p99'), 2),
          Number.isFinite(note(r, 'failures')) ? grouped(note(r, 'failures')) : '0',
        ],
  )
  printTable(
    'CPU per task of each side, taskos (µs; nodes: both node processes with their worker, compiler and GC threads)',
    ['client', 'nodes', 'nats-server'],
    [
      { id: 'tiny/taskos', label: 'tiny tasks, fast path' },
      { id: 'tiny/taskos-durable', label: 'tiny tasks, durable path' },
      { id: 'rtt/taskos', label: 'sequential round trips' },
    ],
    results,
    (r) => [fixed(note(r, 'client µs'), 1), fixed(note(r, 'nodes µs'), 1), fixed(note(r, 'nats µs'), 1)],
  )
  /** A throughput ratio target: ours ÷ a peer in the steady state, the fresh ratio beside it. */
  const versus = (label: string, min: number, ours: string, peer: string): TargetCheck => {
    const [a, b] = [rate(results.get(`tiny/${ours}`)), rate(results.get(`tiny/${peer}`))]
    return {
      label,
      goal: `≥ ${min}x`,
      value: a / b,
      shown: ratio(a, b),
      aside: `fresh ${ratio(fresh(`tiny/${ours}`), fresh(`tiny/${peer}`))}`,
      met: a / b >= min,
    }
  }
  const p50 = note(results.get('rtt/taskos'), 'p50')
  const p99 = note(results.get('rtt/taskos'), 'p99')
  const mib = note(results.get('mib/taskos'), 'p50')
  const checks: TargetCheck[] = [
    versus('tiny tasks vs BullMQ', 5, 'taskos', 'bullmq'),
    versus('tiny tasks vs Moleculer', 2, 'taskos', 'moleculer'),
    versus('durable path vs BullMQ', 2, 'taskos-durable', 'bullmq'),
    {
      label: 'round trip p50',
      goal: '≤ 0.7 ms',
      value: p50,
      shown: `${fixed(p50, 2)} ms`,
      aside: '',
      met: p50 <= 0.7,
    },
    {
      label: 'round trip p99',
      goal: '≤ 5 ms',
      value: p99,
      shown: `${fixed(p99, 2)} ms`,
      aside: '',
      met: p99 <= 5,
    },
    {
      label: '1 MiB round trip p50',
      goal: '≤ 30 ms',
      value: mib,
      shown: `${fixed(mib, 1)} ms`,
      aside: '',
      met: mib <= 30,
    },
  ]
  printTargets(checks)
}

export const benchmark: Benchmark = { name: 'cluster', cases, report }
