/**
 * 07-pool: task functions on a pool of worker threads. A task function from a module
 * (`defineTask`), a self-contained function shipped as source, `map` over a stream of items, an
 * error that keeps its class name, properties and cause across the thread boundary, a crash that
 * fails only its own task, a timeout that terminates a task which ignores cancellation, and the
 * pool as a kernel's executor.
 *
 *   npx tsx examples/07-pool.ts
 */
import { Kernel, Pool, WorkerCrashedError } from '../src/index.js' // in your project: from 'taskos'
import { exit, quota, spin, square } from './tasks/math.js'
import { primeTest } from './tasks/primes.js'

const pool = new Pool({ workers: 2, cancelGrace: 200 })

// 1. A task function from a module: the worker imports examples/tasks/math.ts and finds `square`.
console.log('square(7) on a worker:', await pool.run(square, [7]))

// 2. A self-contained function (it uses only its arguments) is shipped as source.
console.log('self-contained a + b:', await pool.run((_t, a: number, b: number) => a + b, [2, 3]))

// 3. map: one task per item, results in input order, the input read only as far as needed.
const primes: number[] = []
let i = 0
const below30 = Array.from({ length: 30 }, (_, n) => n)
for await (const isPrime of pool.map(primeTest, below30)) {
  if (isPrime) primes.push(i)
  i++
}
console.log('map: primes below 30:', primes.join(', '))

// 4. An error comes back with its class name, message, own properties and cause.
try {
  await pool.run(quota, ['eve'])
} catch (e) {
  const error = e as Error & { code: string; cause: Error }
  const { name } = error.constructor
  const details = `code ${error.code}, cause: ${error.cause.message}`
  console.log(`error came back: ${name}: ${error.message} (${details})`)
}

// 5. A task that kills its worker fails alone: the others in flight are re-run and complete.
const outcomes = await Promise.all(
  [0, 1, 2, 3, 4].map((x) => (x === 2 ? pool.run(exit, [7]) : pool.run(square, [x])).settle()),
)
const shown = outcomes.map((o) => {
  if (o.status === 'done') return String(o.value)
  const e = o.error
  return e instanceof WorkerCrashedError ? `${o.status} (exit code ${e.exitCode})` : o.status
})
console.log(`crash isolated: [${shown.join(', ')}]`)

// 6. A timeout: the task is cancelled; spin() ignores t.signal, so after cancelGrace (200 ms) its
//    worker is terminated and replaced.
const late = await pool.run(spin, [60_000], { timeout: 100 }).settle()
if (late.status === 'cancelled') console.log('timeout:', (late.error as Error).message)
console.log('the pool carries on: square(9) =', await pool.run(square, [9]))

// 7. The pool as an executor: kernel.dispatch and t.offload run task functions on it.
const k = new Kernel({ executor: pool })
const squares = await k.dispatch([1, 2, 3, 4].map((x) => ({ fn: square, args: [x] as [number] })))
const offloaded = await k.spawn(async (t) => (await t.offload(square, [12])) + 1).join()
console.log(`dispatch on the pool: [${squares.join(', ')}]; offload: ${offloaded}`)
await k.close()

const { completed: done, failed, crashed, cancelled } = pool.stats()
console.log(`stats: ${done} done, ${failed} failed, ${crashed} crashed, ${cancelled} cancelled`)
await pool.close()
