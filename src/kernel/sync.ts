/**
 * Shared machinery of the synchronisation primitives (Lock, Semaphore, Event, Condition, Barrier)
 * and of `Channel.deliver`: the options every waiting method takes, an intrusive FIFO wait list,
 * and {@link SyncOp}, the operation base that adds `signal` support to {@link Operation}.
 *
 * The primitives are owner-less and asyncio-style: they are not bound to a task, so their waiting
 * methods create operations without a waiter. A generator task that does `yield* lock.acquire()`
 * binds the operation to itself (its cancellation then rejects the wait); an async task passes
 * `{ signal: t.signal }` for the same effect. Timeouts run on the clock of the primitive's kernel
 * (of the task's kernel when a generator task yields the wait).
 *
 * An operation is lazy: it joins the primitive's queue when its wait begins, not when the method is
 * called. `yield* op` and `op.then(…)` begin it at once; `await op` one microtask later (`await`
 * calls `then` on a thenable from a job). FIFO order is the order in which waits begin. A waiter
 * that times out, is cancelled or aborted leaves the queue at once.
 * @module
 */
import type { Clock } from './clock.js'
import { realClock } from './clock.js'
import { TaskosError, TimeoutError, invalidArgument, invalidOption } from './errors.js'
import { Kernel, defaultKernel } from './kernel.js'
import { Operation, checkTimeout } from './operation.js'

/** Options of every waiting method of the primitives (`acquire`, `wait`, `deliver`, …). */
export interface WaitOptions {
  /** Reject with `TimeoutError` (ERR_TIMEOUT) after this many ms on the kernel's clock. @default wait forever */
  timeout?: number
  /**
   * Reject with `signal.reason` when this signal aborts (at once if it has aborted already). Pass
   * `t.signal` in an async task so that cancelling the task ends the wait.
   * @default none
   */
  signal?: AbortSignal
}

/** Options of the primitives' constructors. */
export interface SyncOptions {
  /** The kernel whose clock runs the timeouts. @default defaultKernel() */
  kernel?: Kernel
}

/** @internal validated wait options. */
export interface CheckedWait {
  timeout: number | undefined
  signal: AbortSignal | undefined
}

const NO_WAIT_OPTIONS: CheckedWait = Object.freeze({ timeout: undefined, signal: undefined })

/** @internal validates {@link WaitOptions}. */
export function checkWaitOptions(options: unknown): CheckedWait {
  if (options === undefined) return NO_WAIT_OPTIONS
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object')
  const o = options as WaitOptions
  const timeout = checkTimeout(o.timeout)
  const signal = o.signal
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidOption('signal', signal, 'an AbortSignal')
  }
  if (timeout === undefined && signal === undefined) return NO_WAIT_OPTIONS
  return { timeout, signal }
}

/** @internal validates {@link SyncOptions}; gives the clock of the `kernel` option, if any. */
export function kernelClock(options: unknown): Clock | undefined {
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object')
  const kernel = (options as SyncOptions).kernel
  if (kernel === undefined) return undefined
  if (!(kernel instanceof Kernel)) throw invalidOption('kernel', kernel, 'a Kernel')
  return kernel.clock
}

/** @internal validates {@link SyncOptions} and gives the clock to use (the default kernel's if none). */
export function clockOf(options: unknown): Clock {
  return kernelClock(options) ?? defaultKernel().clock
}

/** @internal validates a count argument: an integer >= `min`. */
export function checkCount(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalidArgument(name, value, `an integer >= ${min}`)
  }
  return value
}

/**
 * @internal A FIFO of waiting operations, linked through the operations themselves: O(1) push,
 * shift and removal of any member (a timed-out or cancelled waiter leaves from the middle).
 */
export class WaitList<N extends SyncOp<unknown>> {
  #head: N | undefined = undefined
  #tail: N | undefined = undefined
  #length = 0

  get length(): number {
    return this.#length
  }

  /** The oldest waiter, without removing it. */
  get first(): N | undefined {
    return this.#head
  }

