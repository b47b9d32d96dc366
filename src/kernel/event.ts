/**
 * {@link Event}: a flag tasks can wait for (pycos `Event`, asyncio `Event`).
 * @module
 */
import type { Clock } from './clock.js'
import type { Operation } from './operation.js'
import { SyncOp, WaitList, checkWaitOptions, clockOf } from './sync.js'
import type { CheckedWait, SyncOptions, WaitOptions } from './sync.js'

/** A snapshot of an {@link Event}; plain and JSON-safe. */
export interface EventStats {
  /** Whether the flag is set now. */
  isSet: boolean
  /** Waiters parked now. */
  waiting: number
  /** Times `set()` turned the flag on. */
  sets: number
  /** Waiters woken by `set()` so far. */
  woken: number
}

/**
 * A flag, initially clear. `set()` turns it on and wakes every waiter (oldest first); `wait()`
 * resolves at once while it is set; `clear()` turns it off again. Named `Event` like asyncio's;
 * it is not the DOM `Event` class (import it under another name if both are needed).
 * @example
 * const ready = new Event()
 * k.spawn(function* () {
 *   yield* ready.wait()
 *   console.log('go')
 * })
 * ready.set()
 */
export class Event {
  readonly #clock: Clock
  #set = false
  readonly #waiters = new WaitList<EventWaitOp>()
  #sets = 0
  #woken = 0

  /**
   * @param options - `kernel`: whose clock runs the timeouts. @default defaultKernel()
   * @throws ERR_INVALID_ARGUMENT when `options` is not an object; ERR_INVALID_OPTION for a bad `kernel`.
   */
  constructor(options?: SyncOptions) {
    this.#clock = clockOf(options)
  }

  /** Whether the flag is set. */
  get isSet(): boolean {
    return this.#set
  }

  /**
   * Sets the flag and wakes every waiter, oldest first. A no-op when it is set already.
   * @example
   * done.set()
   */
  set(): void {
    if (this.#set) return
    this.#set = true
    this.#sets++
    const waiters = this.#waiters.drain()
    this.#woken += waiters.length
    for (const op of waiters) op.resolve(undefined)
  }

  /**
   * Clears the flag: later waits park until the next `set()`. Waiters already woken stay woken.
   * @example
   * done.clear()
   */
  clear(): void {
    this.#set = false
  }

  /**
   * Waits until the flag is set (resolves at once if it is). Awaitable, and `yield*`-able in
   * generator tasks.
   * @param options - `timeout` (ms, @default none), `signal` (@default none).
   * @throws ERR_INVALID_OPTION for a bad `timeout` or `signal`; as a rejection: ERR_TIMEOUT when
   *   `timeout` expires, the signal's reason when it aborts, the task's cancellation error.
   * @example
   * await ready.wait({ timeout: 5000 })
   */
  wait(options?: WaitOptions): Operation<void> {
    return new EventWaitOp(this, this.#clock, checkWaitOptions(options))
  }

  /**
   * Counters: set or not, waiters, times set, waiters woken. Cheap.
   * @example
   * ready.stats()   // { isSet: false, waiting: 3, sets: 0, woken: 0 }
   */
  stats(): EventStats {
    return { isSet: this.#set, waiting: this.#waiters.length, sets: this.#sets, woken: this.#woken }
  }

  /** @internal */
  _park(op: EventWaitOp): void {
    this.#waiters.push(op)
  }

  /** @internal */
  _unpark(op: EventWaitOp): void {
    this.#waiters.remove(op)
  }
}

/** `event.wait()`. */
class EventWaitOp extends SyncOp<void> {
  readonly #event: Event
  constructor(event: Event, clock: Clock, options: CheckedWait) {
    super(clock, options)
    this.#event = event
  }
  protected attempt(): void {
    if (this.#event.isSet) this.resolve(undefined)
    else this.#event._park(this)
  }
  protected withdraw(): void {
    this.#event._unpark(this)
  }
  protected describe(): string {
    return 'event wait'
  }
}
