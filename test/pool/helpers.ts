import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { afterEach } from 'node:test'
import { TaskosError } from '../../src/kernel/index.js'
import type { ErrorCode } from '../../src/kernel/index.js'
import { Pool } from '../../src/pool/index.js'
import type { PoolEvent, PoolOptions, PoolTask } from '../../src/pool/index.js'

/** Hard limit of every pool test (ms). */
export const LIMIT = 20_000

// Every rejection nobody handled, checked after each test: the pool must never leave one behind.
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => void unhandled.push(reason))
afterEach(async () => {
  // a rejection left unhandled in this turn is reported after the microtasks and one macrotask
  await new Promise<void>((resolve) => setImmediate(resolve))
  const seen = unhandled.splice(0)
  assert.deepEqual(seen.map(String), [], 'no unhandled rejection')
})

/** The rejections reported unhandled so far in this test (taken: the after-test check skips them). */
export async function takeUnhandled(): Promise<unknown[]> {
  await new Promise<void>((resolve) => setImmediate(resolve))
  return unhandled.splice(0)
}

/**
 * Waits for `p`, failing after `ms` with `what` in the message. The timer is ref'd: it also keeps
 * the event loop alive while the pool's idle workers do not.
 */
export async function within<T>(p: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Asserts `p` rejects with a TaskosError of `code` (message matching `message`); returns it. */
export async function rejectsWith(
  p: PromiseLike<unknown>,
  code: ErrorCode,
  message?: RegExp,
  ms = 10_000,
): Promise<TaskosError> {
  let error: unknown
  try {
    await within(p, ms, `a rejection with ${code}`)
  } catch (e) {
    error = e
  }
  assert.ok(error !== undefined, `expected a rejection with ${code}`)
  assert.ok(error instanceof TaskosError, `expected a TaskosError ${code}, got ${inspect(error)}`)
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`)
  if (message) assert.match(error.message, message)
  return error
}

/** Asserts `fn` throws a TaskosError of `code` (message matching `message`). */
export function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TaskosError, `expected a TaskosError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (message) assert.match(e.message, message)
    return true
  })
}

/** The next pool event of `type` that `accept` takes. */
export function nextEvent<K extends PoolEvent['type']>(
  pool: Pool,
  type: K,
  accept: (e: Extract<PoolEvent, { type: K }>) => boolean = () => true,
): Promise<Extract<PoolEvent, { type: K }>> {
  return new Promise((resolve) => {
    const off = pool.on(type, (e) => {
      if (!accept(e)) return
      off()
      resolve(e)
    })
  })
}

/** Resolves once task `task` said it started (its first `t.progress`). Subscribe before it can start. */
export function started(pool: Pool, task: PoolTask<unknown>): Promise<void> {
  return nextEvent(pool, 'progress', (e) => e.task === task).then(() => undefined)
}

/** Runs `submit` and resolves with the tasks once every one said it started (first progress). */
export async function allStarted<const T extends readonly PoolTask<unknown>[]>(
  pool: Pool,
  submit: () => T,
): Promise<T> {
  const seen = new Set<number>()
  let resolveAll!: () => void
  const all = new Promise<void>((resolve) => (resolveAll = resolve))
  const holder: { tasks?: T } = {}
  const off = pool.on('progress', (e) => {
    seen.add(e.task.id)
    if (holder.tasks?.every((t) => seen.has(t.id)) === true) resolveAll()
  })
  const tasks = (holder.tasks = submit())
  try {
    await within(all, 10_000, 'tasks starting')
  } finally {
    off()
  }
  return tasks
}

/** Whether a process runs (a zombie counts as dead). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits (polling /proc, bounded) until none of `pids` runs. */
export async function gone(pids: readonly number[], ms = 5000): Promise<void> {
  const end = performance.now() + ms
  while (pids.some(alive)) {
    if (performance.now() > end)
      assert.fail(`processes still alive after ${ms} ms: ${pids.filter(alive).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The pids of a process pool's workers. */
export function pids(pool: Pool): number[] {
  return pool.stats().perWorker.map((w) => {
    assert.ok(w.pid !== undefined, 'a process worker has a pid')
    return w.pid
  })
}

/**
 * Closes `pool` (destroys it when `how` says so) and checks that no worker is left. A close that
 * does not finish in time fails the test, and the pool is destroyed so the test file still exits.
 */
export async function finish(pool: Pool, how: 'close' | 'destroy' = 'close'): Promise<void> {
  const workerPids = pool.stats().perWorker.flatMap((w) => (w.pid === undefined ? [] : [w.pid]))
  try {
    await within(how === 'close' ? pool.close() : pool.destroy(), 10_000, `pool.${how}()`)
  } catch (error) {
    await pool.destroy()
    throw error
  }
  const s = pool.stats()
  assert.equal(s.workers, 0, 'no worker left')
  assert.equal(s.running, 0, 'nothing running')
  assert.equal(s.queued, 0, 'nothing queued')
  await gone(workerPids)
}

/** Runs `body` with a new pool, then closes it (`finish`); a failing body destroys the pool. */
export async function withPool(options: PoolOptions, body: (pool: Pool) => Promise<void>): Promise<void> {
  const pool = new Pool(options)
  try {
    await body(pool)
  } catch (error) {
    await pool.destroy()
    throw error
  }
  await finish(pool)
}

/** A promise and its resolver. */
export function latch<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}
