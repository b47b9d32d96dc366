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
import type { CodeRef, TaskArgs } from './protocol.js'

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
  /** @internal its code, once known (a bundle is uploaded first) */ _code: CodeRef | undefined = undefined
  /** @internal its arguments as they travel: the (address-wired) array, or a Payload */ _args: TaskArgs | undefined = undefined
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
  /** Waits (join, settle) for its end: no promise per task, only an operation per wait. */
  #waits: EndOperation<unknown> | EndOperation<unknown>[] | undefined = undefined

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
  }

  /** @internal a wait for its end began. */
  _addWait(op: EndOperation<unknown>): void {
    const waits = this.#waits
    if (waits === undefined) this.#waits = op
    else if (Array.isArray(waits)) waits.push(op)
    else this.#waits = [waits, op]
  }

  /** @internal a wait for its end stopped (timed out or was interrupted). */
  _removeWait(op: EndOperation<unknown>): void {
    const waits = this.#waits
    if (waits === op) this.#waits = undefined
    else if (Array.isArray(waits)) {
      const i = waits.indexOf(op)
      if (i >= 0) waits.splice(i, 1)
    }
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
    this._code = undefined
    this._args = undefined
    this._mail = undefined
    this._cleanup?.()
    this._cleanup = undefined
    this.#owner._ended(this)
    this._markPlaced(outcome.status === 'done' ? undefined : outcome.error)
    const waits = this.#waits
    if (waits !== undefined) {
      this.#waits = undefined
      if (Array.isArray(waits)) for (const op of waits) op._end(outcome)
      else waits._end(outcome)
    }
    return true
  }

  /** Waits for the task to end: its value, or rejects with its error. Awaitable and `yield*`-able. */
  join(): Operation<R> {
    return new EndOperation<R>(this, false)
  }

  /** Waits for the task to end and gives its outcome; never rejects. */
  settle(): Operation<Outcome<R>> {
    return new EndOperation<Outcome<R>>(this, true)
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

/** @internal a wait for a remote task's end: `join` (its value, or its error) or `settle` (its outcome). */
class EndOperation<T> extends Operation<T> {
  readonly #task: RemoteTask<unknown>
  readonly #outcome: boolean
  constructor(task: RemoteTask<unknown>, outcome: boolean) {
    super(undefined, undefined)
    this.#task = task
    this.#outcome = outcome
  }
  protected start(): void {
    const outcome = this.#task._outcome
    if (outcome === undefined) this.#task._addWait(this)
    else this._end(outcome)
  }
  /** @internal the task ended. */
  _end(outcome: Outcome<unknown>): void {
    if (this.#outcome) this.resolve(outcome as T)
    else if (outcome.status === 'done') this.resolve(outcome.value as T)
    else this.reject(outcome.error)
  }
  protected cancelWait(): void {
    this.#task._removeWait(this)
  }
  protected describe(): string {
    return `${this.#outcome ? 'settle' : 'join'} of remote task #${this.#task.id}`
  }
}
