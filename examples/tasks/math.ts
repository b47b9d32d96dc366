/**
 * Task functions for the pool examples and the docs/pool.md snippets: a worker imports this module
 * by its URL and finds each function by its name. Each export is made with `defineTask`.
 */
import { defineTask } from '../../src/index.js' // in your project: from 'taskos'
import type { TaskContext } from '../../src/index.js'

/** x². */
export const square = defineTask(import.meta.url, function square(_t: TaskContext, x: number) {
  return x * x
})

/** The sum of an array or typed array (in `pool.partition`: of this part's slice of it). */
export const sum = defineTask(import.meta.url, function sum(_t: TaskContext, xs: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]!
  return s
})

/** Fills this part's slice [start, end) of a shared array with i² (no copy, no result to send). */
export const fillSquares = defineTask(
  import.meta.url,
  function fillSquares(t: TaskContext, out: Float64Array): number {
    const { start, end } = t.part!
    for (let i = start; i < end; i++) out[i] = i * i
    return end - start
  },
)

/** Two phases over a shared array with a `t.sync()` barrier between them (Eidolon's sync). */
export const prefixSums = defineTask(
  import.meta.url,
  async function prefixSums(t: TaskContext, xs: Float64Array, totals: Float64Array): Promise<void> {
    const { index, start, end } = t.part!
    // phase 1: a running sum within this part's slice
    for (let i = start + 1; i < end; i++) xs[i]! += xs[i - 1]!
    totals[index] = end > start ? xs[end - 1]! : 0
    await t.sync() // every part has finished phase 1
    // phase 2: add the totals of the parts before this one
    let offset = 0
    for (let p = 0; p < index; p++) offset += totals[p]!
    for (let i = start; i < end; i++) xs[i]! += offset
  },
)

/** Busy-waits `ms` milliseconds (CPU-bound work that never yields), then returns `ms`. */
export const spin = defineTask(import.meta.url, function spin(_t: TaskContext, ms: number): number {
  const end = performance.now() + ms
  while (performance.now() < end);
  return ms
})

/** Works in steps of 10 ms, checking `t.signal` between steps (cooperative cancellation). */
export const steps = defineTask(import.meta.url, async function steps(t: TaskContext, n: number) {
  for (let i = 0; i < n; i++) {
    t.signal.throwIfAborted()
    await t.sleep(10) // a kernel wait: rejects at once when the task is cancelled
    t.progress(i + 1, n)
  }
  return n
})

/** Sums the numbers sent to its mailbox until it receives 'end'. */
export const accumulate = defineTask(import.meta.url, async function accumulate(t: TaskContext) {
  let total = 0
  for (;;) {
    const m = await t.receive<number | 'end'>({ timeout: 5000 })
    if (m === 'end') return total
    total += m
  }
})

/** An error class with its own properties, to show what survives the trip back. */
export class QuotaError extends Error {
  readonly code = 'EQUOTA'
  constructor(
    readonly user: string,
    options?: ErrorOptions,
  ) {
    super(`quota exceeded for ${user}`, options)
  }
}

/** Fails with a QuotaError (caused by another error) for 'eve', else returns the user's quota. */
export const quota = defineTask(import.meta.url, function quota(_t: TaskContext, user: string) {
  if (user === 'eve') throw new QuotaError(user, { cause: new Error('disk 3 is full') })
  return 100
})

/** Throws a value that is not an Error. */
export const throwValue = defineTask(
  import.meta.url,
  function throwValue(_t: TaskContext, value: unknown): never {
    throw value
  },
)

/** Ends its worker with `process.exit(code)`: the thread in a thread pool, else the process. */
export const exit = defineTask(import.meta.url, function exit(_t: TaskContext, code: number) {
  process.exit(code)
})

/** Allocates until the worker runs out of heap (use with `resourceLimits`). */
export const hog = defineTask(import.meta.url, function hog(): never {
  const chunks: number[][] = []
  for (;;) chunks.push(new Array<number>(1e6).fill(1))
})
