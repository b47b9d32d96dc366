/**
 * The task-bound kernel operations: receive, sleep, yield, joinAny.
 * @module
 */
import type { Clock, TimerHandle } from './clock.js'
import { realClock } from './clock.js'
import { TaskosError } from './errors.js'
import { Operation } from './operation.js'
import type { Waiter } from './operation.js'
import { NO_MESSAGE } from './task.js'
import type { ReceiveLike, TaskCore } from './task.js'
import type { JoinAnyResult, Task } from './types.js'

/**
 * `t.receive()` with options, or in an async task: the oldest message (that `filter` accepts),
 * waiting for one if needed. (Generator tasks' plain `t.receive()` is a flyweight: see task.ts.)
 */
export class ReceiveOp<T> extends Operation<T> implements ReceiveLike {
  readonly #filter: ((message: unknown) => boolean) | undefined
  constructor(
    task: TaskCore<unknown>,
    filter: ((message: unknown) => boolean) | undefined,
    timeout: number | undefined,
  ) {
    super(task, timeout)
    this.#filter = filter
  }
  protected start(): void {
    const task = this._waiter as TaskCore<unknown>
    if (task._swapPending()) {
      task._applySwap(this)
      return
    }
    const message = task._take(this.#filter)
    if (message !== NO_MESSAGE) {
      this.resolve(message as T)
      return
    }
    // this operation is in the task's waits already: a second receive there is a misuse
    const w = task._wait
    if (Array.isArray(w) && w.filter((o) => (o as Partial<ReceiveLike>)._isReceive === true).length > 1) {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `${task.label} already waits in receive: one receive at a time`,
      )
    }
  }
  protected cancelWait(): void {}
  protected describe(): string {
    return 'receive'
  }
  /** @internal marks receive operations for the task's message delivery. */
  get _isReceive(): true {
    return true
  }
  /** @internal whether a message sent now is for this receive; a throwing filter fails the receive. */
  _accepts(message: unknown): boolean {
    const filter = this.#filter
    if (filter === undefined) return true
    try {
      return filter(message)
    } catch (error) {
      this.reject(error)
      return false
    }
  }
}

/** `t.sleep(ms)` (and `sleep` on any clock): resolves after `ms` on the waiter's clock. */
export class SleepOp extends Operation<void> {
  readonly #ms: number
  #handle: TimerHandle | undefined = undefined
  constructor(waiter: Waiter | undefined, ms: number, clock?: Clock) {
    super(waiter, undefined, clock)
    this.#ms = ms
  }
  #clock(): Clock {
    return this._waiter?.clock ?? this._clock ?? realClock
  }
  protected start(): void {
    this.#handle = this.#clock().setTimer(this.#ms, () => {
      this.#handle = undefined
      this.resolve(undefined)
    })
  }
  protected cancelWait(): void {
    if (this.#handle !== undefined) this.#clock().clearTimer(this.#handle)
    this.#handle = undefined
  }
  protected describe(): string {
    return `sleep(${this.#ms})`
  }
}

/** `t.yield()`: back of the run queue, behind every task that is ready now. */
export class YieldOp extends Operation<void> {
  readonly #task: TaskCore<unknown>
  constructor(task: TaskCore<unknown>) {
    super(task, undefined)
    this.#task = task
  }
  protected start(): void {
    if (this._drivenByKernel) {
      this.queued()
      this.resolve(undefined)
    } else {
      this.#task._yieldTurn(this)
    }
  }
  protected cancelWait(): void {}
  protected describe(): string {
    return 'yield'
  }
}

/** `t.joinAny()`: any finished child (oldest first); undefined when there is none to wait for. */
export class JoinAnyOp extends Operation<JoinAnyResult | undefined> {
  readonly #task: TaskCore<unknown>
  readonly #block: boolean
  constructor(task: TaskCore<unknown>, block: boolean, timeout: number | undefined) {
    super(task, timeout)
    this.#task = task
    this.#block = block
  }
  protected start(): void {
    const kids = this.#task._kids
    const first = kids?.doneHead
    if (first !== undefined) {
      first._observe()
      this.resolve({ task: first as unknown as Task, ...first.outcome! })
    } else if (kids === undefined || kids.live === 0 || !this.#block) {
      this.resolve(undefined)
    } else if (kids.any !== undefined) {
      throw new TaskosError('ERR_INVALID_STATE', `${this.#task.label} already waits in joinAny`)
    } else {
      kids.any = this
    }
  }
  protected cancelWait(): void {
    const kids = this.#task._kids
    if (kids?.any === this) kids.any = undefined
  }
  protected describe(): string {
    return 'joinAny'
  }
  override get joinsTasks(): boolean {
    return true
  }
}
