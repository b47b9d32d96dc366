/**
 * Batch benchmark: taskos `batch()` on 2 slots, against `xargs -P 2` (what a user would otherwise
 * pick for shell jobs) in the same run. Three metrics, the targets:
 *
 * 1. 10,000 tiny task-function jobs (`ins => ins.i`) on worker threads and on worker processes:
 *    jobs/s and boss CPU per job (target >= 10,000 jobs/s, <= 0.1 ms overhead per job, on both)
 * 2. 2,000 shell jobs `true`: taskos command jobs vs `seq 2000 | xargs -P 2 -n 1 true` (target:
 *    taskos wall <= 1.5x xargs)
 * 3. 50 jobs of 200 ms on 2 workers (task function, worker processes, and threads beside): wall
 *    (ideal 5.0 s, target <= 5.1 s on processes, the default isolation), beside a plain-Node floor
 *    (two forked one-line workers taking the jobs over IPC), and, where NODE_EXTRA_CA_CERTS is set,
 *    both again without it
 *
 * taskos runs as shipped: compiled to JavaScript, in a plain `node` process (no tsx in the boss or
 * its workers; from the TypeScript sources every worker would start through tsx). The wall time is
 * measured inside that process, around `batch()`: worker start-up included, node start-up not.
 * @module
 */
import { spawn } from 'node:child_process'
import type { BenchCase, Benchmark, CaseResult, Probe, RunInfo } from './lib/harness.js'
import { median } from './lib/harness.js'
import { compiledBatch } from './lib/batch-compiled.js'

const SLOTS = 2

/**
 * This machine sets NODE_EXTRA_CA_CERTS, and with it Node 20 parses every bundled CA certificate
 * and then the file's before it runs any JavaScript: 55 ms more per node process here (18 → 73 ms
 * for `node -e 0`; nodejs/node#40524). Threads do not pay it. The long-job cases run both ways.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.NODE_EXTRA_CA_CERTS !== ''
const NO_CA = '-no-extra-ca'
const withoutExtraCa = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.NODE_EXTRA_CA_CERTS
  return env
}

/** Runs `bench-child.js kind n isolation` in a plain node process; its own figures. */
async function inChild(
  kind: string,
  n: number,
  isolation: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ms: number; cpuMs: number }> {
  const { child } = await compiledBatch()
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [child, kind, String(n), isolation], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    c.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    c.on('error', reject)
    c.on('close', (code) => {
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '') as {
          ms: number
          cpuMs: number
          done: number
        }
        if (code !== 0 || r.done !== n) throw new Error(`wrong result: ${r.done}/${n} jobs done`)
        resolve(r)
      } catch (error) {
        reject(new Error(`bench child ${kind} failed (exit ${String(code)}): ${out}`, { cause: error }))
      }
    })
  })
}

/** A case measured by `bench-child.js kind n isolation` in its own plain node process (see inChild). */
function childCase(
  id: string,
  kind: string,
  isolation: string,
  n: number,
  quickN: number,
  reps: number,
): BenchCase {
  return {
    id,
    kind: 'rate',
    n,
    quickN,
    reps,
    async run(size: number, probe: Probe) {
      probe.start()
      const r = await inChild(kind, size, isolation, id.endsWith(NO_CA) ? withoutExtraCa() : process.env)
      probe.stop()
      probe.note('ms', r.ms)
      probe.note('cpuMs', r.cpuMs)
    },
  }
}

const shellXargs: BenchCase = {
  id: 'shell/xargs-P2',
  kind: 'rate',
  n: 2000,
  quickN: 50,
  reps: 3,
  async run(n, probe) {
    probe.start()
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const c = spawn('sh', ['-c', `seq ${n} | xargs -P ${SLOTS} -n 1 true`], { stdio: 'ignore' })
      c.on('error', reject)
      c.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`xargs exited with ${String(code)}`)),
      )
    })
    probe.stop()
    probe.note('ms', performance.now() - t0)
  },
}

const cases: BenchCase[] = [
  childCase('tiny/taskos-thread', 'tiny', 'thread', 10_000, 300, 3),
  childCase('tiny/taskos-process', 'tiny', 'process', 10_000, 300, 3),
  childCase('shell/taskos', 'shell', 'process', 2000, 50, 3),
  shellXargs,
  childCase('long/taskos', 'long', 'process', 50, 4, 3),
  childCase('long/raw-fork', 'raw-long', 'process', 50, 4, 3),
  ...(EXTRA_CA
    ? [
        childCase(`long/taskos${NO_CA}`, 'long', 'process', 50, 4, 3),
        childCase(`long/raw-fork${NO_CA}`, 'raw-long', 'process', 50, 4, 3),
      ]
    : []),
  childCase('long/taskos-thread', 'long', 'thread', 50, 4, 1),
]

