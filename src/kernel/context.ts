/**
 * The task context `t`: what a task body uses to talk to the kernel. Every method that waits
 * returns an {@link Operation}: `await` it in an async body, `yield*` it in a generator body.
 * @module
 */
import { TaskosError, describe, invalidArgument, invalidOption } from './errors.js'
import type { Kernel } from './kernel.js'
import type { Operation } from './operation.js'
import { checkTimeout } from './operation.js'
import { JoinAnyOp, ReceiveOp, SleepOp, YieldOp } from './ops.js'
import { KernelTask, NO_MESSAGE, joinOperation, setContextFactory } from './task.js'
import type { Observer } from './task.js'
import type { SupervisedChild, SuperviseOptions } from './supervise.js'
import { supervise } from './supervise.js'
import type { BodyResult, CallArgs, ExitNotice, JoinAnyResult, Task, TaskFn } from './types.js'

/** Options of `spawn`. */
export interface SpawnOptions {
  /** A name for messages, errors and monitoring (not registered: see `kernel.register`). */
  name?: string
  /** Cancel the task with a `TimeoutError` after this many ms (on the kernel's clock). @default none */
  timeout?: number
  /** Cancel the task when this signal aborts. */
  signal?: AbortSignal
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
  send(to: Task | string, message: unknown): boolean
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
}

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
  return o
}

/** A monitor: the exit notice (with the error of a failure) counts as observing the task. */
class MonitorRecord implements Observer {
  constructor(readonly watcher: KernelTask<unknown>) {}
  _taskEnded(task: KernelTask<unknown>): void {
    task._observe()
    this.watcher.send({ type: 'exit', task, ...task.outcome! } satisfies ExitNotice)
  }
}

class Context implements TaskContext {
  readonly task: KernelTask<unknown>
  constructor(task: KernelTask<unknown>) {
    this.task = task
  }

  get id(): number {
    return this.task.id
  }
  get parent(): KernelTask<unknown> | undefined {
    return this.task.parent
  }
  get kernel(): Kernel {
    return this.task.kernel
  }
  get signal(): AbortSignal {
    return this.task.signal
  }

  #live(): KernelTask<unknown> {
    const task = this.task
    if (task._ctx !== this) {
      throw new TaskosError(
        task.ended ? 'ERR_INVALID_STATE' : 'ERR_HOT_SWAPPED',
        task.ended ? `${task.label} has ended` : `${task.label}: this body was replaced by hotSwap`,
      )
    }
    return task
  }

  spawn<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>> {
    const task = this.#live()
    return task.kernel._spawn(fn as unknown as TaskFn, rest[0], rest[1], task) as KernelTask<BodyResult<X>>
  }

  spawnDetached<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>> {
    this.#live()
    return this.task.kernel._spawn(fn as unknown as TaskFn, rest[0], rest[1], undefined) as KernelTask<
      BodyResult<X>
    >
  }

  join<R>(child: Task<R> | number): Operation<R> {
    const task = this.#live()
    let target: KernelTask<unknown> | undefined
    if (typeof child === 'number') {
      target = findChild(task, child)
      if (target === undefined) {
        throw new TaskosError('ERR_UNKNOWN_TASK', `${task.label}: no unjoined child task has id ${child}`)
      }
    } else if (child instanceof KernelTask && child.parent === task) {
      target = child
    } else {
      throw new TaskosError(
        'ERR_NOT_CHILD',
        `${task.label} can only join its own children; ${child instanceof KernelTask ? child.label : describe(child)} ` +
          'is not one (await task.join() waits for any task)',
      )
    }
    return joinOperation<R>(target, task)
  }

  joinAny(options: JoinAnyOptions = {}): Operation<JoinAnyResult | undefined> {
    const task = this.#live()
    const timeout = checkTimeout(options.timeout)
    if (options.block !== undefined && typeof options.block !== 'boolean') {
      throw invalidOption('block', options.block, 'a boolean')
    }
    return new JoinAnyOp(task, options.block ?? true, timeout)
  }

  receive<T = unknown>(options?: ReceiveOptions): Operation<T> {
    const task = this.#live()
    if (options === undefined) return new ReceiveOp<T>(task, undefined, undefined)
    const timeout = checkTimeout(options.timeout)
    if (options.filter !== undefined && typeof options.filter !== 'function') {
      throw invalidOption('filter', options.filter, 'a function (message) => boolean')
    }
    return new ReceiveOp<T>(task, options.filter, timeout)
  }

  tryReceive<T = unknown>(filter?: (message: unknown) => boolean): T | undefined {
    const message = this.#live()._take(filter)
    return message === NO_MESSAGE ? undefined : (message as T)
  }

  send(to: Task | string, message: unknown): boolean {
    if (typeof to === 'string') return this.task.kernel._sendToName(to, message)
    if (to === null || typeof to !== 'object' || typeof to.send !== 'function') {
      throw invalidArgument('message target', to, 'a task or a registered name')
    }
    return to.send(message)
  }

  sleep(ms: number): Operation<void> {
    if (typeof ms !== 'number' || !(ms >= 0)) throw invalidArgument('sleep time', ms, 'a number of ms >= 0')
    return new SleepOp(this.#live(), ms)
  }

  yield(): Operation<void> {
    return new YieldOp(this.#live())
  }

  monitor(target: Task): void {
    const watcher = this.#live()
    if (target instanceof KernelTask) {
      if (target.ended) new MonitorRecord(watcher)._taskEnded(target)
      else target._addObserver(new MonitorRecord(watcher))
      return
    }
    if (target === null || typeof target !== 'object' || typeof target.settle !== 'function') {
      throw invalidArgument('monitored task', target, 'a task')
    }
    target.settle().then(
      (outcome) => watcher.send({ type: 'exit', task: target, ...outcome } satisfies ExitNotice),
      () => undefined, // settle never rejects
    )
  }

  demonitor(target: Task): void {
    if (!(target instanceof KernelTask)) return
    const observers = target._x?.observers
    if (observers === undefined) return
    const i = observers.findIndex((o) => o instanceof MonitorRecord && o.watcher === this.task)
    if (i >= 0) observers.splice(i, 1)
  }

  hotSwappable(on = true): void {
    this.#live()._setHotSwappable(on)
  }

  offload<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options: OffloadOptions = {},
  ): Operation<BodyResult<X>> {
    const task = this.#live()
    return task.kernel._offload(task, fn as unknown as TaskFn, args, checkTimeout(options.timeout))
  }

  supervise(children: readonly SupervisedChild[], options?: SuperviseOptions): KernelTask<void> {
    const task = this.#live()
    return supervise(task.kernel, task, children, options)
  }
}

function findChild(task: KernelTask<unknown>, id: number): KernelTask<unknown> | undefined {
  const kids = task._kids
  if (kids === undefined) return undefined
  for (let c = kids.liveHead; c !== undefined; c = c._next) if (c.id === id) return c
  for (let c = kids.doneHead; c !== undefined; c = c._next) if (c.id === id) return c
  return undefined
}

setContextFactory((task) => new Context(task))

/** @internal keeps the Context class reachable for `instanceof` checks in tests. */
export const ContextClass = Context
