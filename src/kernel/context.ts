/**
 * The task context `t`: what a task body uses to talk to the kernel. Every method that waits
 * returns an {@link Operation}: `await` it in an async body, `yield*` it in a generator body.
 * @module
 */
import { TaskosError, describe, invalidArgument, invalidOption } from './errors.js'
import type { Addressable, Kernel } from './kernel.js'
import type { Operation } from './operation.js'
import { checkTimeout } from './operation.js'
import { JoinAnyOp, ReceiveOp, SleepOp, YieldOp } from './ops.js'
import { FLY_RECEIVE, FLY_YIELD, NO_MESSAGE, TaskCore, joinOperation } from './task.js'
import type { Part } from './task.js'
import type { Observer } from './task.js'
import type { SupervisedChild, SuperviseOptions } from './supervise.js'
import { supervise } from './supervise.js'
import type {
  BodyResult,
  CallArgs,
  ExitNotice,
  JoinAnyResult,
  Outcome,
  Task,
  TaskFn,
  TaskStatus,
} from './types.js'

/** Options of `spawn`. */
export interface SpawnOptions {
  /** A name for messages, errors and monitoring (not registered: see `kernel.register`). */
  name?: string
  /** Cancel the task with a `TimeoutError` after this many ms (on the kernel's clock). @default none */
  timeout?: number
  /** Cancel the task when this signal aborts. */
  signal?: AbortSignal
  /**
   * Run the body on the kernel's executor (a pool or cluster set with `kernel.setExecutor`): COS
   * remote spawn. The handle is still a local child (join, joinAny, monitor, cancel and structured
   * concurrency as usual); messages sent to it are forwarded to the remote task, and its outcome
   * (crashed included) is the remote task's. Waits for a free slot as the executor does.
   * @throws ERR_NO_EXECUTOR when the kernel has no executor.
   * @default false
   */
  remote?: boolean
}

/** Options of `receive`. */
export interface ReceiveOptions {
  /** Reject with `TimeoutError` (ERR_TIMEOUT) after this many ms. @default wait forever */
  timeout?: number
  /** Take the oldest message this accepts; others stay in the mailbox, in order. */
  filter?: (message: unknown) => boolean
}

/** Options of `joinAny`. */
export interface JoinAnyOptions {
  /** Wait for a child to finish; false returns undefined at once when none has. @default true */
  block?: boolean
  /** Reject with `TimeoutError` after this many ms. @default wait forever */
  timeout?: number
}

/** Options of `offload`. */
export interface OffloadOptions {
  /** Reject (and cancel the work) after this many ms. */
  timeout?: number
}

/**
 * The context handed to every task body as its first argument.
 * @example
 * k.spawn(function* (t) {
 *   const child = t.spawn(function* (t) { return (yield* t.receive<number>()) * 2 })
 *   child.send(21)
 *   return yield* t.join(child)     // 42
 * })
 */
