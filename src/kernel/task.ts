/**
 * The kernel's task state machine: one fixed-shape object per task, everything else allocated only
 * when used. The same object is the task's handle (what `spawn` returns) and its context `t` (what
 * the body gets); context.ts adds the context methods in a subclass.
 *
 * State (`status`): running → done | failed | cancelled (kernel tasks never crash themselves; a
 * task that rethrows a crash error of an executor task is counted as crashed). While running, a
 * task is in one of three phases: its body runs (or waits in a kernel operation), its body has
 * ended and it waits for its live children (structured concurrency), or it has ended.
 *
 * Links: children hang off the parent in two intrusive lists threaded through the children
 * themselves (`_prev`/`_next`): live children, and finished children nobody has observed yet
 * (oldest first, for `joinAny`). The run queue is threaded through `_rnext`.
 *
 * Waits: a wait is an {@link Operation} in `_wait`, except the two commonest waits of generator
 * tasks, `yield* t.receive()` and `yield* t.yield()`, which are flyweights: one shared stateless
 * operation each, with the parked state kept in the task's bits (no allocation per wait).
 * @module
 */
import type { Clock, TimerHandle } from './clock.js'
import {
  CancelledError,
  HostLostError,
  TaskFailedError,
  TaskosError,
  TimeoutError,
  WorkerCrashedError,
} from './errors.js'
import { Fifo } from './fifo.js'
import type { Kernel } from './kernel.js'
import { Operation, iterDone, iterYield } from './operation.js'
import type { Waiter } from './operation.js'
import type { Outcome, TaskFn, TaskStatus } from './types.js'

// status in the low 3 bits, then flags
const RUNNING = 0
const DONE = 1
const FAILED = 2
const CRASHED = 3
const CANCELLED = 4
const STATUS = 7
const BODY_ENDED = 1 << 3 // the body returned or threw; waiting for live children
const CANCEL = 1 << 4 // cancellation requested
const OBSERVED = 1 << 5 // joined, settled or monitored: its failure is handled
const HOT_SWAPPABLE = 1 << 6
const RESUME_OK = 1 << 7 // the queued resume carries a value (else an error)
const BODY_OK = 1 << 8 // the body's own outcome, while waiting for children
const IN_DONE = 1 << 9 // in the parent's list of finished, unobserved children
const START_QUEUED = 1 << 10 // queued to start (spawn nested too deep to start at once)
const YIELD_QUEUED = 1 << 11 // an async task's yield() waits in the run queue
const DETACHED = 1 << 12
const STARTED = 1 << 13 // the body was called (`_gen` no longer holds the function)
const GENERATOR = 1 << 14 // the body is a generator, driven by the kernel
const RECEIVING = 1 << 15 // parked in a flyweight receive
const FLY = 1 << 16 // the generator delegates to a flyweight: its next resume passes through it

const STATUS_NAMES: readonly TaskStatus[] = ['running', 'done', 'failed', 'crashed', 'cancelled']

/** Something told when a task ends (joins, monitors). */
export interface Observer {
  _taskEnded(task: TaskCore<unknown>): void
}

/** Children of a task (or the kernel's root tasks): live ones, and finished ones not yet observed. */
export class Family {
  liveHead: TaskCore<unknown> | undefined = undefined
  liveTail: TaskCore<unknown> | undefined = undefined
  live = 0
  doneHead: TaskCore<unknown> | undefined = undefined
  doneTail: TaskCore<unknown> | undefined = undefined
  /** Failed or crashed children in the finished list (unobserved failures). */
  failed = 0
  /** A `joinAny` waiting for the next child to finish. */
  any: Operation<unknown> | undefined = undefined
}

/** Rarely used per-task state, allocated on first use. */
class Extras {
  name: string | undefined = undefined
  observers: Observer[] | undefined = undefined
  controller: AbortController | undefined = undefined
  cancelError: unknown = undefined
  hasThrow = false
  throwValue: unknown = undefined
  swap: { fn: TaskFn; args: readonly unknown[] | undefined } | undefined = undefined
  /** Bodies replaced by hot swap so far: an async body that ends after being replaced is ignored. */
  swaps = 0
  names: string[] | undefined = undefined
  timer: TimerHandle | undefined = undefined
  unlisten: (() => void) | undefined = undefined
  /** The slice of a partitioned call this task computes (pool workers). */
  part: Part | undefined = undefined
}

