/**
 * Batch benchmark: taskos `batch()` on 2 slots, against `xargs -P 2` (what a user would otherwise
 * pick for shell jobs) in the same run. Three metrics, the targets:
 *
 * 1. 10,000 tiny task-function jobs (`ins => ins.i`) on worker threads and on worker processes:
 *    jobs/s and boss overhead per job (target >= 10,000 jobs/s, <= 0.1 ms per job)
 * 2. 2,000 shell jobs `true`: taskos command jobs vs `seq 2000 | xargs -P 2 -n 1 true` (target:
 *    taskos wall <= 1.5x xargs)
 * 3. 50 jobs of 200 ms on 2 workers (task function, worker processes): wall (ideal 5.0 s, target <= 5.1 s)
 * @module
 */
import { spawn } from 'node:child_process'
import type * as BatchModule from '../src/batch/index.js'
import type { BatchReport } from '../src/batch/index.js'
import type * as Tasks from './lib/batch-tasks.js'
import type { BenchCase, Benchmark, CaseResult, Probe, RunInfo } from './lib/harness.js'
import { median } from './lib/harness.js'
import { compiledBatch } from './lib/batch-compiled.js'

/** taskos batch as shipped (compiled JavaScript: workers start without tsx), and the task module. */
async function load(): Promise<
  { batch: typeof BatchModule.batch; schedulers: typeof BatchModule.schedulers } & typeof Tasks
> {
  const urls = await compiledBatch()
  const b = (await import(urls.batch)) as typeof BatchModule
  const t = (await import(urls.tasks)) as typeof Tasks
  return { batch: b.batch, schedulers: b.schedulers, tiny: t.tiny, wait: t.wait }
}

const SLOTS = 2

function check(report: BatchReport, n: number): void {
  if (report.summary.done !== n) throw new Error(`wrong result: ${report.summary.done}/${n} jobs done`)
}

function tinyCase(isolation: 'thread' | 'process'): BenchCase {
  return {
    id: `tiny/taskos-${isolation}`,
    kind: 'rate',
    n: 10_000,
    quickN: 300,
    reps: 3,
    async run(n: number, probe: Probe) {
      const { batch, schedulers, tiny } = await load()
      const individual = { i: Array.from({ length: n }, (_, i) => i) }
      probe.start()
      const report = await batch({
        worker: tiny,
        isolation,
        individual,
        scheduler: schedulers.maxWorkers(SLOTS),
      })
      probe.stop()
      check(report, n)
    },
  }
}

const shellTaskos: BenchCase = {
  id: 'shell/taskos',
  kind: 'rate',
  n: 2000,
  quickN: 50,
  reps: 3,
  async run(n, probe) {
    const { batch, schedulers } = await load()
    const individual = { i: Array.from({ length: n }, (_, i) => i) }
    probe.start()
    const report = await batch({
      worker: { command: ['true'] },
      individual,
      scheduler: schedulers.maxWorkers(SLOTS),
    })
    probe.stop()
    check(report, n)
  },
}

const shellXargs: BenchCase = {
  id: 'shell/xargs-P2',
  kind: 'rate',
  n: 2000,
  quickN: 50,
  reps: 3,
  async run(n, probe) {
    probe.start()
    await new Promise<void>((resolve, reject) => {
      const c = spawn('sh', ['-c', `seq ${n} | xargs -P ${SLOTS} -n 1 true`], { stdio: 'ignore' })
      c.on('error', reject)
      c.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`xargs exited with ${String(code)}`)),
      )
    })
    probe.stop()
  },
}

const long: BenchCase = {
  id: 'long/taskos',
  kind: 'rate',
  n: 50,
  quickN: 4,
  reps: 1,
  async run(n, probe) {
    const { batch, schedulers, wait } = await load()
    const individual = { ms: Array.from({ length: n }, () => 200) }
    probe.start()
    const report = await batch({ worker: wait, individual, scheduler: schedulers.maxWorkers(SLOTS) })
    probe.stop()
    check(report, n)
  },
}

const cases: BenchCase[] = [tinyCase('thread'), tinyCase('process'), shellTaskos, shellXargs, long]

function report(results: ReadonlyMap<string, CaseResult>, run: RunInfo): void {
  console.log(
    `batch() on ${SLOTS} slots; medians of repetitions; peers run in the same process tree, same run`,
  )
  if (run.quick) console.log('--quick: small n, figures are a smoke test, not measurements')
  const rows: string[][] = []
  const wall = (id: string): number => median(results.get(id)?.wallMs ?? [])
  const n = (id: string): number => results.get(id)?.n ?? 0
  for (const id of [
    'tiny/taskos-thread',
    'tiny/taskos-process',
    'shell/taskos',
    'shell/xargs-P2',
    'long/taskos',
  ]) {
    if (!results.has(id)) continue
    const ms = wall(id)
    rows.push([
      id,
      String(n(id)),
      ms.toFixed(0),
      ((n(id) * 1000) / ms).toFixed(0),
      ((ms / n(id)) * SLOTS).toFixed(3),
    ])
  }
  const widths = [22, 7, 10, 10, 16]
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ')
  console.log(line(['case', 'jobs', 'wall ms', 'jobs/s', 'ms/job/slot']))
  for (const r of rows) console.log(line(r))
  const targets: [string, boolean | undefined][] = []
  if (results.has('tiny/taskos-thread'))
    targets.push([
      `tiny jobs (threads) >= 10,000 jobs/s: ${((n('tiny/taskos-thread') * 1000) / wall('tiny/taskos-thread')).toFixed(0)}`,
      (n('tiny/taskos-thread') * 1000) / wall('tiny/taskos-thread') >= 10_000,
    ])
  if (results.has('shell/taskos') && results.has('shell/xargs-P2')) {
    const r = wall('shell/taskos') / wall('shell/xargs-P2')
    console.log(`shell jobs: taskos ÷ xargs -P 2 wall = ${r.toFixed(2)}x`)
    targets.push([`shell jobs within 1.5x of xargs -P 2: ${r.toFixed(2)}x`, r <= 1.5])
  }
  if (results.has('long/taskos')) {
    const ideal = (n('long/taskos') * 200) / SLOTS
    targets.push([
      `${n('long/taskos')} x 200 ms on 2 workers: ${(wall('long/taskos') / 1000).toFixed(2)} s (ideal ${(ideal / 1000).toFixed(1)} s, target +2%)`,
      wall('long/taskos') <= ideal * 1.02,
    ])
  }
  for (const [what, ok] of targets) console.log(`  ${ok === true ? 'met ' : 'MISS'} ${what}`)
  console.log(`targets met: ${targets.filter(([, ok]) => ok === true).length}/${targets.length}`)
}

/** The batch benchmark. */
export const benchmark: Benchmark = { name: 'batch', cases, report }
