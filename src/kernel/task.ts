/**
 * The kernel's task: one fixed-shape object per task, everything else allocated only when used.
 *
 * State machine (`status`): running → done | failed | cancelled (kernel tasks never crash; executor
 * tasks may). While running, a task is in one of three phases: its body runs (or waits in a kernel
 * operation), its body has ended and it waits for its live children (structured concurrency), or it
 * has ended. Links: children hang off the parent in two intrusive lists threaded through the
 * children themselves (`_prev`/`_next`): live children, and finished children nobody has joined
 * yet (oldest first, for `joinAny`). The run queue is threaded through `_rnext`.
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
import { Operation } from './operation.js'
import type { Waiter } from './operation.js'
import type { Outcome, Task, TaskFn, TaskStatus } from './types.js'

// status in the low 3 bits, then flags
const RUNNING = 0
const DONE = 1
const FAILED = 2
const CRASHED = 3
const CANCELLED = 4
const STATUS = 7
const BODY_ENDED = 8 // the body returned or threw; waiting for live children
const CANCEL = 16 // cancellation requested
const OBSERVED = 32 // joined or settled by someone: its failure is handled
const HOT_SWAPPABLE = 64
const RESUME_OK = 128 // the queued resume carries a value (else an error)
const BODY_OK = 256 // the body's own outcome, while waiting for children
const IN_DONE = 512 // in the parent's list of finished, unjoined children
const START_QUEUED = 1024 // queued to start (spawn nested too deep to start at once)
const YIELD_QUEUED = 2048 // an async task's yield() waits in the run queue
const DETACHED = 4096

const STATUS_NAMES: readonly TaskStatus[] = ['running', 'done', 'failed', 'crashed', 'cancelled']

/** Something told when a task ends (joins, monitors, internal watchers). */
export interface Observer {
  _taskEnded(task: KernelTask<unknown>): void
}

/** Children of a task (or the kernel's root tasks): live ones, and finished ones not yet joined. */
export class Family {
  liveHead: KernelTask<unknown> | undefined = undefined
  liveTail: KernelTask<unknown> | undefined = undefined
  live = 0
  doneHead: KernelTask<unknown> | undefined = undefined
  doneTail: KernelTask<unknown> | undefined = undefined
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
  swap: { fn: TaskFn; args: unknown[] | undefined } | undefined = undefined
  names: string[] | undefined = undefined
  timer: TimerHandle | undefined = undefined
  unlisten: (() => void) | undefined = undefined
}

/** The context object handed to a task body; defined in context.ts, created through this hook. */
export interface ContextLike {
  readonly task: KernelTask<unknown>
}
let makeContext: (task: KernelTask<unknown>) => ContextLike
/** @internal wires the context class in (context.ts imports this module, not the reverse). */
export function setContextFactory(factory: (task: KernelTask<unknown>) => ContextLike): void {
  makeContext = factory
}

const GeneratorFunction = (Object.getPrototypeOf(function* () {}) as { constructor: unknown }).constructor

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Generator).next === 'function' &&
    typeof (value as Generator).throw === 'function' &&
    typeof (value as Generator)[Symbol.iterator] === 'function'
  )
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * A task run by a {@link Kernel}: a generator body (driven by the kernel itself) or an async/plain
 * body. Created by `kernel.spawn`, `t.spawn` or `t.spawnDetached`.
 * @typeParam R - the task's result.
 */
