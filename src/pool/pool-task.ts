/**
 * `PoolTask`: the handle of one task on a pool. It is awaitable without a promise of its own: the
 * first `then` keeps its callbacks on the task (as the kernel's `Operation` does), and settled tasks
 * run their callbacks together from one microtask. A pool with 200,000 tasks queued then holds
 * 200,000 small objects, not 200,000 promises and their resolver closures.
 * @module
 */
import { realClock } from '../kernel/clock.js'
import { Chained, scheduleFire } from '../kernel/thenable.js'
import { Operation } from '../kernel/operation.js'
import type { Outcome, Task, TaskStatus, TimerHandle } from '../kernel/index.js'
import type { TransferListItem } from 'node:worker_threads'
import type { PartSpec } from './protocol.js'

/** @internal `_state` of a task: waiting for a worker. */
export const QUEUED = 0
/** @internal `_state` of a task: sent to a worker. */
export const RUNNING = 1
/** @internal `_state` of a task: settled. */
export const ENDED = 2

/** @internal how a task's function reaches a worker: interned once per pool process. */
export interface FnInfo {
  /** Small integer sent instead of the module URL once a worker knows it. */
  readonly key: number
  /** Module URL, or '' for a function shipped as source. */
  readonly module: string
  /** Export name, or the source of a shipped function. */
  readonly name: string
  /** The function's own name, for messages. */
  readonly label: string | undefined
}

/** @internal what a task needs of its pool. */
export interface TaskOwner {
  _cancel(task: PoolTask<unknown>, reason: unknown): boolean
  _sendMessage(task: PoolTask<unknown>, message: unknown): void
}

/** The promise behind the first `then`'s result, made only when someone chains on it. */
interface Chain {
  promise: Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

// After the first `then`'s callback ran, `#onR` says how it went and `#onF` holds its outcome.
const FIRED_OK = Symbol('taskos.firedOk')
const FIRED_ERROR = Symbol('taskos.firedError')

const EMPTY: readonly unknown[] = Object.freeze([])

/** The rarely needed state of a task. */
class Extras {
  transfer: readonly TransferListItem[] | undefined = undefined
  part: PartSpec | undefined = undefined
  mail: unknown[] | undefined = undefined
  timer: TimerHandle | undefined = undefined
  unlisten: (() => void) | undefined = undefined
  crashes = 0
  cancelled = false
  chain: Chain | undefined = undefined
  /** Further awaiters: each a promise of the task's own outcome. */
  extra: [(value: unknown) => void, (error: unknown) => void][] | undefined = undefined
  /** A failure nobody awaited when it came: a rejected promise (reported unless handled in time). */
  orphan: Promise<never> | undefined = undefined
}

/**
 * A task on a pool: awaitable for its value (`await pool.run(fn, args)`), and a {@link Task}
 * (send, join, settle, cancel), so the pool is an `Executor` for `kernel.dispatch`.
 *
 * A task that fails or crashes while nobody awaits it is reported as an unhandled rejection, as a
 * promise would be; a cancelled one (including by `destroy()`) is not.
 * @example
 * const task = pool.run(sum, [xs])
 * task.cancel()                      // or: await task
 */
export class PoolTask<R = unknown> implements Task<R>, PromiseLike<R> {
  /** Unique within the pool, from 1. */
  readonly id: number
  /** The task function's name. */
  get name(): string | undefined {
    return this._fn.label
  }
  /** @internal */ _state = QUEUED
  /** @internal the final status once ended */ _status: TaskStatus = 'running'
  /** @internal the value, or the error once ended */ _value: unknown = undefined
  /** @internal */ _fn: FnInfo
  /** @internal */ _args: readonly unknown[]
  /** @internal the worker slot it runs on */ _worker: unknown = undefined
  readonly #owner: TaskOwner
  // the first `then`'s callbacks; further awaiters in the extras
  #awaited = false
  #onF: unknown = undefined
  #onR: unknown = undefined
  /** What few tasks need (a timer, a signal, a part, …): kept apart, so a plain task stays small. */
  #x: Extras | undefined = undefined

  #extras(): Extras {
    return (this.#x ??= new Extras())
  }
  /** @internal ArrayBuffers to move to the worker. */
  get _transfer(): readonly TransferListItem[] | undefined {
    return this.#x?.transfer
  }
  set _transfer(value: readonly TransferListItem[] | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extras().transfer = value
  }
  /** @internal its part of a partitioned call. */
  get _part(): PartSpec | undefined {
    return this.#x?.part
  }
  set _part(value: PartSpec | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extras().part = value
  }
  /** @internal messages sent before it started. */
  get _mail(): unknown[] | undefined {
    return this.#x?.mail
  }
  set _mail(value: unknown[] | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extras().mail = value
  }
  /** @internal its timeout's timer. */
  get _timer(): TimerHandle | undefined {
    return this.#x?.timer
  }
  set _timer(value: TimerHandle | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extras().timer = value
  }
  /** @internal removes its abort listener. */
  get _unlisten(): (() => void) | undefined {
    return this.#x?.unlisten
  }
  set _unlisten(value: (() => void) | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extras().unlisten = value
  }
  /** @internal crashes of workers it was on. */
  get _crashes(): number {
    return this.#x?.crashes ?? 0
  }
  set _crashes(value: number) {
    this.#extras().crashes = value
  }
  /** @internal cancel (or timeout) requested while it ran. */
  get _cancelled(): boolean {
    return this.#x?.cancelled ?? false
  }
  set _cancelled(value: boolean) {
    this.#extras().cancelled = value
  }

