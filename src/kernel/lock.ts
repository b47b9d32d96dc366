/**
 * {@link Lock}: a mutual-exclusion lock for tasks (pycos `Lock`, asyncio `Lock`).
 * @module
 */
import type { Clock } from './clock.js'
import { TaskosError } from './errors.js'
import type { Operation } from './operation.js'
import { AcquireOp, WaitList, checkWaitOptions, clockOf } from './sync.js'
import type { Acquirable, Grantee, SyncOptions, WaitOptions } from './sync.js'

/** A snapshot of a {@link Lock}; plain and JSON-safe. */
export interface LockStats {
  /** Whether the lock is held now. */
  locked: boolean
  /** Waiters queued now. */
  waiting: number
  /** Acquisitions so far (immediate, after a wait, and by `tryAcquire`). */
  acquired: number
  /** Acquisitions that had to wait. */
  contended: number
  /** Waits that ended without the lock (timeout, cancellation, abort). */
  withdrawn: number
}

/**
 * A mutual-exclusion lock for tasks, owner-less like asyncio's: any code may release it.
 *
 * Fair: waiters get the lock in the order their waits began (`yield*` begins a wait at once,
 * `await` one microtask later, as it does for every thenable). `release()` hands the lock straight
 * to the oldest waiter (it stays locked), so nobody can barge in between: `tryAcquire()` fails
 * while anyone waits. A waiter that times out, is cancelled or is aborted leaves the queue and
 * never receives the lock.
 *
 * Cancellation: a generator task's `yield* lock.acquire()` rejects when the task is cancelled; an
 * async task passes `{ signal: t.signal }`. Once an acquire has resolved, the lock is the caller's
 * even if it is cancelled right after: release it in a `finally`.
 * @example
 * const lock = new Lock()
 * k.spawn(function* (t) {
 *   yield* lock.acquire()
 *   try {
 *     yield* t.sleep(10)        // critical section
 *   } finally {
 *     lock.release()
 *   }
 * })
 * k.spawn(async (t) => {
 *   await lock.acquire({ timeout: 1000, signal: t.signal })
 *   try {
 *     await t.sleep(10)         // critical section
 *   } finally {
 *     lock.release()
 *   }
 * })
 */
export class Lock implements Acquirable {
  /** @internal the clock for timeouts (a Condition over this lock borrows it). */
  readonly _clock: Clock
  #locked = false
  readonly #waiters = new WaitList<Grantee<unknown>>()
  #acquired = 0
  #contended = 0
  #withdrawn = 0
  #granting = false
  #again = false

  /**
   * @param options - `kernel`: whose clock runs the timeouts. @default defaultKernel()
   * @throws ERR_INVALID_ARGUMENT when `options` is not an object; ERR_INVALID_OPTION for a bad `kernel`.
   */
  constructor(options?: SyncOptions) {
    this._clock = clockOf(options)
  }

  /** Whether the lock is held. */
  get locked(): boolean {
    return this.#locked
  }

  /**
   * Waits until the lock is free and takes it (at once if it is free and nobody waits).
   * Awaitable, and `yield*`-able in generator tasks. The wait joins the queue when it is awaited
   * or yielded.
   * @param options - `timeout` (ms, @default none), `signal` (@default none).
   * @throws ERR_INVALID_OPTION for a bad `timeout` or `signal`; as a rejection: ERR_TIMEOUT when
   *   `timeout` expires, the signal's reason when it aborts, the task's cancellation error.
   * @example
   * await lock.acquire({ timeout: 500 })
   */
  acquire(options?: WaitOptions): Operation<void> {
    return new AcquireOp(this, this._clock, checkWaitOptions(options))
  }

  /**
   * Takes the lock if it is free and nobody waits for it. Never waits.
   * @returns whether the lock was taken.
   * @example
   * if (lock.tryAcquire()) {
   *   try { counter++ } finally { lock.release() }
   * }
   */
  tryAcquire(): boolean {
    return this._tryTake()
  }

  /**
   * Releases the lock: the oldest waiter gets it, or it becomes free.
   * @throws ERR_INVALID_STATE when the lock is not held.
   * @example
   * lock.release()
   */
  release(): void {
    if (!this.#locked) throw new TaskosError('ERR_INVALID_STATE', 'release of a lock that is not locked')
    if (this.#granting) {
      // released again from inside a grant (a Condition waiter whose predicate is still false):
      // the loop below hands the lock on, so a long queue does not nest calls
      this.#again = true
      return
    }
    this.#granting = true
    try {
      do {
        this.#again = false
        const next = this.#waiters.shift()
        if (next === undefined) {
          this.#locked = false
          break
        }
        this.#acquired++
        next._granted()
      } while (this.#again)
    } finally {
      this.#granting = false
    }
  }

  /**
   * Counters: held or not, waiters, acquisitions, contended acquisitions, withdrawn waits. Cheap.
   * @example
   * lock.stats()   // { locked: true, waiting: 2, acquired: 5, contended: 3, withdrawn: 0 }
   */
  stats(): LockStats {
    return {
      locked: this.#locked,
      waiting: this.#waiters.length,
      acquired: this.#acquired,
      contended: this.#contended,
      withdrawn: this.#withdrawn,
    }
  }

  /** @internal */
  _tryTake(): boolean {
    if (this.#locked) return false // waiters only exist while the lock is held
    this.#locked = true
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
    return 'lock acquire'
  }
}
