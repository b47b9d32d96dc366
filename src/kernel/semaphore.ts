/**
 * {@link Semaphore}: a counter of permits for tasks (pycos `Semaphore`, asyncio `Semaphore` and
 * `BoundedSemaphore`).
 * @module
 */
import type { Clock } from './clock.js'
import { TaskosError, invalidOption } from './errors.js'
import type { Operation } from './operation.js'
import { AcquireOp, WaitList, checkCount, checkWaitOptions, clockOf } from './sync.js'
import type { Acquirable, Grantee, SyncOptions, WaitOptions } from './sync.js'

/** Options of `new Semaphore()`. */
export interface SemaphoreOptions extends SyncOptions {
  /**
   * Refuse a `release()` that would raise the value above the initial value (asyncio's
   * BoundedSemaphore): it throws ERR_INVALID_STATE, catching a release without an acquire.
   * @default false
   */
  bounded?: boolean
}

/** A snapshot of a {@link Semaphore}; plain and JSON-safe. */
export interface SemaphoreStats {
  /** Permits free now. */
  value: number
  /** The value given to the constructor. */
  initial: number
  /** Waiters queued now. */
  waiting: number
  /** Permits taken so far (immediately, after a wait, and by `tryAcquire`). */
  acquired: number
  /** Acquisitions that had to wait. */
  contended: number
  /** Waits that ended without a permit (timeout, cancellation, abort). */
  withdrawn: number
}

const DEFAULTS = Object.freeze({ value: 1, bounded: false })

/**
 * A semaphore: `value` permits; `acquire` takes one (waiting while there is none), `release` gives
 * one back. Owner-less, like asyncio's.
 *
 * Fair: waiters get permits in the order they began waiting; `release()` hands the permit straight
 * to the oldest waiter, so `tryAcquire()` fails while anyone waits. A waiter that times out, is
 * cancelled or is aborted leaves the queue and never receives a permit.
 *
 * `release()` may raise the value above the initial value (like asyncio's `Semaphore`), unless
 * the semaphore is `bounded` (like asyncio's `BoundedSemaphore`).
 * @example
 * const slots = new Semaphore(2)       // at most two downloads at a time
 * k.spawn(async (t) => {
 *   await slots.acquire({ signal: t.signal })
 *   try {
 *     await download()
 *   } finally {
 *     slots.release()
 *   }
 * })
 */
export class Semaphore implements Acquirable {
  readonly #clock: Clock
  readonly #initial: number
  readonly #bounded: boolean
  #value: number
  readonly #waiters = new WaitList<Grantee<unknown>>()
  #acquired = 0
  #contended = 0
  #withdrawn = 0

  /**
   * @param value - the initial number of permits, an integer >= 0. @default 1
   * @param options - `kernel` (whose clock runs the timeouts, @default defaultKernel()), `bounded`
   *   (@default false).
   * @throws ERR_INVALID_ARGUMENT for a bad `value` or `options`; ERR_INVALID_OPTION for a bad
   *   `kernel` or `bounded`.
   */
  constructor(value: number = DEFAULTS.value, options?: SemaphoreOptions) {
    this.#initial = this.#value = checkCount('semaphore value', value, 0)
    this.#clock = clockOf(options)
    const bounded = options?.bounded ?? DEFAULTS.bounded
    if (typeof bounded !== 'boolean') throw invalidOption('bounded', bounded, 'a boolean')
    this.#bounded = bounded
  }

  /** Permits free now (0 while anyone waits). */
  get value(): number {
    return this.#value
  }

  /** Whether no permit is free (asyncio `locked()`). */
  get locked(): boolean {
    return this.#value === 0
  }

  /**
   * Waits for a permit and takes it (at once if one is free and nobody waits). Awaitable, and
   * `yield*`-able in generator tasks. The wait joins the queue when it is awaited or yielded.
   * @param options - `timeout` (ms, @default none), `signal` (@default none).
   * @throws ERR_INVALID_OPTION for a bad `timeout` or `signal`; as a rejection: ERR_TIMEOUT when
   *   `timeout` expires, the signal's reason when it aborts, the task's cancellation error.
   * @example
   * yield* sem.acquire({ timeout: 100 })
   */
  acquire(options?: WaitOptions): Operation<void> {
    return new AcquireOp(this, this.#clock, checkWaitOptions(options))
  }

  /**
   * Takes a permit if one is free and nobody waits. Never waits.
   * @returns whether a permit was taken.
   * @example
   * if (sem.tryAcquire()) {
   *   try { work() } finally { sem.release() }
   * }
   */
  tryAcquire(): boolean {
    return this._tryTake()
  }

  /**
   * Gives a permit back: the oldest waiter gets it, or the value grows by one.
   * @throws ERR_INVALID_STATE when the semaphore is `bounded` and the value would exceed the
   *   initial value.
   * @example
   * sem.release()
   */
  release(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) {
      this.#acquired++
      next._granted()
      return
    }
    if (this.#bounded && this.#value >= this.#initial) {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `release of a bounded semaphore above its initial value ${this.#initial}`,
      )
    }
    this.#value++
  }

  /**
   * Counters: value, initial value, waiters, permits taken, contended and withdrawn waits. Cheap.
   * @example
   * sem.stats()   // { value: 0, initial: 2, waiting: 1, acquired: 3, contended: 1, withdrawn: 0 }
   */
  stats(): SemaphoreStats {
    return {
      value: this.#value,
      initial: this.#initial,
      waiting: this.#waiters.length,
      acquired: this.#acquired,
      contended: this.#contended,
      withdrawn: this.#withdrawn,
    }
  }

  /** @internal */
  _tryTake(): boolean {
    if (this.#value === 0) return false // waiters only exist while the value is 0
    this.#value--
    this.#acquired++
    return true
  }

  /** @internal */
  _park(op: Grantee<unknown>): void {
    this.#contended++
    this.#waiters.push(op)
  }

  /** @internal */
  _unpark(op: Grantee<unknown>): void {
    if (this.#waiters.remove(op)) this.#withdrawn++
  }

  /** @internal */
  get _what(): string {
    return 'semaphore acquire'
  }
}