  /** @internal */
  constructor(
    owner: TaskOwner,
    id: number,
    fn: FnInfo,
    args: readonly unknown[],
    transfer: readonly TransferListItem[] | undefined,
  ) {
    this.#owner = owner
    this.id = id
    this._fn = fn
    this._args = args
    if (transfer !== undefined) this.#extras().transfer = transfer
  }

  /** 'running' while queued or running, then its final state. */
  get status(): TaskStatus {
    return this._status
  }

  /** Whether it is still waiting for a worker. */
  get queued(): boolean {
    return this._state === QUEUED
  }

  /** @internal its outcome once ended. */
  get _outcome(): Outcome<R> | undefined {
    if (this._state !== ENDED) return undefined
    return this._status === 'done'
      ? { status: 'done', value: this._value as R }
      : { status: this._status as 'failed', error: this._value }
  }

  /** @internal settles the task once; false if it had ended. */
  _settle(status: TaskStatus, value: unknown): boolean {
    if (this._state === ENDED) return false
    this._state = ENDED
    this._status = status
    this._value = value
    this._args = EMPTY
    const x = this.#x
    if (x !== undefined) {
      if (x.timer !== undefined) {
        realClock.clearTimer(x.timer)
        x.timer = undefined
      }
      if (x.unlisten !== undefined) {
        x.unlisten()
        x.unlisten = undefined
      }
      x.transfer = undefined
      x.mail = undefined
    }
    if (this.#awaited) scheduleFire(this)
    else if (status === 'failed' || status === 'crashed') {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the task's own failure, any value
      this.#extras().orphan = Promise.reject(value)
    }
    return true
  }

  /** @internal runs the `then` callbacks of a settled task (from a microtask, as promises do). */
  _fire(): void {
    const ok = this._status === 'done'
    const value = this._value
    const callback = ok ? this.#onF : this.#onR
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
    this.#onF = r
    this.#onR = rOk ? FIRED_OK : FIRED_ERROR
    const x = this.#x
    const extra = x?.extra
    if (extra !== undefined) {
      x!.extra = undefined
      for (const [resolve, reject] of extra) (ok ? resolve : reject)(value)
    }
    // a failure nobody chained on yet rejects the real promise now, so that it is reported as an
    // unhandled rejection exactly when a promise's would be (a chain added later gets this one)
    const chain = rOk ? x?.chain : (x?.chain ?? this.#newChain())
    if (chain === undefined) return
    if (rOk) chain.resolve(r)
    else chain.reject(r)
  }

  #newChain(): Chain {
    let resolve!: (value: unknown) => void
    let reject!: (error: unknown) => void
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    return (this.#extras().chain = { promise, resolve, reject })
  }

  /** @internal the real promise behind the first `then`'s result, made when someone chains on it. */
  _chainPromise(): Promise<unknown> {
    const chain = this.#x?.chain
    if (chain !== undefined) return chain.promise
    if (this.#onR === FIRED_OK) return Promise.resolve(this.#onF)
    return this.#newChain().promise
  }

  /** A promise of the task's own outcome (for second and later awaiters). */
  #outcomePromise(): Promise<unknown> {
    if (this._state === ENDED) {
      if (this._status === 'done') return Promise.resolve(this._value)
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the task's own failure, any value
      return this.#x?.orphan ?? Promise.reject(this._value)
    }
    return new Promise((resolve, reject) => {
      ;(this.#extras().extra ??= []).push([resolve, reject])
    })
  }

  /** Waits for the value (rejects with the task's error). */
  then<R1 = R, R2 = never>(
    onfulfilled?: ((value: R) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#awaited || this.#x?.orphan !== undefined) {
      this.#awaited = true
      return (this.#outcomePromise() as Promise<R>).then(onfulfilled, onrejected)
    }
    this.#awaited = true
    this.#onF = onfulfilled
    this.#onR = onrejected
    if (this._state === ENDED) scheduleFire(this)
    return new Chained<R1 | R2>(this)
  }

  /** Waits for the value, handling a failure. */
  catch<R2 = never>(onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R | R2> {
    return this.then(undefined, onrejected)
  }

  /** Runs `onfinally` when the task ends. */
  finally(onfinally?: (() => void) | null): Promise<R> {
    this.#awaited = true
    return (this.#outcomePromise() as Promise<R>).finally(onfinally)
  }

  /** Waits for the task to end: its value, or rejects with its error. Awaitable and `yield*`-able. */
  join(): Operation<R> {
    return Operation.from(this, `join of pool task #${this.id}`)
  }

  /** Waits for the task to end and gives its outcome; never rejects. */
  settle(): Operation<Outcome<R>> {
    const outcome = (): Outcome<R> => this._outcome!
    const settled: PromiseLike<Outcome<R>> = {
      then: (resolve) =>
        this.then(
          () => resolve!(outcome()),
          () => resolve!(outcome()),
        ),
    }
    return Operation.from(settled, `settle of pool task #${this.id}`)
  }

  /**
   * Sends a message to the task's mailbox in its worker (`t.receive()` there).
   * @returns false if the task has ended.
   */
  send(message: unknown): boolean {
    if (this._state === ENDED) return false
    if (this._state === QUEUED) (this._mail ??= []).push(message)
    else this.#owner._sendMessage(this, message)
    return true
  }

  /**
   * Cancels the task: a queued task is dropped at once; a running one is cancelled in its worker
   * (its `t.signal` aborts, its kernel waits reject) and, if it has not stopped after the pool's
   * `cancelGrace`, its worker is terminated and replaced.
   * @returns false if the task had already ended.
   */
  cancel(reason?: unknown): boolean {
    return this.#owner._cancel(this, reason)
  }
}
