/**
 * Operations: every kernel wait (receive, sleep, join, lock, …) is an {@link Operation}, an object
 * that is both awaitable (`await op` in an async task or outside any task) and iterable
 * (`yield* op` in a generator task, which the kernel drives itself). An operation is waited once.
 *
 * State machine: idle → waiting → settled. `begin` moves idle → waiting and lets the subclass try
 * to complete at once (a message already in the mailbox, a free lock); `resolve`/`reject` move
 * waiting → settled exactly once, whoever calls first (the source, the timer, a cancellation).
 * @module
 */
import type { Clock, TimerHandle } from './clock.js'
import { realClock } from './clock.js'
import { TaskosError, TimeoutError, describe } from './errors.js'
import { Chained, scheduleFire } from './thenable.js'

/** What an operation needs of the task that waits on it (implemented by the kernel's tasks). */
export interface Waiter {
  readonly clock: Clock
  /** An error to raise instead of starting `op` (cancellation, `throw()`, a failed child), or undefined. */
  interruption(op: { readonly joinsTasks: boolean }): unknown
  /** The operation starts waiting on behalf of this task. */
  addWait(op: Operation<unknown>): void
  /** The operation stopped waiting. */
  removeWait(op: Operation<unknown>): void
  /** A generator task's operation settled: resume the generator through the kernel's run queue. */
  resume(ok: boolean, value: unknown): void
  /** Describes the task for error messages. */
  readonly label: string
}

const IDLE = 0
const WAITING = 1
const SETTLED = 2
// flag bits above the state
const STATE = 3
const OK = 4
const DRIVEN = 8 // yielded from a generator: the kernel resumes it
const STARTING = 16 // inside begin(): a synchronous settle is picked up by the caller
const QUEUED = 32 // always resume through the run queue, even when settled at once (yield)
const DELEGATED = 64 // the iterator protocol has handed `this` out once
const AWAITED = 128 // `then` was called: callbacks in _onF/_onR

// Iterator results for the `yield*` protocol. The kernel (and V8's yield*) reads them at once and
// never keeps them, so two shared objects serve every operation: no allocation per wait.
const YIELDED: { value: unknown; done: false } = { value: undefined, done: false }
const RETURNED: { value: unknown; done: true } = { value: undefined, done: true }

/** @internal a shared `{ value, done: false }`, valid until the next call. */
export function iterYield(value: unknown): IteratorResult<unknown, never> {
  YIELDED.value = value
  return YIELDED
}

/** @internal a shared `{ value, done: true }`, valid until the next call. */
export function iterDone(value: unknown): IteratorResult<never, unknown> {
  RETURNED.value = value
  return RETURNED
}

/** Before settling: a `then` callback (or null/undefined); after: the callback's outcome. */
type Callback = unknown
const FIRED_OK = Symbol('taskos.firedOk')
const FIRED_ERROR = Symbol('taskos.firedError')

/**
 * What becomes of a `then` once the operation settled: the callback's outcome, and the resolvers of
 * the promise `then` returned, once someone used it. Allocated only when needed.
 */
class ThenState {
  promise: Promise<unknown> | undefined = undefined
  resolve: ((value: unknown) => void) | undefined = undefined
  reject: ((error: unknown) => void) | undefined = undefined
  /** Further awaiters of the same operation: each a promise of the operation's own outcome. */
  extra: [(value: unknown) => void, (error: unknown) => void][] | undefined = undefined
}

/**
 * A kernel wait: awaitable (`await op`) and delegable (`yield* op`). Subclasses implement `start`
 * (try to complete at once, or register with their source) and `cancelWait` (unregister).
 * @typeParam T - the value the wait produces.
 */
export abstract class Operation<T> implements Promise<T> {
  /** @internal the task waiting, when known (created through a task's context, or yielded). */
  _waiter: Waiter | undefined
  /** @internal clock for the timeout when no task is bound. */
  _clock: Clock | undefined
  /** @internal state and flags. */
  _bits = IDLE
  /** @internal result or error once settled. */
  _value: unknown = undefined
  /** @internal the timeout in ms until the wait begins, then its timer (undefined: none). */
  _timer: number | TimerHandle | undefined
  /** @internal the callbacks of `then`. */
  _onF: Callback = undefined
  _onR: Callback = undefined
  _then: ThenState | undefined = undefined

  constructor(waiter: Waiter | undefined, timeout: number | undefined, clock?: Clock) {
    this._waiter = waiter
    this._timer = timeout
    this._clock = clock
  }

  /** Try to complete at once, or register with the source. Called once, inside `begin`. */
  protected abstract start(): void
  /** Unregister from the source after a timeout, cancellation or interruption. */
  protected abstract cancelWait(): void
  /** Text for the timeout error: what was being waited for. */
  protected abstract describe(): string

  /**
   * Whether this waits for tasks to end (join, settle, joinAny): such waits are not interrupted by
   * a child's failure, since they are how a parent handles it.
   */
  get joinsTasks(): boolean {
    return false
  }

