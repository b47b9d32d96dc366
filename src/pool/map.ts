/**
 * `pool.map`: a task per item, over arrays, iterables and async iterables, as an async iterable
 * with backpressure: at most `concurrency` items are in flight, and the input is read only as
 * results are consumed (never ahead of that window).
 * @module
 */
import { TaskosError, describe } from '../kernel/errors.js'
import type { TaskContext } from '../kernel/index.js'
import type { Pool, PoolTask, RunOptions } from './pool.js'

/** Options of `pool.map`. */
export interface MapOptions extends Pick<RunOptions, 'signal' | 'timeout'> {
  /** Items read from the input and submitted together (one batch of tasks). @default 64 */
  chunkSize?: number
  /** Yield results in input order (true) or as they finish (false). @default true */
  ordered?: boolean
  /** Most items in flight at once. @default 64 per worker */
  concurrency?: number
}

/** @internal */
export async function* map(
  pool: Pool,
  fn: (t: TaskContext, item: never) => unknown,
  items: Iterable<unknown> | AsyncIterable<unknown>,
  options: MapOptions = {},
): AsyncGenerator<unknown, void, undefined> {
  if (
    items === null ||
    typeof items !== 'object' ||
    (!(Symbol.iterator in items) && !(Symbol.asyncIterator in items))
  ) {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `invalid items: ${describe(items)} (expected an array, iterable or async iterable)`,
    )
  }
  const chunkSize = options.chunkSize ?? 64
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option chunkSize: ${describe(chunkSize)} (expected an integer >= 1)`,
    )
  const concurrency = options.concurrency ?? 64 * pool.slots()
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option concurrency: ${describe(concurrency)} (expected an integer >= 1)`,
    )
  const ordered = options.ordered ?? true
  const isAsync = Symbol.asyncIterator in items
  const it = isAsync ? items[Symbol.asyncIterator]() : items[Symbol.iterator]()
  const runOptions: RunOptions = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
  }
  const window: PoolTask<unknown>[] = []
  let exhausted = false
  const fill = async (): Promise<void> => {
    while (!exhausted && window.length < concurrency) {
      const room = Math.min(chunkSize, concurrency - window.length)
      for (let i = 0; i < room; i++) {
        const next = isAsync ? await (it as AsyncIterator<unknown>).next() : (it as Iterator<unknown>).next()
        if (next.done === true) {
          exhausted = true
          break
        }
        window.push(pool.run(fn as (t: TaskContext, item: unknown) => unknown, [next.value], runOptions))
      }
    }
  }
  try {
    await fill()
    while (window.length > 0) {
      let task: PoolTask<unknown>
      if (ordered) task = window.shift()!
      else {
        // whichever finishes first
        const i = await Promise.race(window.map((t, k) => t.settle().then(() => k)))
        task = window.splice(i, 1)[0]!
      }
      const value = await task
      yield value
      // read on only once the consumer took the value: never more than `concurrency` items ahead
      await fill()
    }
  } finally {
    for (const task of window) {
      task.cancel(new TaskosError('ERR_CANCELLED', 'pool.map stopped before this item was consumed'))
      void task.then(undefined, () => undefined) // nobody awaits it any more: its rejection is expected
    }
    if (!exhausted) await (it as AsyncIterator<unknown>).return?.()
  }
}
