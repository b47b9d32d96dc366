/**
 * A thread worker's bounded spin between tasks (used by worker-runtime.ts).
 *
 * A worker asleep in its event loop needs a thread wake-up and Node's message dispatch to see its
 * next task: on a VM the wake-up alone is tens of µs, most of a sequential round trip. So a thread
 * worker that has just sent the results of short work (≤ {@link SPIN_WORK_MS}) and has no task left
 * polls a doorbell for at most {@link SPIN_MS}: the pool bumps `doorbell[0]` after every message it
 * posts, and the worker then takes its messages at once (`receiveMessageOnPort`). Bounds:
 * - the worker calls {@link Spinner.idle} only when none of its tasks is still running (awaiting
 *   I/O, a timer, a barrier or its module): those need the event loop;
 * - a spin that finds nothing costs at most SPIN_MS of CPU and turns spinning off until work comes
 *   again within {@link SHORT_WAIT_MS} of the worker running out of it;
 * - spins that keep finding work hold the event loop for at most {@link HOLD_MS}: then the worker
 *   goes back to it (timers, I/O and immediates run) before it spins again.
 * @module
 */

/** Longest spin (ms) after the worker runs out of tasks. */
export const SPIN_MS = 0.05
/** Spin only after work this short (ms): after longer work a wake-up is a small share of it. */
export const SPIN_WORK_MS = 0.2
/** Longest time (ms) spins may keep the event loop from turning while work keeps coming. */
export const HOLD_MS = 1
/** Work that comes this soon (ms) after the worker ran out of it makes the next idle period spin. */
export const SHORT_WAIT_MS = 2 * SPIN_MS

/** What a spinner needs of its thread; replaced in tests. */
export interface SpinClock {
  now(): number
  /** Runs `fn` once the event loop has turned (`setImmediate`). */
  afterTurn(fn: () => void): void
}

const REAL: SpinClock = { now: () => performance.now(), afterTurn: (fn) => void setImmediate(fn) }

/** @internal the spin policy of one worker; `take` takes and handles every waiting message. */
export class Spinner {
  /** The doorbell's value when the worker last took its messages. */
  #rung = 0
  /** When the worker last ran out of tasks, or -1 while it has some. */
  #idleSince = -1
  #spinNext = true
  /** Since when spins have held the event loop, or -1 once it turned. */
  #holdingSince = -1
  readonly #loopTurned = (): void => {
    this.#holdingSince = -1
  }

  constructor(
    readonly doorbell: Int32Array,
    readonly take: () => void,
    readonly clock: SpinClock = REAL,
  ) {}

  /** The worker took a message through its event loop. */
  woken(): void {
    this.#rung = Atomics.load(this.doorbell, 0)
    this.#noteWait()
  }

  /**
   * The worker sent its results and has no task left, after `workMs` of work: it spins now, unless
   * that work was long, the last spin found nothing, or spins held the event loop long enough.
   */
  idle(workMs: number): void {
    const now = this.clock.now()
    this.#idleSince = now
    if (!this.#spinNext || workMs > SPIN_WORK_MS) return
    if (this.#holdingSince < 0) {
      this.#holdingSince = now
      this.clock.afterTurn(this.#loopTurned)
    } else if (now - this.#holdingSince > HOLD_MS) return
    const until = now + SPIN_MS
    for (;;) {
      const bell = Atomics.load(this.doorbell, 0)
      if (bell !== this.#rung) {
        this.#rung = bell
        this.#noteWait()
        this.take()
        return
      }
      if (this.clock.now() >= until) {
        this.#spinNext = false
        return
      }
    }
  }

  /** Work came: a short wait for it makes the next idle period spin. */
  #noteWait(): void {
    if (this.#idleSince < 0) return
    this.#spinNext = this.clock.now() - this.#idleSince <= SHORT_WAIT_MS
    this.#idleSince = -1
  }
}