export interface TaskContext {
  /** The task's id. */
  readonly id: number
  /** The task itself (an address for messages: put it in a message to be answered). */
  readonly task: KernelTask<unknown>
  /** The parent task; undefined for tasks owned by the kernel. */
  readonly parent: KernelTask<unknown> | undefined
  /** The kernel running the task. */
  readonly kernel: Kernel
  /** Aborts when the task is cancelled; pass it to fetch, timers, child processes. */
  readonly signal: AbortSignal
  /**
   * Spawns a child: it runs at once, until its first wait, before `spawn` returns (COS order). The
   * parent's result waits for its children; a child that fails and is never joined fails the parent;
   * cancelling the parent cancels the child.
   * @throws ERR_INVALID_ARGUMENT, ERR_INVALID_OPTION, ERR_CLOSED
   */
  spawn<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>>
  /** Spawns a task owned by the kernel, not by this task: it may outlive this task. */
  spawnDetached<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>>
  /**
   * Waits for a child (by task or id) and gives its value; rejects with its error.
   * @throws ERR_NOT_CHILD when the task is not a child of this task; ERR_UNKNOWN_TASK for an id
   *   that names no child.
   */
  join<R>(child: Task<R> | number): Operation<R>
  /**
   * COS Join: any finished child (oldest first) with its outcome, collecting it. Undefined at once
   * when there are no children, or when `block` is false and none has finished.
   */
  joinAny(options?: JoinAnyOptions): Operation<JoinAnyResult | undefined>
  /**
   * The oldest message in the mailbox (that `filter` accepts), waiting for one if needed. One
   * receive at a time per task. After cancellation it rejects with the cancellation error.
   * @throws ERR_TIMEOUT (as a rejection) when `timeout` expires.
   */
  receive<T = unknown>(options?: ReceiveOptions): Operation<T>
  /** The oldest message (that `filter` accepts) if one is waiting, else undefined. Never waits. */
  tryReceive<T = unknown>(filter?: (message: unknown) => boolean): T | undefined
  /**
   * Sends a message to a task, or to a task or channel registered under a name.
   * @returns true if delivered (to at least one subscriber for a channel); false if the task ended.
   * @throws ERR_UNKNOWN_NAME when no task or channel is registered under the name.
   */
  send(to: Task | Addressable | string, message: unknown): boolean
  /** Waits `ms` on the kernel's clock. */
  sleep(ms: number): Operation<void>
  /** Lets every other ready task run first: back of the run queue. */
  yield(): Operation<void>
  /**
   * When `task` ends, an {@link ExitNotice} `{ type: 'exit', task, status, value | error }` arrives
   * in this task's mailbox (at once if it has ended already). The notice counts as observing the
   * task: a monitored child's failure does not fail its parent (the parent got the error).
   */
  monitor(task: Task): void
  /** Stops a `monitor`; a notice already delivered stays in the mailbox. */
  demonitor(task: Task): void
  /** Allows (or forbids) `task.hotSwap(fn)` to replace this body at its next `receive`. */
  hotSwappable(on?: boolean): void
  /**
   * Runs a task function on the kernel's executor (a pool or cluster set with `setExecutor`) and
   * waits for its result; cancelling this task cancels the offloaded work.
   * @throws ERR_NO_EXECUTOR when the kernel has no executor.
   */
  offload<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options?: OffloadOptions,
  ): Operation<BodyResult<X>>
  /**
   * Starts a supervisor as a child of this task: it spawns `children` and restarts them as
   * `strategy` says (see {@link SuperviseOptions}).
   */
  supervise(children: readonly SupervisedChild[], options?: SuperviseOptions): KernelTask<void>
  /**
   * Reports progress (`done` of `total`): a kernel `'progress'` event here, a throttled
   * `pool.on('progress')` event when the task runs on a pool.
   * @throws ERR_INVALID_ARGUMENT for negative or non-finite numbers.
   */
  progress(done: number, total?: number): void
  /** In `pool.partition`, the slice this task computes; undefined otherwise. */
  readonly part: Part | undefined
  /**
   * A barrier across the parts of one `pool.partition` call (Eidolon's sync): resolves when every
   * part has reached it; rejects in every part if a sibling fails.
   * @throws ERR_INVALID_STATE outside a partitioned pool call.
   */
  sync(): Operation<void>
}

/**
 * A task of a kernel, as its spawner sees it: an address for messages and a handle to join,
 * settle, cancel, throw into or hot-swap it. (Inside its body the same task is the context `t`.)
 * @typeParam R - the task's result.
 */
export interface KernelTask<R = unknown> extends Task<R> {
  /** The kernel that runs the task. */
  readonly kernel: Kernel
  /** The task that spawned it; undefined for tasks owned by the kernel. */
  readonly parent: KernelTask<unknown> | undefined
  /** `task 'name' #id` or `task #id`, for messages. */
  readonly label: string
  /** Whether the task has ended. */
  readonly ended: boolean
  /** Whether cancellation was requested. */
  readonly cancelled: boolean
  /** Whether the task was spawned detached (owned by the kernel). */
  readonly detached: boolean
  /** The outcome of an ended task, or undefined while it runs. */
  readonly outcome: Outcome<R> | undefined
  /** Messages waiting in the mailbox. */
  readonly mailboxSize: number
  /** Aborts when the task is cancelled. */
  readonly signal: AbortSignal
  readonly status: TaskStatus
  /** Raises `error` at the task's current kernel wait, or its next one (COS Task.throw). @returns false if it ended. */
  throw(error: unknown): boolean
  /**
   * Replaces the body with `fn` at the task's next `receive` while it is hot-swappable (pycos hot
   * swap): same id, mailbox and children.
   * @throws ERR_INVALID_STATE if the task has ended; ERR_INVALID_ARGUMENT if fn is not a function.
   */
  hotSwap<A extends unknown[]>(fn: (t: TaskContext, ...args: A) => unknown, args?: A): void
}

