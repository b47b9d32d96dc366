/**
 * 09-batch: boss/worker batch runs (taylorism, done again). A task function over common ⊕
 * individual instructions under a memory-aware scheduler; command jobs with their output; a crash
 * that fails only its own job; the Boss in server mode with events; a journal that makes a rerun
 * skip the jobs already done.
 *
 *   npx tsx examples/09-batch.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Boss, batch, schedulers } from '../src/index.js' // in your project: from 'taskos'
import { countWords, fragile } from './batch-tasks/words.js'

const dir = mkdtempSync(join(tmpdir(), 'taskos-09-'))

// 1. A task function: job i gets common ⊕ individual[i]; `memory` is declared per job and the
//    maxMemory scheduler keeps the running jobs' sum under its limit.
const texts = ['the quick brown fox', 'jumps over', 'the lazy dog', 'and runs away']
const report = await batch({
  worker: countWords,
  common: { memory: '100MiB' },
  individual: { text: texts },
  scheduler: schedulers.maxMemory({ limit: '200MiB', maxWorkers: 2 }),
})
console.log('word counts:', report.jobs.map((j) => (j.result as { words: number }).words).join(', '))
console.log(`summary: ${report.summary.done} done of ${report.summary.total}, ok ${report.summary.ok}`)

// 2. Commands: {key} is one argument (no shell); stdout/stderr tails and the exit code are reported.
const cmd = await batch({
  worker: { command: ['sh', '-c', 'echo "hello $0"; exit "$1"', '{who}', '{code}'] },
  individual: { who: ['ann', "bob o'brien"], code: [0, 3] },
  scheduler: schedulers.maxWorkers(2),
})
for (const j of cmd.jobs)
  console.log(`command ${j.name}: ${j.status}, exit ${j.exitCode}, stdout ${JSON.stringify(j.stdout)}`)

// 3. A worker process killed by a signal fails only its own job.
const crash = await batch({
  worker: fragile,
  individual: { n: [1, 2, 3], crash: [false, true, false] },
  scheduler: schedulers.maxWorkers(2),
})
console.log(
  'crash isolated:',
  crash.jobs.map((j) => (j.status === 'done' ? String(j.result) : `${j.status} (${j.signal})`)).join(', '),
)

// 4. Server mode: add instructions any time, end(), wait(); events stream for a UI.
const boss = new Boss({ worker: countWords, isolation: 'thread', scheduler: schedulers.maxWorkers(2) })
let finished = 0
boss.on('job-finished', () => finished++)
boss.add({ individual: [{ name: 'first', text: 'one two' }] })
boss.add({ individual: [{ name: 'second', text: 'three four five' }] })
boss.end()
const served = await boss.wait()
console.log(
  `server mode: ${served.jobs.map((j) => `${j.name}=${(j.result as { words: number }).words}`).join(', ')}; ${finished} job-finished events`,
)

// 5. A journal: the rerun skips what the first run finished and reuses its results.
const journal = join(dir, 'run.journal')
const first = await batch({
  worker: countWords,
  isolation: 'thread',
  individual: { text: texts.slice(0, 2) },
  journal,
})
const again = await batch({ worker: countWords, isolation: 'thread', individual: { text: texts }, journal })
console.log(
  `journal: first run ${first.summary.done} done; rerun ${again.summary.skipped} skipped, ${again.summary.done} done`,
)

rmSync(dir, { recursive: true, force: true })
