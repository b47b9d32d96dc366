/**
 * {@link Barrier}: a meeting point for a fixed number of tasks (Python `threading.Barrier`,
 * asyncio `Barrier`).
 * @module
 */
import type { Clock } from './clock.js'
import type { Operation } from './operation.js'
import { SyncOp, WaitList, checkCount, checkWaitOptions, clockOf } from './sync.js'
import type { CheckedWait, SyncOptions, WaitOptions } from './sync.js'

/** A snapshot of a {@link Barrier}; plain and JSON-safe. */
export interface BarrierStats {
  /** Arrivals needed to pass. */
  parties: number
  /** Arrivals waiting now for the current cycle. */
  waiting: number
  /** Cycles completed (times `parties` waiters passed together). */
  cycles: number
  /** Arrivals that withdrew (timeout, cancellation, abort) before their cycle completed. */
  withdrawn: number
}

/**
 * A barrier for `parties` waiters: each `wait()` parks until `parties` waits have arrived, then all
 * of them resolve together, each with its arrival index (0 for the first, `parties - 1` for the
 * one that completed the cycle). The barrier is cyclic: the next `parties` arrivals form the next
 * cycle.
 *
 * A waiter that times out, is cancelled or is aborted before its cycle completes withdraws: its
 * arrival no longer counts, and the indices of the others are their positions among the
 * remaining arrivals.
 * @example
 * const barrier = new Barrier(3)
 * for (let i = 0; i < 3; i++) {
 *   k.spawn(function* (t) {
 *     yield* t.sleep(10 * i)                     // phase 1, at different speeds
 *     const index = yield* barrier.wait()         // all three pass at 20 ms
 *     if (index === 0) console.log('first to arrive')
 *   })
 * }
 */
export class Barrier {
  readonly #clock: Clock
  readonly #parties: number
  readonly #waiters = new WaitList<BarrierWaitOp>()
  #cycles = 0
  #withdrawn = 0

  /**
   * @param parties - the number of waiters that pass together, an integer >= 1.
   * @param options - `kernel`: whose clock runs the timeouts. @default defaultKernel()
   * @throws ERR_INVALID_ARGUMENT for a bad `parties` or `options`; ERR_INVALID_OPTION for a bad `kernel`.
   */
  constructor(parties: number, options?: SyncOptions) {
    this.#parties = checkCount('barrier parties', parties, 1)
    this.#clock = clockOf(options)
  }

  /** The number of waiters that pass together. */
  get parties(): number {
    return this.#parties
  }

  /** Arrivals waiting now for the current cycle (always less than `parties`). */
  get waiting(): number {
    return this.#waiters.length
  }

  /**
   * Arrives and waits for the cycle to complete; resolves with the arrival index
   * (0 … `parties - 1`). Awaitable, and `yield*`-able in generator tasks. The arrival counts when
   * the wait is awaited or yielded.
   * @param options - `timeout` (ms, @default none), `signal` (@default none).
   * @throws ERR_INVALID_OPTION for a bad `timeout` or `signal`; as a rejection: ERR_TIMEOUT when
   *   `timeout` expires, the signal's reason when it aborts, the task's cancellation error (the
   *   arrival is withdrawn in each case).
   * @example
   * const index = await barrier.wait({ timeout: 1000 })
   */
  wait(options?: WaitOptions): Operation<number> {
    return new BarrierWaitOp(this, this.#clock, checkWaitOptions(options))
  }

  /**
   * Counters: parties, arrivals waiting, cycles completed, withdrawn arrivals. Cheap.
   * @example
   * barrier.stats()   // { parties: 3, waiting: 1, cycles: 4, withdrawn: 0 }
   */
  stats(): BarrierStats {
    return {
      parties: this.#parties,
      waiting: this.#waiters.length,
      cycles: this.#cycles,
      withdrawn: this.#withdrawn,
    }
  }

  /** @internal an arrival: completes the cycle, or parks. */
  _arrive(op: BarrierWaitOp): void {
    if (this.#waiters.length + 1 < this.#parties) {
      this.#waiters.push(op)
      return
    }
    const waiters = this.#waiters.drain() // the next cycle starts empty
    this.#cycles++
    for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(i)
    op.resolve(waiters.length)
  }

  /** @internal */
  _withdraw(op: BarrierWaitOp): void {
    if (this.#waiters.remove(op)) this.#withdrawn++
  }
}

/** `barrier.wait()`. */
class BarrierWaitOp extends SyncOp<number> {
  readonly #barrier: Barrier
  constructor(barrier: Barrier, clock: Clock, options: CheckedWait) {
    super(clock, options)
    this.#barrier = barrier
  }
  protected attempt(): void {
    this.#barrier._arrive(this)
  }
  protected withdraw(): void {
    this.#barrier._withdraw(this)
  }
  protected describe(): string {
    const b = this.#barrier
    return `barrier wait (${b.waiting} of ${b.parties} arrived)`
  }
}