/** The runtime class of kernel tasks, for `task instanceof KernelTask`. */

export const KernelTask = class KernelTask {
  static [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof TaskImpl
  }
} as unknown as abstract new (...args: never[]) => KernelTask<unknown>

/** @internal validates spawn arguments and options; shared by kernel.spawn and the context. */
export function checkSpawn(fn: unknown, args: unknown, options: unknown): SpawnOptions | undefined {
  if (typeof fn !== 'function') throw invalidArgument('task function', fn, 'a function (t, ...args) => …')
  if (args !== undefined && !Array.isArray(args)) throw invalidArgument('args', args, 'an array of arguments')
  if (options === undefined) return undefined
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object')
  const o = options as SpawnOptions
  if (o.name !== undefined && typeof o.name !== 'string') throw invalidOption('name', o.name, 'a string')
  checkTimeout(o.timeout)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidOption('signal', o.signal, 'an AbortSignal')
  }
  if (o.remote !== undefined && typeof o.remote !== 'boolean') {
    throw invalidOption('remote', o.remote, 'a boolean')
  }
  return o
}

/** A monitor: the exit notice (with the error of a failure) counts as observing the task. */
class MonitorRecord implements Observer {
  constructor(readonly watcher: TaskCore<unknown>) {}
  _taskEnded(task: TaskCore<unknown>): void {
    task._observe()
    this.watcher._deliver({ type: 'exit', task, ...task.outcome! } satisfies ExitNotice)
  }
}

/**
 * A kernel task: its state machine (TaskCore) plus the context methods its body uses as `t`.
 * @internal
 */
export class TaskImpl<R = unknown> extends TaskCore<R> implements TaskContext, KernelTask<R> {
  /** The task itself: `t.task` is what others use to address it. */
  get task(): KernelTask<unknown> {
    return this
  }

  declare readonly parent: TaskImpl<unknown> | undefined

  /**
   * From outside (one argument): puts `message` into this task's mailbox; false if it ended.
   * Inside the body as `t.send(to, message)`: sends to another task or a registered name.
   */
  send(message: unknown): boolean
  send(to: Task | Addressable | string, message: unknown): boolean
  send(a: unknown, b?: unknown): boolean {
    if (arguments.length < 2) return this._deliver(a)
    if (typeof a === 'string') return this.kernel._sendToName(a, b)
    if (a === null || typeof a !== 'object' || typeof (a as Task).send !== 'function') {
      throw invalidArgument('message target', a, 'a task or a registered name')
    }
    const r = (a as Addressable).send(b)
    return typeof r === 'number' ? r > 0 : r
  }

  /**
   * From outside (no argument): waits for this task to end. Inside the body as `t.join(child)`:
   * waits for a child.
   */
  join(): Operation<R>
  join<C>(child: Task<C> | number): Operation<C>
  join(child?: unknown): Operation<unknown> {
    if (arguments.length === 0) return this._join()
    let target: TaskCore<unknown> | undefined
    if (typeof child === 'number') {
      target = findChild(this, child)
      if (target === undefined) {
        throw new TaskosError('ERR_UNKNOWN_TASK', `${this.label}: no unjoined child task has id ${child}`)
      }
    } else if (child instanceof TaskCore && child.parent === (this as unknown as TaskCore<unknown>)) {
      target = child
    } else {
      throw new TaskosError(
        'ERR_NOT_CHILD',
        `${this.label} can only join its own children; ${child instanceof TaskCore ? child.label : describe(child)} ` +
          'is not one (await task.join() waits for any task)',
      )
    }
    return joinOperation(target, this)
  }

  spawn<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>> {
    return this.kernel._spawn(fn as unknown as TaskFn, rest[0], rest[1], this) as KernelTask<BodyResult<X>>
  }

  spawnDetached<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>> {
    return this.kernel._spawn(fn as unknown as TaskFn, rest[0], rest[1], undefined) as KernelTask<
      BodyResult<X>
    >
  }

  joinAny(options: JoinAnyOptions = {}): Operation<JoinAnyResult | undefined> {
    const timeout = checkTimeout(options.timeout)
    if (options.block !== undefined && typeof options.block !== 'boolean') {
      throw invalidOption('block', options.block, 'a boolean')
    }
    return new JoinAnyOp(this, options.block ?? true, timeout)
  }

