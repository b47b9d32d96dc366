/**
 * taskos/testing: helpers for deterministic tests of concurrent code. Import from `taskos/testing`.
 *
 * - {@link VirtualClock}: a clock that moves only when told (or by itself when every kernel is idle),
 *   so timeouts, sleeps and restart windows run instantly and in a fixed order.
 * - {@link Latch}: a count-down latch, to wait until n things happened instead of sleeping.
 * - {@link startNats}: a throwaway nats-server (or a 3-server cluster; token, TLS) on free loopback
 *   ports, for integration tests of the cluster.
 *
 * Invariants: nothing here keeps the process alive on its own (no timers, no handles), and nothing
 * here reads the wall clock, except `startNats`, whose servers live until `stop()`.
 * @module
 */
import { TaskosError } from '../kernel/index.js'

export { VirtualClock } from '../kernel/index.js'
export type { Clock, TimerHandle, VirtualClockOptions } from '../kernel/index.js'
export { startNats, freePort } from './nats.js'
export type { StartNatsOptions, NatsServerHandle, NatsTlsFiles } from './nats.js'

/**
 * A count-down latch: `wait()` resolves once `countDown()` was called `n` times. Use it to order a
 * test after n events (n tasks started, n messages seen) without sleeping.
 *
 * Counting down past zero is a no-op (as in Java's `CountDownLatch`). `wait()` does not time out by
 * itself: the test runner's timeout bounds it. In a generator task, `yield latch.wait()` waits too
 * (the kernel accepts promises).
 * @example
 * const started = new Latch(3)
 * for (let i = 0; i < 3; i++) k.spawn(async (t) => { started.countDown(); await t.receive() })
 * await started.wait()          // all three are parked in receive now
 */
export class Latch {
  #count: number
  #waiters: (() => void)[] = []

  /**
   * @param count - how many `countDown()` calls open the latch; 0 makes it open from the start.
   * @throws ERR_INVALID_ARGUMENT when `count` is not an integer >= 0.
   */
  constructor(count: number) {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new TaskosError(
        'ERR_INVALID_ARGUMENT',
        `invalid latch count: ${String(count)} (expected an integer >= 0)`,
      )
    }
    this.#count = count
  }

  /** The number of `countDown()` calls still needed; 0 once the latch is open. */
  get count(): number {
    return this.#count
  }

  /** Counts down by one; at zero, every `wait()` resolves. A no-op once the latch is open. */
  countDown(): void {
    if (this.#count === 0) return
    this.#count--
    if (this.#count === 0) {
      const waiters = this.#waiters
      this.#waiters = []
      for (const resolve of waiters) resolve()
    }
  }

  /** Resolves when the count reaches zero (at once, in a microtask, if it is zero already). */
  wait(): Promise<void> {
    if (this.#count === 0) return Promise.resolve()
    return new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  /** Whether the latch is open (count is zero); the non-blocking twin of `wait()`. */
  tryWait(): boolean {
    return this.#count === 0
  }
}