export class KernelTask<R = unknown> implements Task<R>, Waiter {
  /** The kernel that runs the task. */
  readonly kernel: Kernel
  /** Unique id within the kernel, counting from 1. */
  readonly id: number
  /** The task that spawned it; undefined for tasks owned by the kernel (`k.spawn`, `spawnDetached`). */
  readonly parent: KernelTask<unknown> | undefined
  /** @internal */ _bits = RUNNING
  /** @internal body function until started */ _fn: TaskFn | undefined
  /** @internal arguments until started */ _args: unknown[] | undefined
  /** @internal the generator of a generator body */ _gen: Generator<unknown, unknown, unknown> | undefined =
    undefined
  /** @internal current context */ _ctx: ContextLike | undefined = undefined
  /** @internal value to resume with (queued), then the final value or error */ _value: unknown = undefined
  /** @internal pending operations */ _wait: Operation<unknown> | Operation<unknown>[] | undefined = undefined
  /** @internal a receive waiting for a message */ _recv: ReceiveLike | undefined = undefined
  /** @internal mailbox, allocated on the first message that finds no receiver */ _mail:
    Fifo<unknown> | undefined = undefined
  /** @internal children */ _kids: Family | undefined = undefined
  /** @internal siblings */ _prev: KernelTask<unknown> | undefined = undefined
  /** @internal siblings */ _next: KernelTask<unknown> | undefined = undefined
  /** @internal run queue link */ _rnext: KernelTask<unknown> | undefined = undefined
  /** @internal rare state */ _x: Extras | undefined = undefined

  /** @internal use `kernel.spawn` or `t.spawn`. */
  constructor(
    kernel: Kernel,
    id: number,
    parent: KernelTask<unknown> | undefined,
    fn: TaskFn,
    args: unknown[] | undefined,
  ) {
    this.kernel = kernel
    this.id = id
    this.parent = parent
    this._fn = fn
    this._args = args
  }

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