  /** Whether the operation has settled. */
  get settled(): boolean {
    return (this._bits & STATE) === SETTLED
  }

  /** @internal Starts waiting; a synchronous completion leaves the operation settled. */
  _begin(): void {
    if ((this._bits & STATE) !== IDLE) {
      throw new TaskosError('ERR_INVALID_STATE', `an operation is waited once (${this.describe()})`)
    }
    this._bits = (this._bits & ~STATE) | WAITING | STARTING
    const waiter = this._waiter
    if (waiter !== undefined) {
      const interruption = waiter.interruption(this)
      if (interruption !== undefined) {
        this.#settle(false, interruption)
        this._bits &= ~STARTING
        return
      }
      waiter.addWait(this)
    }
    try {
      this.start()
    } catch (error) {
      this.reject(error)
    }
    const timeout = this._timer
    if (typeof timeout === 'number') {
      if ((this._bits & STATE) === WAITING) {
        const clock = waiter?.clock ?? this._clock ?? realClock
        this._timer = clock.setTimer(timeout, () => this.#onTimeout(timeout))
      } else {
        this._timer = undefined
      }
    }
    this._bits &= ~STARTING
  }

  /** @internal Marks this operation as driven by a generator task (resumed via the run queue). */
  _drive(waiter: Waiter): void {
    this._waiter = waiter
    this._bits |= DRIVEN
  }

  /** @internal Whether the generator driving it can continue at once. */
  get _immediate(): boolean {
    return (this._bits & (STATE | QUEUED)) === SETTLED
  }

  /** @internal Result of a settled operation. */
  get _ok(): boolean {
    return (this._bits & OK) !== 0
  }

  /** Whether a generator task yielded this operation (the kernel resumes it), rather than awaited it. */
  protected get _drivenByKernel(): boolean {
    return (this._bits & DRIVEN) !== 0
  }

  /** @internal Always resume through the run queue, even when completing inside begin (yield). */
  protected queued(): void {
    this._bits |= QUEUED
  }

  /** Completes the wait with a value (the source calls this); ignored once settled. */
  resolve(value: T): void {
    if ((this._bits & STATE) !== WAITING) return
    this.#settle(true, value)
  }

  /** Fails the wait; ignored once settled. Unregisters from the source. */
  reject(error: unknown): void {
    if ((this._bits & STATE) !== WAITING) return
    try {
      this.cancelWait()
    } finally {
      this.#settle(false, error)
    }
  }

  #settle(ok: boolean, value: unknown): void {
    this._bits = (this._bits & ~STATE) | SETTLED | (ok ? OK : 0)
    this._value = value
    this.#clearTimer()
    const waiter = this._waiter
    if (waiter !== undefined) waiter.removeWait(this)
    if ((this._bits & DRIVEN) !== 0) {
      if ((this._bits & (STARTING | QUEUED)) !== STARTING) waiter!.resume(ok, value)
    } else if ((this._bits & AWAITED) !== 0) {
      scheduleFire(this)
    }
  }