  push(node: N): void {
    if (node._list !== undefined) throw new TaskosError('ERR_INVALID_STATE', 'an operation waits in one list')
    node._list = this
    node._prev = this.#tail
    node._next = undefined
    if (this.#tail === undefined) this.#head = node
    else this.#tail._next = node
    this.#tail = node
    this.#length++
  }

  /** Removes and returns the oldest waiter. */
  shift(): N | undefined {
    const node = this.#head
    if (node !== undefined) this.remove(node)
    return node
  }

  /** Removes `node` if it is in this list; returns whether it was. */
  remove(node: N): boolean {
    if (node._list !== this) return false
    const { _prev: prev, _next: next } = node
    if (prev === undefined) this.#head = next as N | undefined
    else prev._next = next
    if (next === undefined) this.#tail = prev as N | undefined
    else next._prev = prev
    node._list = node._prev = node._next = undefined
    this.#length--
    return true
  }

  /** Empties the list and returns its members, oldest first. */
  drain(): N[] {
    const out: N[] = []
    for (let node = this.#head; node !== undefined; node = node._next as N | undefined) out.push(node)
    for (const node of out) node._list = node._prev = node._next = undefined
    this.#head = this.#tail = undefined
    this.#length = 0
    return out
  }

  *[Symbol.iterator](): IterableIterator<N> {
    for (let node = this.#head; node !== undefined; node = node._next as N | undefined) yield node
  }
}

/**
 * @internal Base of the primitives' operations: an {@link Operation} that may sit in one
 * {@link WaitList} and that rejects with `signal.reason` when its signal aborts. The abort listener
 * is added when the wait parks and removed whenever the operation settles or leaves.
 */
export abstract class SyncOp<T> extends Operation<T> {
  /** @internal wait list links */ _list: WaitList<SyncOp<unknown>> | undefined = undefined
  /** @internal */ _prev: SyncOp<unknown> | undefined = undefined
  /** @internal */ _next: SyncOp<unknown> | undefined = undefined
  readonly #signal: AbortSignal | undefined
  #onAbort: (() => void) | undefined = undefined

  constructor(clock: Clock, options: CheckedWait, ownTimeout = false) {
    super(undefined, ownTimeout ? undefined : options.timeout, clock)
    this.#signal = options.signal
  }

  /** Complete at once (`resolve`) or park in the primitive's wait list. May throw to reject. */
  protected abstract attempt(): void
  /** Leave the primitive's wait list if parked there (idempotent). */
  protected abstract withdraw(): void

  protected start(): void {
    const signal = this.#signal
    if (signal !== undefined && signal.aborted) {
      this.reject(signal.reason)
      return
    }
    this.attempt()
    if (signal !== undefined && !this.settled) {
      const onAbort = (): void => this.reject(signal.reason)
      this.#onAbort = onAbort
      signal.addEventListener('abort', onAbort, { once: true })
    }
  }

  protected cancelWait(): void {
    this.unlisten()
    this.withdraw()
  }

  /** Completes the wait; removes the abort listener. */
  override resolve(value: T): void {
    this.unlisten()
    super.resolve(value)
  }

  /** Removes the abort listener, if any. */
  protected unlisten(): void {
    const onAbort = this.#onAbort
    if (onAbort !== undefined) {
      this.#onAbort = undefined
      this.#signal!.removeEventListener('abort', onAbort)
    }
  }

  /** The clock timeouts run on: the generator task's when one drives the wait, else the primitive's. */
  protected get clock(): Clock {
    return this._waiter?.clock ?? this._clock ?? realClock
  }

  /** A `TimeoutError` worded like the base class's, for operations that run their own timer. */
  protected timeoutError(ms: number): TimeoutError {
    const who = this._waiter === undefined ? '' : `${this._waiter.label}: `
    return new TimeoutError(`${who}${this.describe()} timed out after ${ms} ms`, ms)
  }
}

/** @internal What an {@link AcquireOp} needs of a Lock or a Semaphore. */
export interface Acquirable {
  /** Takes the lock or a permit if that is possible without waiting (and nobody waits before). */
  _tryTake(): boolean
  /** Parks a waiter; the source later calls its `_granted()`. */
  _park(op: Grantee<unknown>): void
  /** Removes a parked waiter (timeout, cancellation, abort); a no-op if it is not parked. */
  _unpark(op: Grantee<unknown>): void
  /** What is acquired, for timeout messages. */
  readonly _what: string
}

/** @internal A waiter in a lock's or semaphore's queue: told when the lock or permit is its own. */
export abstract class Grantee<T> extends SyncOp<T> {
  /** The lock or permit now belongs to this waiter. */
  abstract _granted(): void
}

/** @internal `lock.acquire()` / `semaphore.acquire()`. */
export class AcquireOp extends Grantee<void> {
  readonly #source: Acquirable
  constructor(source: Acquirable, clock: Clock, options: CheckedWait) {
    super(clock, options)
    this.#source = source
  }
  protected attempt(): void {
    if (this.#source._tryTake()) this.resolve(undefined)
    else this.#source._park(this)
  }
  protected withdraw(): void {
    this.#source._unpark(this)
  }
  protected describe(): string {
    return this.#source._what
  }
  _granted(): void {
    this.resolve(undefined)
  }
}