  receive<T = unknown>(options?: ReceiveOptions): Operation<T> {
    if (options === undefined) {
      // generator tasks share one stateless receive; the kernel keeps the wait in the task
      return (this._isGenerator ? FLY_RECEIVE : new ReceiveOp<T>(this, undefined, undefined)) as Operation<T>
    }
    const timeout = checkTimeout(options.timeout)
    if (options.filter !== undefined && typeof options.filter !== 'function') {
      throw invalidOption('filter', options.filter, 'a function (message) => boolean')
    }
    return new ReceiveOp<T>(this, options.filter, timeout)
  }

  tryReceive<T = unknown>(filter?: (message: unknown) => boolean): T | undefined {
    const message = this._take(filter)
    return message === NO_MESSAGE ? undefined : (message as T)
  }

  sleep(ms: number): Operation<void> {
    if (typeof ms !== 'number' || !(ms >= 0)) throw invalidArgument('sleep time', ms, 'a number of ms >= 0')
    return new SleepOp(this, ms)
  }

  yield(): Operation<void> {
    return (this._isGenerator ? FLY_YIELD : new YieldOp(this)) as Operation<void>
  }

  monitor(target: Task): void {
    if (target instanceof TaskCore) {
      if (target.ended) new MonitorRecord(this)._taskEnded(target)
      else target._addObserver(new MonitorRecord(this))
      return
    }
    if (target === null || typeof target !== 'object' || typeof target.settle !== 'function') {
      throw invalidArgument('monitored task', target, 'a task')
    }
    target.settle().then(
      (outcome) => this._deliver({ type: 'exit', task: target, ...outcome } satisfies ExitNotice),
      () => undefined, // settle never rejects
    )
  }

  demonitor(target: Task): void {
    if (!(target instanceof TaskCore)) return
    const observers = target._x?.observers
    if (observers === undefined) return
    const i = observers.findIndex(
      (o) => o instanceof MonitorRecord && o.watcher === (this as unknown as TaskCore<unknown>),
    )
    if (i >= 0) observers.splice(i, 1)
  }

  hotSwappable(on = true): void {
    this._setHotSwappable(on)
  }

  /**
   * Replaces the task's body with `fn` (pycos hot swap): the new body starts with the same id,
   * mailbox and children when the task next waits in `receive` while hot-swappable
   * (`t.hotSwappable(true)`), at once if it waits there now. The old body is closed (a generator
   * runs its `finally` blocks; an async body's pending receive rejects with ERR_HOT_SWAPPED and it
   * must not use `t` again) and its result is ignored. A second hotSwap before the first applies
   * replaces it.
   * @throws ERR_INVALID_STATE if the task has ended; ERR_INVALID_ARGUMENT if fn is not a function.
   */
  hotSwap<A extends unknown[]>(fn: (t: TaskContext, ...args: A) => unknown, args?: A): void {
    this._hotSwap(fn as unknown as TaskFn, args)
  }

  offload<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options: OffloadOptions = {},
  ): Operation<BodyResult<X>> {
    return this.kernel._offload(this, fn as unknown as TaskFn, args, checkTimeout(options.timeout))
  }

  supervise(children: readonly SupervisedChild[], options?: SuperviseOptions): KernelTask<void> {
    return supervise(this.kernel, this, children, options)
  }

  progress(done: number, total?: number): void {
    if (typeof done !== 'number' || !Number.isFinite(done) || done < 0) {
      throw invalidArgument('progress done', done, 'a finite number >= 0')
    }
    if (total !== undefined && (typeof total !== 'number' || !Number.isFinite(total) || total < 0)) {
      throw invalidArgument('progress total', total, 'a finite number >= 0')
    }
    this.kernel._progress(this, done, total)
  }

  get part(): Part | undefined {
    return this._x?.part
  }

  sync(): Operation<void> {
    return this.kernel._sync(this)
  }
}

function findChild(task: TaskCore<unknown>, id: number): TaskCore<unknown> | undefined {
  const kids = task._kids
  if (kids === undefined) return undefined
  for (let c = kids.liveHead; c !== undefined; c = c._next) if (c.id === id) return c
  for (let c = kids.doneHead; c !== undefined; c = c._next) if (c.id === id) return c
  return undefined
}