/** The slice of a value range a task computes in `pool.partition`: part `index` covers [start, end). */
export interface Part {
  readonly index: number
  readonly start: number
  readonly end: number
  /** How many parts the call has. */
  readonly count: number
}

const GeneratorFunction = (Object.getPrototypeOf(function* () {}) as { constructor: unknown }).constructor

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Generator).next === 'function' &&
    typeof (value as Generator).throw === 'function'
  )
}

/**
 * Whether an error that ended a cancelled task is the cancellation itself: a CancelledError or
 * TimeoutError, or an error caused by one (an AbortError from an API given `t.signal`).
 */
function isCancellation(error: unknown): boolean {
  for (let e = error, depth = 0; depth < 4 && e instanceof Error; e = e.cause, depth++) {
    if (e instanceof CancelledError || e instanceof TimeoutError) return true
  }
  return false
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Marker for "no message" (undefined is a valid message). */
export const NO_MESSAGE: unique symbol = Symbol('taskos.noMessage')

/** What the task needs of a receive operation (ops.ts). */
export interface ReceiveLike extends Operation<unknown> {
  _accepts(message: unknown): boolean
  readonly _isReceive: true
}

// ---- flyweight waits --------------------------------------------------------------------------

/** The generator task whose resume should pass through a flyweight's `next` as a result. */
let flyResume: TaskCore<unknown> | undefined
/** The generator task whose code runs now. */
let running: TaskCore<unknown> | undefined

/**
 * A stateless operation shared by every generator task for one kind of wait. `yield*` hands it to
 * the kernel, which keeps the wait's state in the task; when the kernel resumes the task it marks
 * the task so that `next` passes the value through instead of yielding again.
 */
class Flyweight<T> {
  constructor(readonly kind: 'receive' | 'yield') {}
  [Symbol.iterator](): Iterator<unknown, T, unknown> {
    return this
  }
  next(value?: unknown): IteratorResult<unknown, T> {
    if (flyResume !== undefined && flyResume === running) {
      flyResume = undefined
      return iterDone(value) as IteratorResult<unknown, T>
    }
    return iterYield(this)
  }
  throw(error: unknown): never {
    flyResume = undefined
    throw error
  }
  return(value?: unknown): IteratorResult<unknown, T> {
    flyResume = undefined
    return iterDone(value) as IteratorResult<unknown, T>
  }
  then(_f?: unknown, onrejected?: (reason: unknown) => unknown): Promise<never> {
    const error = new TaskosError(
      'ERR_INVALID_STATE',
      `t.${this.kind}() of a generator task is waited with yield* inside that task, not awaited`,
    )
    const p = Promise.reject(error)
    return (onrejected === undefined ? p : p.catch(onrejected)) as Promise<never>
  }
}

/** @internal the flyweight `receive` (no options) of generator tasks. */
export const FLY_RECEIVE = new Flyweight<unknown>('receive')
/** @internal the flyweight `yield` of generator tasks. */
export const FLY_YIELD = new Flyweight<void>('yield')

/**
 * The task state machine. The public view of a task is {@link KernelTask} (context.ts).
 * @internal
 */
export abstract class TaskCore<R = unknown> implements Waiter {
  /** The kernel that runs the task. */
  readonly kernel: Kernel
  /** Unique id within the kernel, counting from 1. */
  readonly id: number
  /** The task that spawned it; undefined for tasks owned by the kernel (`k.spawn`, `spawnDetached`). */
  readonly parent: TaskCore<unknown> | undefined
  /** @internal status and flags */ _bits = RUNNING
  /** @internal the body function until started, then the generator of a generator body */
  _gen: TaskFn | Generator<unknown, unknown, unknown> | undefined
  /** @internal the arguments until started; a queued resume value; the final value or error */
  _value: unknown
  /** @internal pending operations */ _wait: Operation<unknown> | Operation<unknown>[] | undefined = undefined
  /** @internal mailbox, allocated on the first message that finds no receiver */ _mail:
    Fifo<unknown> | undefined = undefined
  /** @internal children */ _kids: Family | undefined = undefined
  /** @internal siblings */ _prev: TaskCore<unknown> | undefined = undefined
  /** @internal siblings */ _next: TaskCore<unknown> | undefined = undefined
  /** @internal run queue link */ _rnext: TaskCore<unknown> | undefined = undefined
  /** @internal rare state */ _x: Extras | undefined = undefined

  /** @internal use `kernel.spawn` or `t.spawn`. */
  constructor(
    kernel: Kernel,
    id: number,
    parent: TaskCore<unknown> | undefined,
    fn: TaskFn,
    args: readonly unknown[] | undefined,
  ) {
    this.kernel = kernel
    this.id = id
    this.parent = parent
    this._gen = fn
    this._value = args
  }

  /** Puts a message into this task's mailbox (see the context class for `t.send(to, message)`). */
  abstract send(message: unknown): boolean
  /** Waits for this task to end (see the context class for `t.join(child)`). */
  abstract join(): Operation<R>

  /** The name given at spawn, if any. */
  get name(): string | undefined {
    return this._x?.name
  }

  /** The current state: 'running' until the task (and all its children) ended. */
  get status(): TaskStatus {
    return STATUS_NAMES[this._bits & STATUS]!
  }

  /** Whether the task has ended. */
  get ended(): boolean {
    return (this._bits & STATUS) !== RUNNING
  }

  /** Whether the task was spawned detached (owned by the kernel). */
  get detached(): boolean {
    return (this._bits & DETACHED) !== 0
  }

  /** `task 'name' #id` or `task #id`, for messages. */
  get label(): string {
    const name = this._x?.name
    return name === undefined ? `task #${this.id}` : `task '${name}' #${this.id}`
  }

  /** @internal */
  get clock(): Clock {
    return this.kernel.clock
  }

  /** @internal */
  _extras(): Extras {
    return (this._x ??= new Extras())
  }

  // ---- messages -------------------------------------------------------------------------------

  /** @internal puts a message into the mailbox; a waiting receive takes it at once. */
  _deliver(message: unknown): boolean {
    const bits = this._bits
    if ((bits & STATUS) !== RUNNING) return false
    this.kernel._messages++
    if ((bits & RECEIVING) !== 0) {
      this._bits = bits & ~RECEIVING
      this.resume(true, message)
      return true
    }
    const w = this._wait
    if (w !== undefined) {
      const recv = receiveOf(w)
      if (recv !== undefined && recv._accepts(message)) {
        recv.resolve(message)
        return true
      }
    }
    ;(this._mail ??= new Fifo()).push(message)
    return true
  }

  /** @internal takes the oldest message `filter` accepts, or returns NO_MESSAGE. */
  _take(filter: ((message: unknown) => boolean) | undefined): unknown {
    const mail = this._mail
    if (mail === undefined || mail.length === 0) return NO_MESSAGE
    if (filter === undefined) return mail.shift()
    const i = mail.findIndex(filter)
    return i < 0 ? NO_MESSAGE : mail.removeAt(i)
  }

  /** @internal whether a receive waits now. */
  _receiving(): boolean {
    return (this._bits & RECEIVING) !== 0 || (this._wait !== undefined && receiveOf(this._wait) !== undefined)
  }

  /** Number of messages waiting in the mailbox. */
  get mailboxSize(): number {
    return this._mail?.length ?? 0
  }

  // ---- joining --------------------------------------------------------------------------------

  /** @internal waits for the task to end: its value, or rejects with its error. Marks it observed. */
  _join(): Operation<R> {
    this._observe()
    return new JoinOp<R>(this, undefined, false)
  }

  /** Waits for the task to end and gives its outcome; never rejects. Marks the task observed. */
  settle(): Operation<Outcome<R>> {
    this._observe()
    return new JoinOp<Outcome<R>>(this, undefined, true)
  }

  /** The outcome of an ended task, or undefined while it runs. */
  get outcome(): Outcome<R> | undefined {
    const s = this._bits & STATUS
    if (s === RUNNING) return undefined
    if (s === DONE) return { status: 'done', value: this._value as R }
    return { status: STATUS_NAMES[s] as 'failed' | 'crashed' | 'cancelled', error: this._value }
  }

  /** @internal marks the task observed and, if it sits in its parent's finished list, removes it. */
  _observe(): void {
    this._bits |= OBSERVED
    if ((this._bits & IN_DONE) !== 0) this._unlinkDone()
  }

  /** @internal */
  get _observed(): boolean {
    return (this._bits & OBSERVED) !== 0
  }

  /** @internal */
  _addObserver(observer: Observer): void {
    ;(this._extras().observers ??= []).push(observer)
  }

  /** @internal */
  _removeObserver(observer: Observer): void {
    const list = this._x?.observers
    if (list === undefined) return
    const i = list.indexOf(observer)
    if (i >= 0) list.splice(i, 1)
  }

  // ---- cancellation and interruption -----------------------------------------------------------

  /**
   * Requests cancellation. Pending and future kernel waits of the task reject with the
   * cancellation error, its `t.signal` aborts, and its children are cancelled. The task ends as
   * 'cancelled' if that error escapes its body; a body that catches it and returns ends 'done'.
   * @param reason - kept as the `cause` of the `CancelledError` (a `CancelledError` or
   *   `TimeoutError` is used as is).
   * @returns false if the task had already ended; true otherwise (also when already cancelled).
   */
  cancel(reason?: unknown): boolean {
    if ((this._bits & STATUS) !== RUNNING) return false
    if ((this._bits & CANCEL) !== 0) return true
    this._bits |= CANCEL
    const error =
      reason instanceof CancelledError || reason instanceof TimeoutError
        ? reason
        : new CancelledError(
            reason === undefined
              ? `${this.label} was cancelled`
              : `${this.label} was cancelled: ${message(reason)}`,
            reason === undefined ? undefined : { cause: reason },
          )
    const x = this._extras()
    x.cancelError = error
    x.controller?.abort(error)
    this._cancelChildren(error)
    this._failWaits(error)
    return true
  }

  /** Whether cancellation was requested. */
  get cancelled(): boolean {
    return (this._bits & CANCEL) !== 0
  }

  /**
   * Raises `error` inside the task at its current kernel wait, or at its next one (COS Task.throw).
   * @returns false if the task had already ended.
   */
  throw(error: unknown): boolean {
    if ((this._bits & STATUS) !== RUNNING) return false
    if ((this._bits & RECEIVING) !== 0) {
      this._bits &= ~RECEIVING
      this.resume(false, error)
      return true
    }
    const w = this._wait
    const first = Array.isArray(w) ? w[0] : w
    if (first !== undefined) first.reject(error)
    else {
      const x = this._extras()
      x.hasThrow = true
      x.throwValue = error
    }
    return true
  }

  /** @internal Waiter: the error to raise instead of starting a wait, if any. */
  interruption(op: { readonly joinsTasks: boolean }): unknown {
    const bits = this._bits
    if ((bits & CANCEL) !== 0) return this._x!.cancelError
    const x = this._x
    if (x !== undefined && x.hasThrow) {
      const e = x.throwValue
      x.hasThrow = false
      x.throwValue = undefined
      return e
    }
    if ((bits & (BODY_ENDED | STATUS)) !== 0) {
      return new TaskosError('ERR_INVALID_STATE', `${this.label} has ended: it can no longer wait`)
    }
    if (this._kids !== undefined && this._kids.failed > 0 && !op.joinsTasks) return this._takeChildFailure()
    return undefined
  }

  /** @internal collects the oldest unobserved failed child and wraps its error for the parent. */
  _takeChildFailure(): TaskFailedError | undefined {
    const kids = this._kids
    if (kids === undefined) return undefined
    for (let c = kids.doneHead; c !== undefined; c = c._next) {
      const s = c._bits & STATUS
      if (s === FAILED || s === CRASHED) {
        c._observe()
        return new TaskFailedError(`${this.label}: child ${c.label} failed: ${message(c._value)}`, {
          cause: c._value,
        })
      }
    }
    return undefined
  }

  /** @internal a child failed unobserved while the body runs: interrupt a wait that is not a join. */
  _interruptForChild(): void {
    if ((this._bits & RECEIVING) !== 0) {
      const failure = this._takeChildFailure()
      this._bits &= ~RECEIVING
      this.resume(false, failure)
      return
    }
    const w = this._wait
    const op = Array.isArray(w)
      ? w.find((o) => !o.joinsTasks)
      : w !== undefined && !w.joinsTasks
        ? w
        : undefined
    if (op === undefined) return
    const failure = this._takeChildFailure()
    if (failure !== undefined) op.reject(failure)
  }

  /** The task's AbortSignal: aborts with the cancellation error when the task is cancelled. */
  get signal(): AbortSignal {
    const x = this._extras()
    if (x.controller === undefined) {
      x.controller = new AbortController()
      if ((this._bits & CANCEL) !== 0) x.controller.abort(x.cancelError)
    }
    return x.controller.signal
  }

  /** @internal Waiter */
  addWait(op: Operation<unknown>): void {
    const w = this._wait
    if (w === undefined) this._wait = op
    else if (Array.isArray(w)) w.push(op)
    else this._wait = [w, op]
  }

  /** @internal Waiter */
  removeWait(op: Operation<unknown>): void {
    const w = this._wait
    if (w === op) this._wait = undefined
    else if (Array.isArray(w)) {
      const i = w.indexOf(op)
      if (i >= 0) w.splice(i, 1)
      if (w.length === 0) this._wait = undefined
    }
  }

  /** @internal Waiter: a generator task's wait settled; resume it through the run queue. */
  resume(ok: boolean, value: unknown): void {
    this._value = value
    this._bits = ok ? this._bits | RESUME_OK : this._bits & ~RESUME_OK
    this.kernel._enqueue(this)
  }

  /** @internal an async task's yield(): resolve `op` when the run queue reaches this task. */
  _yieldTurn(op: Operation<unknown>): void {
    this._value = op
    this._bits |= YIELD_QUEUED
    this.kernel._enqueue(this)
  }

  /** @internal rejects every pending wait (flyweight receive included). */
  _failWaits(error: unknown): void {
    if ((this._bits & RECEIVING) !== 0) {
      this._bits &= ~RECEIVING
      this.resume(false, error)
    }
    const w = this._wait
    if (w === undefined) return
    if (Array.isArray(w)) for (const op of w.slice()) op.reject(error)
    else w.reject(error)
  }

  /** @internal cancels every live child, with `cause` as the reason. */
  _cancelChildren(cause: unknown): void {
    const kids = this._kids
    if (kids === undefined) return
    for (let c = kids.liveHead; c !== undefined;) {
      const next = c._next
      c.cancel(new CancelledError(`${c.label}: its parent ${this.label} was cancelled or failed`, { cause }))
      c = next
    }
  }

  // ---- hot swap -------------------------------------------------------------------------------

  /** @internal */
  _setHotSwappable(on: boolean): void {
    this._bits = on ? this._bits | HOT_SWAPPABLE : this._bits & ~HOT_SWAPPABLE
  }

  /** @internal `hotSwap` (documented on KernelTask). */
  _hotSwap(fn: TaskFn, args?: readonly unknown[]): void {
    if (typeof fn !== 'function') {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `hotSwap needs a task function, got ${typeof fn}`)
    }
    if ((this._bits & (STATUS | BODY_ENDED)) !== 0) {
      throw new TaskosError('ERR_INVALID_STATE', `${this.label} has ended: it cannot be hot-swapped`)
    }
    this._extras().swap = { fn, args }
    if ((this._bits & HOT_SWAPPABLE) !== 0 && this._receiving()) {
      this._applySwap(this._wait === undefined ? undefined : receiveOf(this._wait))
    }
  }

  /** @internal whether a hot swap should replace the body at this receive. */
  _swapPending(): boolean {
    return (this._bits & HOT_SWAPPABLE) !== 0 && this._x?.swap !== undefined
  }

  /** @internal closes the current body (waiting in a receive) and starts the swapped-in one. */
  _applySwap(recv: Operation<unknown> | undefined): void {
    const x = this._x!
    const swap = x.swap!
    x.swap = undefined
    x.swaps++
    this._bits &= ~(RECEIVING | HOT_SWAPPABLE | GENERATOR | FLY | STARTED)
    if ((this._bits & STARTED) === 0 && typeof this._gen === 'object') {
      // a generator body: settle the receive quietly, then close it so its finally blocks run
      const gen = this._gen
      this._gen = undefined
      recv?.return()
      const prev = running
      running = this
      try {
        gen.return(undefined)
      } catch {
        // an error thrown by the old body's finally block has nowhere to go: the body is replaced
      } finally {
        running = prev
      }
    } else {
      recv?.reject(new TaskosError('ERR_HOT_SWAPPED', `${this.label}: body replaced by hotSwap`))
    }
    this._gen = swap.fn
    this._value = swap.args
    this._start()
  }

  // ---- running ----------------------------------------------------------------------------------

  /** @internal runs the body until its first wait (or to its end). */
  _start(): void {
    const fn = this._gen as unknown as (...args: unknown[]) => unknown
    const args = this._value as readonly unknown[] | undefined
    this._gen = undefined
    this._value = undefined
    this._bits |= STARTED
    let result: unknown
    try {
      result = args === undefined || args.length === 0 ? fn(this) : fn(this, ...args)
    } catch (error) {
      this._bodyEnded(false, error)
      return
    }
    if (fn.constructor === GeneratorFunction || isGenerator(result)) {
      this._gen = result as Generator<unknown, unknown, unknown>
      this._bits |= GENERATOR
      this._step(true, undefined)
    } else if (isThenable(result)) {
      const swaps = this._x?.swaps ?? 0
      if (swaps === 0) {
        // bound methods, not closures: no context object per task
        result.then(this._endedOk.bind(this), this._endedFailed.bind(this))
      } else {
        // a hot-swapped-in body: its end counts only while it is the current one
        result.then(
          (value) => {
            if (this._x!.swaps === swaps) this._bodyEnded(true, value)
          },
          (error: unknown) => {
            if (this._x!.swaps === swaps) this._bodyEnded(false, error)
          },
        )
      }
    } else {
      this._bodyEnded(true, result)
    }
  }

  /** @internal the first async body (no hot swap yet) returned. */
  _endedOk(value: unknown): void {
    if ((this._x?.swaps ?? 0) === 0) this._bodyEnded(true, value)
  }

  /** @internal the first async body (no hot swap yet) threw. */
  _endedFailed(error: unknown): void {
    if ((this._x?.swaps ?? 0) === 0) this._bodyEnded(false, error)
  }

  /** @internal whether the body is a generator driven by the kernel. */
  get _isGenerator(): boolean {
    return (this._bits & GENERATOR) !== 0
  }

  /** @internal the run queue reached this task. */
  _run(): void {
    const bits = this._bits
    if ((bits & START_QUEUED) !== 0) {
      this._bits = bits & ~START_QUEUED
      if ((bits & STATUS) === RUNNING) this._start()
    } else if ((bits & YIELD_QUEUED) !== 0) {
      this._bits = bits & ~YIELD_QUEUED
      const op = this._value as Operation<undefined>
      this._value = undefined
      op.resolve(undefined)
    } else {
      const value = this._value
      this._value = undefined
      this._step((bits & RESUME_OK) !== 0, value)
    }
  }

  /** @internal queue the start instead of running it now (deep spawn nesting). */
  _queueStart(): void {
    this._bits |= START_QUEUED
    this.kernel._enqueue(this)
  }

  /** @internal drives a generator body: resume it, then handle what it yields until it parks. */
  _step(ok: boolean, value: unknown): void {
    const gen = this._gen
    if ((this._bits & GENERATOR) === 0 || gen === undefined || typeof gen === 'function') return
    const prevRunning = running
    running = this
    for (;;) {
      let r: IteratorResult<unknown, unknown>
      if ((this._bits & FLY) !== 0) {
        this._bits &= ~FLY
        flyResume = this
      }
      try {
        r = ok ? gen.next(value) : gen.throw(value)
      } catch (error) {
        flyResume = undefined
        running = prevRunning
        if (this._gen === gen) this._bodyEnded(false, error)
        return
      }
      flyResume = undefined
      if (this._gen !== gen) break // hot-swapped from inside the body
      if (r.done === true) {
        running = prevRunning
        this._bodyEnded(true, r.value)
        return
      }
      const op = r.value
      if (op === FLY_RECEIVE || op === FLY_YIELD) {
        this._bits |= FLY
        const interruption = this.interruption(NON_JOIN_WAIT)
        if (interruption !== undefined) {
          ok = false
          value = interruption
          continue
        }
        if (op === FLY_YIELD) {
          this.resume(true, undefined)
          break
        }
        if (this._swapPending()) {
          this._applySwap(undefined)
          break
        }
        const message = this._take(undefined)
        if (message !== NO_MESSAGE) {
          ok = true
          value = message
          continue
        }
        this._bits |= RECEIVING
        break
      }
      if (!(op instanceof Operation)) {
        if (isThenable(op)) {
          value = Operation.from(op)
        } else {
          ok = false
          value = new TaskosError(
            'ERR_INVALID_YIELD',
            `${this.label} yielded ${op === undefined ? 'undefined' : typeof op}: a generator task yields ` +
              'kernel operations (yield* t.receive()) or promises',
          )
          continue
        }
      }
      const operation = (op instanceof Operation ? op : value) as Operation<unknown>
      if (operation._waiter !== undefined && operation._waiter !== this) {
        ok = false
        value = new TaskosError(
          'ERR_INVALID_YIELD',
          `${this.label} yielded an operation of ${operation._waiter.label}: use the task's own context`,
        )
        continue
      }
      try {
        operation._drive(this)
        operation._begin()
      } catch (error) {
        ok = false
        value = error
        continue
      }
      if (this._gen !== gen) break // the operation swapped the body (hot swap at receive)
      if (!operation._immediate) break
      ok = operation._ok
      value = operation._value
    }
    running = prevRunning
  }

  /** @internal the body returned or threw. */
  _bodyEnded(ok: boolean, value: unknown): void {
    if ((this._bits & (STATUS | BODY_ENDED)) !== 0) return
    this._gen = undefined
    this._bits = (this._bits | BODY_ENDED) & ~(GENERATOR | FLY | RECEIVING)
    if (this._wait !== undefined) {
      this._failWaits(new CancelledError(`${this.label} ended while this wait was pending`))
    }
    this._bits = ok ? this._bits | BODY_OK : this._bits & ~BODY_OK
    this._value = value
    const kids = this._kids
    if (kids !== undefined && kids.live > 0) {
      if (!ok) this._cancelChildren(value)
      return
    }
    this._complete()
  }

  /** @internal the body and every child have ended: settle the task. */
  _complete(): void {
    let bits = this._bits
    let ok = (bits & BODY_OK) !== 0
    let value = this._value
    const kids = this._kids
    if (ok && kids !== undefined && kids.failed > 0) {
      value = this._takeChildFailure()
      ok = false
    }
    let status: number
    if (ok) status = DONE
    else if ((bits & CANCEL) !== 0 && isCancellation(value)) status = CANCELLED
    else if (value instanceof WorkerCrashedError || value instanceof HostLostError) status = CRASHED
    else status = FAILED
    bits = (bits & ~(STATUS | BODY_ENDED | BODY_OK)) | status
    this._bits = bits
    this._value = value
    if (kids !== undefined) {
      // drop the links between finished, unobserved children: they must not keep each other alive
      for (let c = kids.doneHead; c !== undefined;) {
        const next = c._next
        c._prev = c._next = undefined
        c._bits &= ~IN_DONE
        c = next
      }
      this._kids = undefined
    }
    this._mail = undefined
    const x = this._x
    if (x !== undefined) {
      if (x.timer !== undefined) this.kernel.clock.clearTimer(x.timer)
      x.unlisten?.()
      x.unlisten = undefined
      x.swap = undefined
      if (x.names !== undefined) this.kernel._unregisterAll(this, x.names)
      const observers = x.observers
      if (observers !== undefined) {
        x.observers = undefined
        for (const o of observers) o._taskEnded(this)
      }
    }
    this.kernel._taskEnded(this, status)
  }

  /** @internal a child ended: move it to the finished list (unless observed) and maybe complete. */
  _childEnded(child: TaskCore<unknown>): void {
    const kids = this._kids!
    unlinkLive(kids, child)
    const s = child._bits & STATUS
    const failed = s === FAILED || s === CRASHED
    if ((child._bits & OBSERVED) === 0) {
      child._bits |= IN_DONE
      child._prev = kids.doneTail
      if (kids.doneTail === undefined) kids.doneHead = child
      else kids.doneTail._next = child
      kids.doneTail = child
      if (failed) kids.failed++
      const any = kids.any
      if (any !== undefined) {
        kids.any = undefined
        child._observe()
        any.resolve({ task: child, ...child.outcome! })
      } else if (failed && (this._bits & BODY_ENDED) === 0) {
        this._interruptForChild()
      }
    }
    if ((this._bits & BODY_ENDED) !== 0) {
      if ((child._bits & OBSERVED) === 0 && failed && (this._bits & BODY_OK) !== 0) {
        this._cancelChildren(child._value)
      }
      if (kids.live === 0) this._complete()
    }
  }

  /** @internal removes this finished child from its parent's finished list. */
  _unlinkDone(): void {
    this._bits &= ~IN_DONE
    const kids = this.parent?._kids
    if (kids === undefined) return
    const s = this._bits & STATUS
    if (s === FAILED || s === CRASHED) kids.failed--
    const { _prev: prev, _next: next } = this
    if (prev === undefined) kids.doneHead = next
    else prev._next = next
    if (next === undefined) kids.doneTail = prev
    else next._prev = prev
    this._prev = this._next = undefined
  }

  /** @internal sets the name, a timeout and a signal from spawn options. */
  _configure(name: string | undefined, timeout: number | undefined, signal: AbortSignal | undefined): void {
    const x = this._extras()
    if (name !== undefined) x.name = name
    if (timeout !== undefined) {
      x.timer = this.kernel.clock.setTimer(timeout, () => {
        x.timer = undefined
        this.cancel(new TimeoutError(`${this.label} timed out after ${timeout} ms`, timeout))
      })
    }
    if (signal !== undefined) {
      if (signal.aborted) this.cancel(signal.reason)
      else {
        const onAbort = (): void => void this.cancel(signal.reason)
        signal.addEventListener('abort', onAbort, { once: true })
        x.unlisten = () => signal.removeEventListener('abort', onAbort)
      }
    }
  }

  /** @internal */
  _markDetached(): void {
    this._bits |= DETACHED
  }
}

