/**
 * A task running (or queued to run) on a cluster node: the kernel's Task interface (id, status,
 * send, join, settle, cancel) over NATS.
 *
 * State machine: `queued` (waiting for code upload, argument upload or a free slot) → `sent`
 * (on a node, or on the durable work queue) → ended (done | failed | crashed | cancelled). A node
 * lost while the task runs there sends it back to `queued` with the next attempt number (fence),
 * until `retries` is spent (then crashed with HostLostError).
 * @module
 */
import { Operation } from '../kernel/index.js'
import type { Outcome, Task, TaskStatus } from '../kernel/index.js'
import type { TaskSpec } from './protocol.js'

/** @internal how the cluster drives a remote task. */
export interface RemoteTaskOwner {
  _send(task: RemoteTask<unknown>, message: unknown): boolean
  _cancel(task: RemoteTask<unknown>, reason: unknown): boolean
  _ended(task: RemoteTask<unknown>): void
}

/** @internal the host a task runs on, as the cluster tracks it. */
export interface Placed {
  readonly id: string
  readonly name: string
  readonly inflight: Set<RemoteTask<unknown>>
}

/**
 * A remote task: an address for messages (`task.send(m)` reaches `t.receive()` on the node) and a
 * handle to join, settle or cancel it. Not awaitable itself: `await task.join()`.
 */
export class RemoteTask<R = unknown> implements Task<R> {
  /** Unique within its cluster client, from 1. */
  readonly id: number
  /** The task function's name. */
  readonly name: string | undefined
  /** @internal */ _outcome: Outcome<R> | undefined = undefined
  /** @internal attempt number: results of other attempts are discarded */ _fence = 0
  /** @internal */ _spec: TaskSpec | undefined = undefined
  /** @internal */ _host: Placed | undefined = undefined
  /** @internal */ _durable: boolean
  /** @internal */ _retries: number
  /** @internal */ _mail: unknown[] | undefined = undefined
  /** @internal durable: 0 once published, then the stream sequence of its work item */ _seq: number | undefined = undefined
  /** @internal placement constraints */ _want: { host?: string; tags?: readonly string[]; memory?: number }
  /** @internal */ _cleanup: (() => void) | undefined = undefined
  /** @internal 0 not yet placed, 1 placed, 2 failed before it was placed */ #placedState = 0
  #placedError: unknown = undefined
  #placed: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined
  readonly #owner: RemoteTaskOwner
  readonly #promise: Promise<R>
  #resolve!: (value: unknown) => void
  #reject!: (error: unknown) => void

  /** @internal */
  constructor(
    owner: RemoteTaskOwner,
    id: number,
    name: string | undefined,
    durable: boolean,
    retries: number,
    want: { host?: string; tags?: readonly string[]; memory?: number },
  ) {
    this.#owner = owner
    this.id = id
    this.name = name
    this._durable = durable
    this._retries = retries
    this._want = want
    this.#promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve as (value: unknown) => void
      this.#reject = reject
    })
    this.#promise.catch(() => undefined) // observed through join/settle
  }

  /** @internal the task reached a node or the durable queue (or failed before: `error`). */
  _markPlaced(error?: unknown): void {
    if (this.#placedState !== 0) return
    this.#placedState = error === undefined ? 1 : 2
    this.#placedError = error
    if (this.#placed !== undefined) {
      if (error === undefined) this.#placed.resolve()
      else this.#placed.reject(error)
    }
  }

  /** @internal resolves once placed (cluster.spawn waits for it); made only when asked for. */
  _whenPlaced(): Promise<void> {
    if (this.#placedState === 1) return Promise.resolve()
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the task's own error, whatever it is
    if (this.#placedState === 2) return Promise.reject(this.#placedError)
    if (this.#placed === undefined) {
      let resolve!: () => void
      let reject!: (e: unknown) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      this.#placed = { promise, resolve, reject }
    }
    return this.#placed.promise
  }

  /** 'running' until it ends (queued counts as running), then its final state. */
  get status(): TaskStatus {
    return this._outcome?.status ?? 'running'
  }

  /** How many times it was started (1 unless its node was lost and it ran again elsewhere). */
  get attempts(): number {
    return this._fence
  }

  /** The host running it now, if it was placed (fast path) or started (durable path). */
  get host(): string | undefined {
    return this._host?.name
  }

  /** @internal settles once; false if it had ended already. */
  _settle(outcome: Outcome<R>): boolean {
    if (this._outcome !== undefined) return false
    this._outcome = outcome
    this._spec = undefined
    this._mail = undefined
    this._cleanup?.()
    this._cleanup = undefined
    this.#owner._ended(this)
    this._markPlaced(outcome.status === 'done' ? undefined : outcome.error)
    if (outcome.status === 'done') this.#resolve(outcome.value)
    else this.#reject(outcome.error)
    return true
  }

  /** Waits for the task to end: its value, or rejects with its error. Awaitable and `yield*`-able. */
  join(): Operation<R> {
    return Operation.from(this.#promise, `join of remote task #${this.id}`)
  }

  /** Waits for the task to end and gives its outcome; never rejects. */
  settle(): Operation<Outcome<R>> {
    return Operation.from(
      this.#promise.then(
        () => this._outcome!,
        () => this._outcome!,
      ),
      `settle of remote task #${this.id}`,
    )
  }

  /**
   * Sends a message to the task's mailbox on its node (`t.receive()` there). Messages sent before
   * the task reached a node wait for it.
   * @returns false if the task has ended.
   */
  send(message: unknown): boolean {
    return this.#owner._send(this, message)
  }

  /**
   * Cancels the task: it settles at once as cancelled (CancelledError, cause: `reason`), and the
   * node cancels the running body (its `t.signal` aborts). A result that was already on its way is
   * discarded.
   * @returns false if the task had already ended.
   */
  cancel(reason?: unknown): boolean {
    return this.#owner._cancel(this, reason)
  }
}
