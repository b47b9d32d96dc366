/**
 * {@link Condition}: a condition variable over a {@link Lock} (pycos `Condition`, asyncio
 * `Condition`).
 *
 * A wait moves through phases: it checks that the lock is held, releases it and parks in the
 * condition's queue (NOTIFY); `notify` moves it to the lock's queue (REACQUIRE); when the lock is
 * its own again it resolves (DONE). A timeout, cancellation, abort or `task.throw` while parked in
 * NOTIFY withdraws it from the condition's queue and moves it to the lock's queue too: the failure
 * is raised only once the lock is held again, so the caller's `finally { release() }` is always
 * right. The same failure during REACQUIRE (after a notify) is also held back until the lock is
 * re-acquired, and the notification it consumed is passed on to the next waiter (as asyncio does).
 * @module
 */
import type { Clock, TimerHandle } from './clock.js'
import { TaskosError, invalidArgument } from './errors.js'
import { Lock } from './lock.js'
import type { Operation } from './operation.js'
import { Grantee, WaitList, checkCount, checkWaitOptions, clockOf, kernelClock } from './sync.js'
import type { CheckedWait, SyncOptions, WaitOptions } from './sync.js'

/** A snapshot of a {@link Condition}; plain and JSON-safe. */
export interface ConditionStats {
  /** Whether the condition's lock is held now. */
  locked: boolean
  /** Waiters parked for a notification now (not counting notified ones re-acquiring the lock). */
  waiting: number
  /** Waiters notified so far. */
  notified: number
  /** Waits that ended before a notification (timeout, cancellation, abort). */
  withdrawn: number
}

/**
 * A condition variable: tasks holding the lock wait for a notification, releasing the lock while
 * they wait and re-acquiring it before they continue. Owner-less like asyncio's: "the lock is
 * held" means it is locked, by anyone.
 *
 * Timeouts bound the wait for a notification (for `waitFor`, for the predicate to hold), not the
 * re-acquisition of the lock that always follows. A notified waiter queues for the lock behind
 * the tasks already waiting for it. See the module notes for how failures re-acquire the lock.
 * @example
 * const cond = new Condition()
 * const items: number[] = []
 * k.spawn(function* () {                     // consumer
 *   yield* cond.acquire()
 *   try {
 *     yield* cond.waitFor(() => items.length > 0)
 *     console.log(items.shift())
 *   } finally {
 *     cond.release()
 *   }
 * })
 * k.spawn(async () => {                       // producer
 *   await cond.acquire()
 *   items.push(42)
 *   cond.notify()
 *   cond.release()
 * })
 */
export class Condition {
  readonly #lock: Lock
  readonly #clock: Clock
  readonly #waiters = new WaitList<CondWaitOp<unknown>>()
  #notified = 0
  #withdrawn = 0

  /**
   * @param lock - the lock to use (shared with other code or conditions). @default a new Lock
   * @param options - `kernel`: whose clock runs the timeouts. @default the lock's clock when a
   *   lock is given, else defaultKernel()'s
   * @throws ERR_INVALID_ARGUMENT for a `lock` that is not a Lock or bad `options`;
   *   ERR_INVALID_OPTION for a bad `kernel`.
   */
  constructor(lock?: Lock, options?: SyncOptions) {
    if (lock !== undefined && !(lock instanceof Lock)) throw invalidArgument('lock', lock, 'a Lock')
    const clock = kernelClock(options)
    this.#lock = lock ?? new Lock(options)
    this.#clock = clock ?? (lock === undefined ? clockOf(undefined) : lock._clock)
  }

  /** The condition's lock. */
  get lock(): Lock {
    return this.#lock
  }

  /** Whether the condition's lock is held. */
  get locked(): boolean {
    return this.#lock.locked
  }

  /** Waiters parked for a notification now. */
  get waiting(): number {
    return this.#waiters.length
  }

  /**
   * Acquires the condition's lock (`lock.acquire`).
   * @throws as `Lock.acquire`.
   * @example
   * yield* cond.acquire()
   */
  acquire(options?: WaitOptions): Operation<void> {
    return this.#lock.acquire(options)
  }

