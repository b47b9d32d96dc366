/**
 * Time for the kernel. Every timeout and sleep goes through a {@link Clock}, so tests can swap the
 * real clock for a {@link VirtualClock} and run timeouts instantly and deterministically.
 * @module
 */
import { invalidArgument, invalidOption } from './errors.js'

/** An opaque handle for a timer set on a {@link Clock}. */
export type TimerHandle = object

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds since an arbitrary origin, monotonic. */
  now(): number
  /** Calls `fn` once, `ms` from now (0 or less: as soon as possible, never synchronously). */
  setTimer(ms: number, fn: () => void): TimerHandle
  /** Cancels a timer; a no-op if it fired or was cleared already. */
  clearTimer(handle: TimerHandle): void
  /**
   * Called by a kernel when it starts using this clock, with a probe that says whether the kernel
   * has runnable work. Real clocks ignore it; the virtual clock's auto-advance uses it.
   * @returns a function that detaches the kernel.
   */
  attach?(isBusy: () => boolean): () => void
}

/** Wall-clock time from `performance.now()` and Node timers. The default. */
export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimer: (ms: number, fn: () => void): TimerHandle => setTimeout(fn, ms),
  clearTimer: (handle: TimerHandle): void => clearTimeout(handle as NodeJS.Timeout),
})

interface VirtualTimer {
  at: number
  seq: number
  fn: (() => void) | undefined
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Start time in ms. @default 0 */
  start?: number
  /**
   * Auto-advance: when every attached kernel is idle and no microtask is pending, jump to the next
   * timer and fire it. Waits on real I/O count as idle, so use this for pure-kernel tests.
   * @default false
   */
  auto?: boolean
}

/**
 * A clock that moves only when told: `await clock.advance(ms)`, or by itself in auto mode when
 * nothing else can run. Timers due at the same instant fire in the order they were set.
 * @example
 * const clock = new VirtualClock({ auto: true })
 * const k = new Kernel({ clock })
 * await k.spawn(async (t) => { await t.sleep(60_000) }).join()   // returns at once
 * clock.now()   // 60000
 */
export class VirtualClock implements Clock {
  #now: number
  #seq = 0
  #heap: VirtualTimer[] = []
  #auto: boolean
  #busy = new Set<() => boolean>()
  #autoScheduled = false

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? 0
    if (!Number.isFinite(start)) throw invalidOption('start', start, 'a finite number of ms')
    this.#now = start
    this.#auto = options.auto ?? false
  }

  now(): number {
    return this.#now
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    let n = 0
    for (const t of this.#heap) if (t.fn) n++
    return n
  }

  /** Whether auto-advance is on. */
  get auto(): boolean {
    return this.#auto
  }
  set auto(on: boolean) {
    this.#auto = on
    if (on) this.#scheduleAuto()
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: VirtualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn }
    this.#push(timer)
    if (this.#auto) this.#scheduleAuto()
    return timer
  }

  clearTimer(handle: TimerHandle): void {
    ;(handle as VirtualTimer).fn = undefined
  }

  attach(isBusy: () => boolean): () => void {
    this.#busy.add(isBusy)
    return () => this.#busy.delete(isBusy)
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due in order. After each timer the
   * woken work runs (microtasks and the kernels' run queues) before the next timer fires, so work
   * that sets new timers inside the window sees them fire too.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw invalidArgument('ms', ms, 'a finite number >= 0')
    const end = this.#now + ms
    await this.#settle()
    for (;;) {
      const next = this.#peek()
      if (next === undefined || next.at > end) break
      this.#fireNext()
      await this.#settle()
    }
    this.#now = end
    await this.#settle()
  }

  /** Fires timers one by one until none is left (or `limit` fired); returns how many fired. */
  async runAll(limit = 100_000): Promise<number> {
    let fired = 0
    await this.#settle()
    while (fired < limit && this.#peek() !== undefined) {
      this.#fireNext()
      fired++
      await this.#settle()
    }
    return fired
  }

  /** Lets microtasks, queued immediates and every attached kernel's run queue drain. */
  async #settle(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      let busy = false
      for (const probe of this.#busy) busy ||= probe()
      if (!busy) return
    }
  }

  #fireNext(): void {
    const timer = this.#pop()
    if (timer === undefined) return
    if (timer.at > this.#now) this.#now = timer.at
    const fn = timer.fn
    timer.fn = undefined
    fn?.()
  }

  #scheduleAuto(): void {
    if (this.#autoScheduled) return
    this.#autoScheduled = true
    setImmediate(this.#autoStep)
  }

  #autoStep = (): void => {
    this.#autoScheduled = false
    if (!this.#auto || this.#peek() === undefined) return
    for (const busy of this.#busy) {
      if (busy()) {
        this.#scheduleAuto()
        return
      }
    }
    this.#fireNext()
    if (this.#peek() !== undefined) this.#scheduleAuto()
  }

  #peek(): VirtualTimer | undefined {
    const heap = this.#heap
    while (heap.length > 0 && heap[0]!.fn === undefined) this.#pop()
    return heap[0]
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(heap[i]!, heap[p]!)) break
      ;[heap[i], heap[p]] = [heap[p]!, heap[i]!]
      i = p
    }
  }

  #pop(): VirtualTimer | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
      if (m === i) break
      ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
      i = m
    }
    return top
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