  /**
   * Puts a message into the task's mailbox (a waiting `receive` takes it at once).
   * @returns true if delivered; false if the task has ended (the message is not kept).
   */
  send(message: unknown): boolean {
    if ((this._bits & STATUS) !== RUNNING) return false
    this.kernel._messages++
    const recv = this._recv
    if (recv !== undefined && recv._accepts(message)) {
      this._recv = undefined
      recv.resolve(message)
      return true
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

  /** Number of messages waiting in the mailbox. */
  get mailboxSize(): number {
    return this._mail?.length ?? 0
  }

  // ---- joining --------------------------------------------------------------------------------

  /**
   * Waits for the task to end. Resolves with its value; rejects with its error (a failed task's
   * own error, `CancelledError` or `TimeoutError` when cancelled). Joining marks the task observed:
   * its failure no longer fails its parent.
   */
  join(): Operation<R> {
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
  _addObserver(observer: Observer): void {
    const x = this._extras()
    ;(x.observers ??= []).push(observer)
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
   * @param reason - kept as the `cause` of the `CancelledError` (a `TaskosError` of code
   *   ERR_CANCELLED or ERR_TIMEOUT is used as is).
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
    const wait = this._wait
    const first = Array.isArray(wait) ? wait[0] : wait
    if (first !== undefined) {
      first.reject(error)
    } else {
      const x = this._extras()
      x.hasThrow = true
      x.throwValue = error
    }
    return true
  }

  /** @internal Waiter: the error to raise instead of starting `op`, if any. */
  interruption(op: Operation<unknown>): unknown {
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

  /** @internal Waiter: a generator task's operation settled; resume it through the run queue. */
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

  _failWaits(error: unknown): void {
    const w = this._wait
    if (w === undefined) return
    if (Array.isArray(w)) for (const op of w.slice()) op.reject(error)
    else w.reject(error)
  }

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

  /**
   * Replaces the task's body with `fn` (pycos hot swap): the new body starts with the same id,
   * mailbox and children when the task next waits in `receive` while hot-swappable
   * (`t.hotSwappable(true)`), at once if it waits there now. The old body is closed (a generator
   * runs its `finally` blocks; an async body's pending receive rejects with ERR_HOT_SWAPPED) and its
   * result is ignored. A second hotSwap before the first applies replaces it.
   * @throws ERR_INVALID_STATE if the task has ended; ERR_INVALID_ARGUMENT if fn is not a function.
   */
  hotSwap<F extends TaskFn>(fn: F, args?: unknown[]): void {
    if (typeof fn !== 'function') {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `hotSwap needs a task function, got ${typeof fn}`)
    }
    if ((this._bits & (STATUS | BODY_ENDED)) !== 0) {
      throw new TaskosError('ERR_INVALID_STATE', `${this.label} has ended: it cannot be hot-swapped`)
    }
    this._extras().swap = { fn, args }
    const recv = this._recv
    if (recv !== undefined && (this._bits & HOT_SWAPPABLE) !== 0) this._applySwap(recv)
  }

  /** @internal whether a hot swap should replace the body at this receive. */
  _swapPending(): boolean {
    return (this._bits & HOT_SWAPPABLE) !== 0 && this._x?.swap !== undefined
  }

  /** @internal closes the current body (waiting in `recv`) and starts the swapped-in one. */
  _applySwap(recv: Operation<unknown>): void {
    const swap = this._x!.swap!
    this._x!.swap = undefined
    if (this._recv === recv) this._recv = undefined
    const gen = this._gen
    this._gen = undefined
    this._ctx = undefined
    if (gen !== undefined) {
      // settle the receive quietly, then close the generator so its finally blocks run
      recv.return()
      try {
        gen.return(undefined)
      } catch {
        // an error thrown by the old body's finally block has nowhere to go: the body is replaced
      }
    } else {
      recv.reject(new TaskosError('ERR_HOT_SWAPPED', `${this.label}: body replaced by hotSwap`))
    }
    this._bits &= ~HOT_SWAPPABLE
    this._fn = swap.fn
    this._args = swap.args
    this._start()
  }

  // ---- running ----------------------------------------------------------------------------------

  /** @internal runs the body until its first wait (or to its end). */
  _start(): void {
    const fn = this._fn as unknown as (...args: unknown[]) => unknown
    const args = this._args
    this._fn = undefined
    this._args = undefined
    const ctx = makeContext(this)
    this._ctx = ctx
    const kernel = this.kernel
    const prev = kernel._current
    kernel._current = this
    let result: unknown
    try {
      result = args === undefined || args.length === 0 ? fn(ctx) : fn(ctx, ...args)
    } catch (error) {
      kernel._current = prev
      this._bodyEnded(ctx, false, error)
      return
    }
    kernel._current = prev
    if (fn.constructor === GeneratorFunction || isGenerator(result)) {
      this._gen = result as Generator<unknown, unknown, unknown>
      this._step(true, undefined)
    } else if (isThenable(result)) {
      result.then(
        (value) => this._bodyEnded(ctx, true, value),
        (error: unknown) => this._bodyEnded(ctx, false, error),
      )
    } else {
      this._bodyEnded(ctx, true, result)
    }
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
    if (gen === undefined) return
    const kernel = this.kernel
    const prev = kernel._current
    kernel._current = this
    for (;;) {
      let r: IteratorResult<unknown, unknown>
      try {
        r = ok ? gen.next(value) : gen.throw(value)
      } catch (error) {
        kernel._current = prev
        if (this._gen === gen) this._bodyEnded(this._ctx, false, error)
        return
      }
      if (this._gen !== gen) break // hot-swapped from inside the body
      if (r.done === true) {
        kernel._current = prev
        this._bodyEnded(this._ctx, true, r.value)
        return
      }
      let op = r.value
      if (!(op instanceof Operation)) {
        if (isThenable(op)) {
          op = Operation.from(op)
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
      const operation = op as Operation<unknown>
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
    kernel._current = prev
  }

  /** @internal the body returned or threw. */
  _bodyEnded(ctx: ContextLike | undefined, ok: boolean, value: unknown): void {
    if (ctx !== this._ctx || (this._bits & (STATUS | BODY_ENDED)) !== 0) return // replaced body
    this._gen = undefined
    this._bits |= BODY_ENDED
    this._bits = ok ? this._bits | BODY_OK : this._bits & ~BODY_OK
    this._value = value
    if (this._wait !== undefined) {
      this._failWaits(new CancelledError(`${this.label} ended while this wait was pending`))
    }
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
    else if ((bits & CANCEL) !== 0 && (value instanceof CancelledError || value instanceof TimeoutError)) {
      status = CANCELLED
    } else if (value instanceof WorkerCrashedError || value instanceof HostLostError) status = CRASHED
    else status = FAILED
    bits = (bits & ~(STATUS | BODY_ENDED | BODY_OK)) | status
    this._bits = bits
    this._value = value
    if (kids !== undefined) {
      // drop the links between finished, unjoined children: they must not keep each other alive
      for (let c = kids.doneHead; c !== undefined;) {
        const next = c._next
        c._prev = c._next = undefined
        c._bits &= ~IN_DONE
        c = next
      }
    }
    this._kids = undefined
    this._mail = undefined
    this._ctx = undefined
    this._recv = undefined
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
        this._bits |= OBSERVED
        for (const o of observers) o._taskEnded(this)
      }
    }
    this.kernel._taskEnded(this, status)
  }

  /** @internal a child ended: move it to the finished list (unless observed) and maybe complete. */
  _childEnded(child: KernelTask<unknown>): void {
    const kids = this._kids!
    unlinkLive(kids, child)
    const s = child._bits & STATUS
    if ((child._bits & OBSERVED) === 0) {
      child._bits |= IN_DONE
      child._prev = kids.doneTail
      if (kids.doneTail === undefined) kids.doneHead = child
      else kids.doneTail._next = child
      kids.doneTail = child
      if (s === FAILED || s === CRASHED) kids.failed++
      const any = kids.any
      if (any !== undefined) {
        kids.any = undefined
        child._observe()
        any.resolve({ task: child, ...child.outcome! })
      } else if (kids.failed > 0 && (this._bits & BODY_ENDED) === 0) {
        this._interruptForChild()
      }
    }
    if ((this._bits & BODY_ENDED) !== 0) {
      if ((child._bits & OBSERVED) === 0 && (s === FAILED || s === CRASHED) && (this._bits & BODY_OK) !== 0) {
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

  /** @internal whether the failure of this ended task was observed by anyone. */
  get _observed(): boolean {
    return (this._bits & OBSERVED) !== 0
  }
}

/** @internal links a new child at the tail of a family's live list. */
export function linkLive(kids: Family, child: KernelTask<unknown>): void {
  child._prev = kids.liveTail
  if (kids.liveTail === undefined) kids.liveHead = child
  else kids.liveTail._next = child
  kids.liveTail = child
  kids.live++
}

/** @internal unlinks a child from a family's live list. */
export function unlinkLive(kids: Family, child: KernelTask<unknown>): void {
  const { _prev: prev, _next: next } = child
  if (prev === undefined) kids.liveHead = next
  else prev._next = next
  if (next === undefined) kids.liveTail = prev
  else next._prev = prev
  child._prev = child._next = undefined
  kids.live--
}

/** Marker for "no message" (undefined is a valid message). */
export const NO_MESSAGE: unique symbol = Symbol('taskos.noMessage')

/** What the task needs of a receive operation. */
export interface ReceiveLike extends Operation<unknown> {
  _accepts(message: unknown): boolean
}

/**
 * `join()` / `settle()` of a kernel task: settles when the target ends. With `outcome` it resolves
 * with the outcome and never rejects.
 */
class JoinOp<T> extends Operation<T> implements Observer {
  readonly #target: KernelTask<unknown>
  readonly #outcome: boolean
  constructor(target: KernelTask<unknown>, waiter: Waiter | undefined, outcome: boolean) {
    super(waiter, undefined)
    this.#target = target
    this.#outcome = outcome
  }
  protected start(): void {
    const target = this.#target
    target._observe()
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
  _taskEnded(target: KernelTask<unknown>): void {
    const outcome = target.outcome!
    if (this.#outcome) this.resolve(outcome as T)
    else if (outcome.status === 'done') this.resolve(outcome.value as T)
    else this.reject(outcome.error)
  }
}

/** @internal creates a join operation bound to a waiting task (used by `t.join`). */
export function joinOperation<R>(target: KernelTask<unknown>, waiter: Waiter | undefined): Operation<R> {
  target._observe()
  return new JoinOp<R>(target, waiter, false)
}