  /** Takes the condition's lock if it is free and nobody waits (`lock.tryAcquire`). */
  tryAcquire(): boolean {
    return this.#lock.tryAcquire()
  }

  /**
   * Releases the condition's lock (`lock.release`).
   * @throws ERR_INVALID_STATE when the lock is not held.
   */
  release(): void {
    this.#lock.release()
  }

  /**
   * Releases the lock, waits for a notification, re-acquires the lock, then resolves. Awaitable,
   * and `yield*`-able in generator tasks.
   * @param options - `timeout` (ms, for the notification, @default none), `signal` (@default none).
   * @throws ERR_INVALID_OPTION for a bad `timeout` or `signal`; as a rejection (always with the
   *   lock held again): ERR_INVALID_STATE when the lock is not held at the start, ERR_TIMEOUT when
   *   no notification came in time, the signal's reason, the task's cancellation error.
   * @example
   * await cond.acquire()
   * try {
   *   while (!ready) await cond.wait({ timeout: 1000 })
   * } finally {
   *   cond.release()
   * }
   */
  wait(options?: WaitOptions): Operation<void> {
    return new CondWaitOp<void>(this, this.#lock, this.#clock, checkWaitOptions(options), undefined)
  }

  /**
   * Waits until `predicate()` gives a truthy value and resolves with it: checks it at once (with
   * the lock held), then after each notification once the lock is held again. The timeout covers
   * the whole wait.
   * @param predicate - called with the lock held; a throw rejects the wait (lock held).
   * @param options - `timeout` (ms, @default none), `signal` (@default none).
   * @throws ERR_INVALID_ARGUMENT when `predicate` is not a function; otherwise as `wait`.
   * @example
   * const item = yield* cond.waitFor(() => queue.shift(), { timeout: 5000 })
   */
  waitFor<R>(predicate: () => R, options?: WaitOptions): Operation<R> {
    if (typeof predicate !== 'function') {
      throw invalidArgument('predicate', predicate, 'a function () => value')
    }
    return new CondWaitOp<R>(this, this.#lock, this.#clock, checkWaitOptions(options), predicate)
  }

  /**
   * Wakes up to `n` waiters, oldest first: each re-acquires the lock once it is released.
   * @param n - how many waiters to wake, an integer >= 0. @default 1
   * @returns how many were woken.
   * @throws ERR_INVALID_ARGUMENT for a bad `n`; ERR_INVALID_STATE when the lock is not held.
   * @example
   * cond.notify()
   */
  notify(n = 1): number {
    checkCount('n', n, 0)
    this.#checkHeld('notify')
    return this._wake(n)
  }

  /**
   * Wakes every waiter.
   * @returns how many were woken.
   * @throws ERR_INVALID_STATE when the lock is not held.
   * @example
   * cond.notifyAll()
   */
  notifyAll(): number {
    this.#checkHeld('notifyAll')
    return this._wake(this.#waiters.length)
  }

  /**
   * Counters: lock held or not, waiters, notified and withdrawn waits. Cheap.
   * @example
   * cond.stats()   // { locked: false, waiting: 2, notified: 7, withdrawn: 1 }
   */
  stats(): ConditionStats {
    return {
      locked: this.#lock.locked,
      waiting: this.#waiters.length,
      notified: this.#notified,
      withdrawn: this.#withdrawn,
    }
  }

  #checkHeld(what: string): void {
    if (!this.#lock.locked) {
      throw new TaskosError('ERR_INVALID_STATE', `condition ${what} needs the condition's lock held`)
    }
  }

  /** @internal moves up to `n` waiters to the lock's queue. */
  _wake(n: number): number {
    let woken = 0
    while (woken < n) {
      const op = this.#waiters.shift()
      if (op === undefined) break
      this.#notified++
      woken++
      op._notify()
    }
    return woken
  }

  /** @internal */
  _park(op: CondWaitOp<unknown>): void {
    this.#waiters.push(op)
  }

  /** @internal */
  _unpark(op: CondWaitOp<unknown>): void {
    if (this.#waiters.remove(op)) this.#withdrawn++
  }
}

const IDLE = 0
const NOTIFY = 1 // parked in the condition's queue, lock released
const REACQUIRE = 2 // parked in the lock's queue
const DONE = 3

/** `condition.wait()` and `condition.waitFor()`; runs its own timer (only while in NOTIFY). */
class CondWaitOp<R> extends Grantee<R> {
  readonly #cond: Condition
  readonly #lock: Lock
  readonly #predicate: (() => R) | undefined
  readonly #timeout: number | undefined
  #deadline = 0
  #timer: TimerHandle | undefined = undefined
  #phase = IDLE
  #failed = false
  #error: unknown = undefined

  constructor(
    cond: Condition,
    lock: Lock,
    clock: Clock,
    options: CheckedWait,
    predicate: (() => R) | undefined,
  ) {
    super(clock, options, true)
    this.#cond = cond
    this.#lock = lock
    this.#predicate = predicate
    this.#timeout = options.timeout
  }

  protected attempt(): void {
    if (!this.#lock.locked) {
      throw new TaskosError('ERR_INVALID_STATE', `${this.describe()} needs the condition's lock held`)
    }
    if (this.#timeout !== undefined) this.#deadline = this.clock.now() + this.#timeout
    if (this.#predicate !== undefined) {
      const value = this.#predicate()
      if (value) {
        this.#phase = DONE
        this.resolve(value)
        return
      }
    }
    this.#park()
  }

  /** The lock is ours: park for a notification, then release the lock (which may hand it on). */
  #park(): void {
    this.#phase = NOTIFY
    this.#cond._park(this)
    if (this.#timeout !== undefined) {
      this.#timer = this.clock.setTimer(Math.max(0, this.#deadline - this.clock.now()), this.#onTimeout)
    }
    this.#lock.release()
  }

  #onTimeout = (): void => {
    this.#timer = undefined
    this.reject(this.timeoutError(this.#timeout ?? 0))
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      this.clock.clearTimer(this.#timer)
      this.#timer = undefined
    }
  }

  #reacquire(): void {
    this.#phase = REACQUIRE
    if (this.#lock._tryTake()) this._granted()
    else this.#lock._park(this)
  }

  /** @internal notified: leave NOTIFY (the condition removed it from its queue) for the lock. */
  _notify(): void {
    this.#clearTimer()
    this.#reacquire()
  }

  /** @internal the lock is held again. */
  _granted(): void {
    this.#phase = DONE
    if (this.#failed) {
      super.reject(this.#error)
      return
    }
    const predicate = this.#predicate
    if (predicate === undefined) {
      this.resolve(undefined as R)
      return
    }
    let value: R
    try {
      value = predicate()
    } catch (error) {
      super.reject(error)
      return
    }
    if (value) this.resolve(value)
    else if (this.#timeout !== undefined && this.clock.now() >= this.#deadline) {
      super.reject(this.timeoutError(this.#timeout))
    } else this.#park()
  }

  /** Fails the wait, after re-acquiring the lock when it was released (see the module notes). */
  override reject(error: unknown): void {
    if (this.#phase === NOTIFY) {
      this.#cond._unpark(this)
      this.#clearTimer()
      this.unlisten()
      this.#failed = true
      this.#error = error
      this.#reacquire()
    } else if (this.#phase === REACQUIRE) {
      if (this.#failed) return
      this.#failed = true
      this.#error = error
      this.unlisten()
      this.#cond._wake(1) // the notification this waiter consumed goes to the next one
    } else {
      super.reject(error)
    }
  }

  protected withdraw(): void {
    // a no-op when the wait settles through reject/_granted (phase IDLE or DONE); otherwise the
    // wait is dropped without settling (its generator is closed) and just leaves its queue
    this.#clearTimer()
    if (this.#phase === NOTIFY) this.#cond._unpark(this)
    else if (this.#phase === REACQUIRE) this.#lock._unpark(this)
    this.#phase = DONE
  }

  protected describe(): string {
    return this.#predicate === undefined ? 'condition wait' : 'condition waitFor'
  }
}