  #clearTimer(): void {
    const timer = this._timer
    if (timer !== undefined) {
      this._timer = undefined
      if (typeof timer === 'object') (this._waiter?.clock ?? this._clock ?? realClock).clearTimer(timer)
    }
  }

  /** Runs the `then` callbacks of a settled operation (always from a microtask, as promises do). */
  /** @internal */
  _fire(): void {
    const ok = this._ok
    const value = this._value
    const callback = ok ? this._onF : this._onR
    let rOk = ok
    let r = value
    if (typeof callback === 'function') {
      try {
        r = (callback as (value: unknown) => unknown)(value)
        rOk = true
      } catch (error) {
        r = error
        rOk = false
      }
    }
    // keep the callback's outcome where the callbacks were, for a later chain on `then`'s promise
    this._onF = r
    this._onR = rOk ? FIRED_OK : FIRED_ERROR
    const extra = this._then?.extra
    if (extra !== undefined) for (const [res, rej] of extra) (ok ? res : rej)(value)
    // a failure nobody chained on yet: reject the real promise now, so that it is reported as an
    // unhandled rejection exactly when a promise's would be (a chain added later gets this one)
    const state = rOk ? this._then : this.#chainState()
    if (state?.resolve !== undefined) {
      if (rOk) state.resolve(r)
      else state.reject!(r)
    }
  }

  #chainState(): ThenState {
    const state = (this._then ??= new ThenState())
    state.promise ??= new Promise((resolve, reject) => {
      state.resolve = resolve
      state.reject = reject
    })
    return state
  }

  /** @internal the real promise behind `then`'s result, made when someone chains on it. */
  _chainPromise(): Promise<unknown> {
    const made = this._then?.promise
    if (made !== undefined) return made
    if (this._onR === FIRED_OK) return Promise.resolve(this._onF)
    return this.#chainState().promise!
  }

  #onTimeout(ms: number): void {
    this._timer = undefined
    const who = this._waiter === undefined ? '' : `${this._waiter.label}: `
    this.reject(new TimeoutError(`${who}${this.describe()} timed out after ${ms} ms`, ms))
  }

  /**
   * Awaits the operation. The callbacks run from a microtask once it settles, as with a promise.
   * (The first `then` keeps its callbacks on the operation itself: an awaited wait costs no
   * promise of its own.)
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const bits = this._bits
    if ((bits & DRIVEN) !== 0) {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `an operation is waited once (${this.describe()}): it was yielded`,
      )
    }
    if ((bits & AWAITED) !== 0) {
      // a further awaiter: a promise of the operation's own outcome, chained as usual
      return (this.#outcomePromise() as Promise<T>).then(onfulfilled, onrejected)
    }
    this._bits = bits | AWAITED
    this._onF = onfulfilled
    this._onR = onrejected
    const state = bits & STATE
    if (state === IDLE) this._begin()
    else if (state === SETTLED) scheduleFire(this)
    return new Chained<R1 | R2>(this)
  }

  /** Awaits the operation, handling a failure. */
  catch<R2 = never>(onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<T | R2> {
    return this.then(undefined, onrejected)
  }

  /** Runs `onfinally` when the operation settles, either way. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return (this.#outcomePromise() as Promise<T>).finally(onfinally)
  }

  /** A promise of the operation's own outcome (for second and later awaiters). */
  #outcomePromise(): Promise<unknown> {
    if ((this._bits & STATE) === SETTLED) {
      // the operation's own failure, passed on unchanged (any thrown value, as a promise would)
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return this._ok ? Promise.resolve(this._value) : Promise.reject(this._value)
    }
    return new Promise((resolve, reject) => {
      const state = (this._then ??= new ThenState())
      ;(state.extra ??= []).push([resolve, reject])
      if ((this._bits & STATE) === IDLE) {
        this._bits |= AWAITED
        this._begin()
      }
    })
  }

  /** Operations pass for promises: `Promise.all([task.join(), …])`, `assert.rejects(op)`. */
  get [Symbol.toStringTag](): string {
    return 'Operation'
  }

  // The iterator protocol for `yield*`: hand the operation to the driving kernel once, then return
  // what the kernel resumes the generator with.
  /** Delegation for `yield*` inside generator tasks. */
  [Symbol.iterator](): Iterator<Operation<unknown>, T, unknown> {
    if ((this._bits & (STATE | DELEGATED | AWAITED)) !== IDLE) {
      throw new TaskosError('ERR_INVALID_STATE', `an operation is waited once (${this.describe()})`)
    }
    // The operation is its own iterator (next/throw/return below); `yield*` needs nothing else.
    return this
  }
  /** @internal iterator protocol */
  next(value?: unknown): IteratorResult<Operation<unknown>, T> {
    if ((this._bits & DELEGATED) === 0) {
      this._bits |= DELEGATED
      return iterYield(this) as IteratorResult<Operation<unknown>, T>
    }
    return iterDone(value) as IteratorResult<Operation<unknown>, T>
  }
  /** @internal iterator protocol: the kernel throws a failure into the generator through here. */
  throw(error: unknown): IteratorResult<Operation<unknown>, T> {
    throw error
  }
  /** @internal iterator protocol: the generator is being closed while it waits. */
  return(value?: unknown): IteratorResult<Operation<unknown>, T> {
    if ((this._bits & STATE) === WAITING) {
      try {
        this.cancelWait()
      } finally {
        this._bits = (this._bits & ~STATE) | SETTLED
        this.#clearTimer()
        this._waiter?.removeWait(this)
      }
    }
    return iterDone(value) as IteratorResult<Operation<unknown>, T>
  }

  /** An operation that settles with a promise (or any thenable). */
  static from<T>(promise: PromiseLike<T>, describe = 'promise'): Operation<T> {
    return new PromiseOperation(promise, describe)
  }
}

/** An operation over a promise: settles when the promise does. */
class PromiseOperation<T> extends Operation<T> {
  readonly #source: PromiseLike<T>
  readonly #what: string
  constructor(source: PromiseLike<T>, what: string) {
    super(undefined, undefined)
    this.#source = source
    this.#what = what
  }
  protected start(): void {
    this.#source.then(
      (v) => this.resolve(v),
      (e: unknown) => this.reject(e),
    )
  }
  protected cancelWait(): void {}
  protected describe(): string {
    return this.#what
  }
}

/** Validates a `timeout` option: undefined, or a number of ms >= 0 (Infinity means none). */
export function checkTimeout(timeout: unknown, option = 'timeout'): number | undefined {
  if (timeout === undefined || timeout === Infinity) return undefined
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option ${option}: ${describe(timeout)} (expected a number of ms >= 0)`,
    )
  }
  return timeout
}
