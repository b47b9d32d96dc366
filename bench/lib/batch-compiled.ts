/**
 * taskos batch as plain JavaScript for bench/batch.ts: started from the TypeScript sources, every
 * worker thread or process runs through tsx (about a second of start-up per worker here), which is
 * not what users of the published package run. `src/kernel`, `src/pool` and `src/batch` are
 * transpiled (no type checking, by ./compiled.ts) into a directory under the OS temp dir, with the
 * benchmark's task module as `bench-tasks.js` and its measured child as `bench-child.js` beside them.
 * @module
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { compileSources } from './compiled.js'

const TASKS = `import { defineTask } from './pool/index.js'
export const tiny = defineTask(import.meta.url, function tiny(_t, ins) { return ins.i })
export const wait = defineTask(import.meta.url, async function wait(_t, ins) {
  await new Promise((resolve) => setTimeout(resolve, ins.ms))
  return ins.ms
})
`

/**
 * Runs one measured batch in a plain node process (no tsx anywhere), prints { ms, cpuMs, done }.
 * `raw-long` is the plain-Node floor of the long jobs: two `fork`ed node processes that each take a
 * 200 ms job over IPC, one after the other, timed from the forks to their exits like a batch.
 */
const CHILD = `import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { batch, schedulers } from './batch/index.js'
import { tiny, wait } from './bench-tasks.js'
const [kind, nText, isolation] = process.argv.slice(2)
const n = Number(nText)
function rawLong() {
  let next = 0
  let done = 0
  const slot = () => new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(new URL('./bench-raw-worker.js', import.meta.url)), [], { serialization: 'advanced' })
    c.on('message', (m) => {
      if (m !== 'ready') done++
      if (next < n) { next++; c.send(200) } else c.disconnect()
    })
    c.on('error', reject)
    c.on('exit', resolve)
  })
  return Promise.all([slot(), slot()]).then(() => ({ summary: { done } }))
}
const options =
  kind === 'tiny' ? { worker: tiny, isolation, individual: { i: Array.from({ length: n }, (_, i) => i) } }
  : kind === 'shell' ? { worker: { command: ['true'] }, individual: { i: Array.from({ length: n }, (_, i) => i) } }
  : { worker: wait, isolation, individual: { ms: Array.from({ length: n }, () => 200) } }
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const report = kind === 'raw-long' ? await rawLong() : await batch({ ...options, scheduler: schedulers.maxWorkers(2) })
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, done: report.summary.done }))
`

/** The raw floor's worker: a job is a number of ms to wait; it answers with the same number. */
const RAW_WORKER = `process.on('message', (ms) => setTimeout(() => process.send(ms), ms))
process.send('ready')
`

/** File URLs of the compiled `batch/index.js` and `bench-tasks.js` (built once per source version). */
export async function compiledBatch(): Promise<{ batch: string; tasks: string; child: string }> {
  const out = await compileSources(['kernel', 'pool', 'batch'], {
    'bench-tasks.js': TASKS,
    'bench-child.js': CHILD,
    'bench-raw-worker.js': RAW_WORKER,
  })
  return {
    batch: pathToFileURL(join(out, 'batch', 'index.js')).href,
    tasks: pathToFileURL(join(out, 'bench-tasks.js')).href,
    child: join(out, 'bench-child.js'),
  }
}