/** What `interruption` needs to know of a flyweight wait: it is not a join. */
const NON_JOIN_WAIT = { joinsTasks: false }

function receiveOf(w: Operation<unknown> | Operation<unknown>[]): ReceiveLike | undefined {
  if (!Array.isArray(w))
    return (w as Partial<ReceiveLike>)._isReceive === true ? (w as ReceiveLike) : undefined
  return w.find((o) => (o as Partial<ReceiveLike>)._isReceive === true) as ReceiveLike | undefined
}

/** @internal links a new child at the tail of a family's live list. */
export function linkLive(kids: Family, child: TaskCore<unknown>): void {
  child._prev = kids.liveTail
  if (kids.liveTail === undefined) kids.liveHead = child
  else kids.liveTail._next = child
  kids.liveTail = child
  kids.live++
}

/** @internal unlinks a child from a family's live list. */
export function unlinkLive(kids: Family, child: TaskCore<unknown>): void {
  const { _prev: prev, _next: next } = child
  if (prev === undefined) kids.liveHead = next
  else prev._next = next
  if (next === undefined) kids.liveTail = prev
  else next._prev = prev
  child._prev = child._next = undefined
  kids.live--
}

/**
 * `join()` / `settle()` of a kernel task: settles when the target ends. With `outcome` it resolves
 * with the outcome and never rejects.
 */
class JoinOp<T> extends Operation<T> implements Observer {
  readonly #target: TaskCore<unknown>
  readonly #outcome: boolean
  constructor(target: TaskCore<unknown>, waiter: Waiter | undefined, outcome: boolean) {
    super(waiter, undefined)
    this.#target = target
    this.#outcome = outcome
  }
  protected start(): void {
    const target = this.#target
    if (target.ended) this._taskEnded(target)
    else target._addObserver(this)
  }
  protected cancelWait(): void {
    this.#target._removeObserver(this)
  }
  protected describe(): string {
    return `join of ${this.#target.label}`
  }
  override get joinsTasks(): boolean {
    return true
  }
  _taskEnded(target: TaskCore<unknown>): void {
    const outcome = target.outcome!
    if (this.#outcome) this.resolve(outcome as T)
    else if (outcome.status === 'done') this.resolve(outcome.value as T)
    else this.reject(outcome.error)
  }
}

/** @internal creates a join operation bound to a waiting task (used by `t.join`). */
export function joinOperation<R>(target: TaskCore<unknown>, waiter: Waiter | undefined): Operation<R> {
  target._observe()
  return new JoinOp<R>(target, waiter, false)
}