function report(results: ReadonlyMap<string, CaseResult>, run: RunInfo): void {
  console.log(
    `batch() on ${SLOTS} slots, taskos compiled to JavaScript in a plain node process; xargs in the same run; medians of repetitions`,
  )
  if (run.quick) console.log('--quick: small n, figures are a smoke test, not measurements')
  const ms = (id: string): number => median(results.get(id)?.notes?.ms ?? [])
  const cpu = (id: string): number => median(results.get(id)?.notes?.cpuMs ?? [])
  const n = (id: string): number => results.get(id)?.n ?? 0
  const widths = [28, 7, 10, 10, 14, 16]
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ')
  console.log(line(['case', 'jobs', 'wall ms', 'jobs/s', 'ms/job/slot', 'boss CPU µs/job']))
  for (const id of [
    'tiny/taskos-thread',
    'tiny/taskos-process',
    'shell/taskos',
    'shell/xargs-P2',
    'long/taskos',
    'long/raw-fork',
    `long/taskos${NO_CA}`,
    `long/raw-fork${NO_CA}`,
    'long/taskos-thread',
  ]) {
    if (!results.has(id)) continue
    const c = cpu(id)
    console.log(
      line([
        id,
        String(n(id)),
        ms(id).toFixed(0),
        ((n(id) * 1000) / ms(id)).toFixed(0),
        ((ms(id) / n(id)) * SLOTS).toFixed(3),
        Number.isNaN(c) ? '' : ((c / n(id)) * 1000).toFixed(0),
      ]),
    )
  }
  console.log('(boss CPU: the batch process and its threads, so thread workers too; not child processes)')
  const targets: [string, boolean][] = []
  // the default isolation (processes) is what a user reading the target runs; threads beside it
  for (const [id, what] of [
    ['tiny/taskos-process', 'processes, the default'],
    ['tiny/taskos-thread', 'threads'],
  ] as const) {
    if (!results.has(id)) continue
    const rate = (n(id) * 1000) / ms(id)
    targets.push([`tiny jobs (${what}) >= 10,000 jobs/s: ${rate.toFixed(0)}`, rate >= 10_000])
  }
  if (results.has('shell/taskos') && results.has('shell/xargs-P2')) {
    const r = ms('shell/taskos') / ms('shell/xargs-P2')
    console.log(`shell jobs: taskos ÷ xargs -P 2 wall = ${r.toFixed(2)}x`)
    targets.push([`shell jobs within 1.5x of xargs -P 2: ${r.toFixed(2)}x`, r <= 1.5])
  }
  for (const env of EXTRA_CA ? ['', NO_CA] : ['']) {
    const [taskos, raw] = [`long/taskos${env}`, `long/raw-fork${env}`]
    if (results.has(taskos) && results.has(raw))
      console.log(
        `long jobs${env === '' ? '' : ' without NODE_EXTRA_CA_CERTS'}: taskos − raw fork = ${(ms(taskos) - ms(raw)).toFixed(0)} ms`,
      )
  }
  if (EXTRA_CA)
    console.log(
      '(NODE_EXTRA_CA_CERTS is set: every node process parses the CA bundle at start, ~55 ms here; the -no-extra-ca cases run without it)',
    )
  if (results.has('long/taskos')) {
    const ideal = (n('long/taskos') * 200) / SLOTS
    targets.push([
      `${n('long/taskos')} x 200 ms on 2 worker processes: ${(ms('long/taskos') / 1000).toFixed(2)} s (ideal ${(ideal / 1000).toFixed(1)} s, target +2%; plain fork floor ${(ms('long/raw-fork') / 1000).toFixed(2)} s)`,
      ms('long/taskos') <= ideal * 1.02,
    ])
  }
  for (const [what, ok] of targets) console.log(`  ${ok ? 'met ' : 'MISS'} ${what}`)
  console.log(`targets met: ${targets.filter(([, ok]) => ok).length}/${targets.length}`)
}

/** The batch benchmark. */
export const benchmark: Benchmark = { name: 'batch', cases, report }
