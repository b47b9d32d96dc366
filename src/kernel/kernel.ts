/**
 * The kernel: spawns tasks, drives generator tasks through its own run queue, keeps names, counts,
 * and plugs in an executor (pool, cluster) for outsourced work.
 *
 * Scheduling: a generator task that becomes ready (a message, a timer, a join) is appended to the
 * run queue; the queue is drained in one microtask, without returning to the event loop, until it is
 * empty or the time budget is spent (then the rest continues after I/O had its turn). Async-function
 * tasks are resumed by their promises. A spawned task runs at once, until its first wait, before
 * `spawn` returns.
 * @module
 */
import type { Clock } from './clock.js'
import { realClock } from './clock.js'
import { TaskImpl, checkSpawn } from './context.js'
import type { KernelTask, SpawnOptions, TaskContext } from './context.js'
import { dispatch } from './dispatch.js'
import type { DispatchCollector, DispatchOptions, Job } from './dispatch.js'
import { Emitter } from './emitter.js'
import type { Listener } from './emitter.js'
import { TaskosError, describe, invalidArgument, invalidOption } from './errors.js'
import { Operation, checkTimeout } from './operation.js'
import type { SupervisedChild, SuperviseOptions } from './supervise.js'
import { supervise } from './supervise.js'
import { Family, TaskCore, linkLive, unlinkLive } from './task.js'
import type {
  BodyResult,
  CallArgs,
  ExitNotice,
  Outcome,
  ResultOf,
  Task,
  TaskFn,
  TaskStatus,
} from './types.js'

/**
 * Runs tasks elsewhere: a pool of workers, a cluster. COS's "virtual machine".
 * `kernel.setExecutor(executor)` makes `t.offload` and `kernel.dispatch` use it.
 */
export interface Executor {
  /** Total slots (workers, remote slots). */
  slots(): number
  /** Slots free now. */
  freeSlots(): number
  /** Starts `fn(t, ...args)` on the executor; the returned task settles with its outcome. */
  run<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options?: ExecutorRunOptions,
  ): Task<BodyResult<X>>
  /** Finishes queued work, then releases the executor's resources. */
  close(): Promise<void>
}

/** Options an executor's `run` accepts. */
export interface ExecutorRunOptions {
  /** Cancels the work when it aborts. */
  signal?: AbortSignal
  /** Cancels the work with a TimeoutError after this many ms. */
  timeout?: number
}

/** Anything that can be registered under a name and sent to. */
export interface Addressable {
  send(message: unknown): boolean | number
}

/** Options of `new Kernel()`. */
export interface KernelOptions {
  /** Time source for timeouts and sleeps: a `VirtualClock` makes tests instant. @default realClock */
  clock?: Clock
  /** Where `offload` and `dispatch` run work. @default none (local tasks only) */
  executor?: Executor
  /** Time (ms) the run queue may run before yielding to the event loop. @default 10 */
  budget?: number
}

const DEFAULTS = Object.freeze({ budget: 10 })

/** Events a kernel emits; subscribe with `kernel.on(type, listener)`. */
export type KernelEvent =
  | { readonly type: 'task-start'; readonly task: KernelTask<unknown> }
  | { readonly type: 'task-end'; readonly task: KernelTask<unknown>; readonly outcome: Outcome }
  | {
      /** `t.progress(done, total)` was called. */
      readonly type: 'progress'
      readonly task: KernelTask<unknown>
      readonly done: number
      readonly total: number | undefined
    }
  | {
      /** A task owned by the kernel failed and nobody joined, settled or monitored it. */
      readonly type: 'unobserved-failure'
      readonly task: KernelTask<unknown>
      readonly error: unknown
    }

/** A snapshot of a kernel's counters; plain and JSON-safe. */
export interface KernelStats {
  /** Tasks by status: `running` now, the others counted since the kernel started. */
  tasks: Record<TaskStatus, number>
  /** Local tasks running now (COS `localTasks`). */
  local: number
  /** Remote (executor) tasks running now (COS `remoteTasks`). */
  remote: number
  /** Tasks spawned since the kernel started. */
  spawned: number
  /** Tasks ended since the kernel started. */
  finished: number
  /** Messages delivered to mailboxes. */
  messages: number
  /** Generator tasks ready to run now. */
  ready: number
  /** Names registered now. */
  names: number
}

/**
 * Runs light tasks: generator or async bodies with mailboxes, structured concurrency, timers on a
 * pluggable clock, names, and dispatch to an executor.
 * @example
 * const k = new Kernel()
 * const adder = k.spawn(async (t, a: number) => a + (await t.receive<number>()), [1])
 * adder.send(41)
 * await adder.join()   // 42
 */
export class Kernel {
  /** The kernel's clock. */
  readonly clock: Clock
  /** @internal */ _messages = 0
  /** @internal */ _remote = 0
  #head: TaskCore<unknown> | undefined = undefined
  #tail: TaskCore<unknown> | undefined = undefined
  #scheduled = false
  #draining = false
  #depth = 0
  #budget: number
  #nextId = 1
  #roots = new Family()
  #live = 0
  #spawned = 0
  #finished = 0
  #ended: number[] = [0, 0, 0, 0, 0]
  #names = new Map<string, Addressable>()
  #locators = new Map<string, Set<LocateOp>>()
  #executor: Executor | undefined
  #events = new Emitter<KernelEvent>()
  #closed = false
  #idle: (() => void) | undefined = undefined
  #closing: Promise<void> | undefined = undefined
  #detach: (() => void) | undefined

  constructor(options: KernelOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw invalidArgument('options', options, 'an object')
    const clock = options.clock ?? realClock
    if (typeof clock.now !== 'function' || typeof clock.setTimer !== 'function') {
      throw invalidOption('clock', clock, 'a Clock (realClock or a VirtualClock)')
    }
    const budget = options.budget ?? DEFAULTS.budget
    if (typeof budget !== 'number' || !(budget > 0))
      throw invalidOption('budget', budget, 'a number of ms > 0')
    this.clock = clock
    this.#budget = budget
    this.#executor = options.executor
    this.#detach = clock.attach?.(() => this.#head !== undefined || this.#scheduled)
  }

  // ---- spawning ---------------------------------------------------------------------------------

  /**
   * Spawns a task owned by the kernel. Its body runs at once, until its first wait.
   * @param fn - `(t, ...args) => value | Promise | Generator`: an async, plain or generator function.
   * @param args - the arguments after the context, typed from `fn`.
   * @throws ERR_INVALID_ARGUMENT, ERR_INVALID_OPTION, ERR_CLOSED
   * @example
   * const task = k.spawn(function* (t) { return (yield* t.receive<number>()) * 2 })
   */
  spawn<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    ...rest: CallArgs<A, SpawnOptions>
  ): KernelTask<BodyResult<X>> {
    return this._spawn(fn as unknown as TaskFn, rest[0], rest[1], undefined) as KernelTask<BodyResult<X>>
  }

  /** @internal */
  _spawn(
    fn: TaskFn,
    args: unknown[] | undefined,
    options: SpawnOptions | undefined,
    parent: TaskCore<unknown> | undefined,
  ): KernelTask<unknown> {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', 'the kernel is closed: no new tasks')
    if (typeof fn !== 'function' || (args !== undefined && !Array.isArray(args)) || options !== undefined) {
      options = checkSpawn(fn, args, options)
    }
    if (options?.remote === true) {
      const executor = this.#executorOrDefault()
      if (executor === undefined) {
        throw new TaskosError(
          'ERR_NO_EXECUTOR',
          `remote spawn of ${fn.name || 'a task function'} needs an executor (kernel.setExecutor(pool))`,
        )
      }
      args = [executor, fn, args ?? []]
      options = { ...options, name: options.name ?? (fn.name || undefined) }
      fn = remoteProxy
    }
    const task = new TaskImpl<unknown>(this, this.#nextId++, parent, fn, args)
    if (parent === undefined) {
      task._markDetached()
      linkLive(this.#roots, task)
    } else {
      linkLive((parent._kids ??= new Family()), task)
    }
    this.#live++
    this.#spawned++
    if (options !== undefined) task._configure(options.name, options.timeout, options.signal)
    if (this.#events.listening('task-start')) this.#events.emit({ type: 'task-start', task })
    if (this.#depth >= 64) {
      task._queueStart() // deep nesting of spawn-at-start: bound the stack
    } else {
      this.#depth++
      try {
        task._start()
      } finally {
        this.#depth--
      }
    }
    return task
  }

  // ---- run queue --------------------------------------------------------------------------------

  /** @internal appends a ready task and makes sure a drain is coming. */
  _enqueue(task: TaskCore<unknown>): void {
    if (this.#tail === undefined) this.#head = task
    else this.#tail._rnext = task
    this.#tail = task
    if (!this.#draining && !this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#drain)
    }
  }

  #drain = (): void => {
    this.#scheduled = false
    if (this.#draining) return
    this.#draining = true
    const start = performance.now()
    let steps = 0
    try {
      for (let task = this.#head; task !== undefined; task = this.#head) {
        this.#head = task._rnext
        if (this.#head === undefined) this.#tail = undefined
        task._rnext = undefined
        task._run()
        if ((++steps & 255) === 0 && performance.now() - start > this.#budget) break
      }
    } finally {
      this.#draining = false
      if (this.#head !== undefined && !this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#drain) // budget spent (or a step threw): let I/O run first
      }
    }
  }

  /** @internal a task ended (after its children). */
  _taskEnded(task: TaskCore<unknown>, status: number): void {
    this.#live--
    this.#finished++
    this.#ended[status]!++
    const parent = task.parent
    if (parent !== undefined) parent._childEnded(task)
    else {
      unlinkLive(this.#roots, task)
      if ((status === 2 || status === 3) && !task._observed) {
        // like an unhandled rejection: the spawner has until the microtask queue drains to join it
        setImmediate(() => {
          if (task._observed) return
          const error =
            task.outcome!.status === 'done' ? undefined : (task.outcome as { error: unknown }).error
          if (
            !this.#events.emit({ type: 'unobserved-failure', task: task as unknown as KernelTask, error })
          ) {
            process.emitWarning(`${task.label} failed and nobody joined it: ${errorText(error)}`, {
              code: 'TASKOS_UNOBSERVED_FAILURE',
            })
          }
        })
      }
    }
    if (this.#events.listening('task-end'))
      this.#events.emit({ type: 'task-end', task: task as unknown as KernelTask, outcome: task.outcome! })
    if (this.#live === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      idle()
    }
  }

  // ---- names ------------------------------------------------------------------------------------

  /**
   * Registers a task or channel under a name, for `t.send(name, …)` and `locate`. A task's names
   * are dropped when it ends.
   * @throws ERR_NAME_TAKEN when the name is in use; ERR_INVALID_STATE for an ended task.
   */
  register(name: string, entity: Task | Addressable): void {
    if (typeof name !== 'string' || name === '') throw invalidArgument('name', name, 'a non-empty string')
    if (entity === null || typeof entity !== 'object' || typeof entity.send !== 'function') {
      throw invalidArgument('registered entity', entity, 'a task or a channel')
    }
    if (this.#names.has(name))
      throw new TaskosError('ERR_NAME_TAKEN', `the name ${describe(name)} is registered already`)
    if (entity instanceof TaskCore) {
      if (entity.ended)
        throw new TaskosError('ERR_INVALID_STATE', `${entity.label} has ended: it cannot be registered`)
      ;(entity._extras().names ??= []).push(name)
    }
    this.#names.set(name, entity)
    const waiting = this.#locators.get(name)
    if (waiting !== undefined) {
      this.#locators.delete(name)
      for (const op of waiting) op.resolve(entity)
    }
  }

  /**
   * Removes a name. With `entity`, only if the name points to it.
   * @returns whether a name was removed.
   */
  unregister(name: string, entity?: Task | Addressable): boolean {
    const current = this.#names.get(name)
    if (current === undefined || (entity !== undefined && current !== entity)) return false
    this.#names.delete(name)
    if (current instanceof TaskCore) {
      const names = current._x?.names
      const i = names?.indexOf(name) ?? -1
      if (i >= 0) names!.splice(i, 1)
    }
    return true
  }

  /** @internal drops the names of an ended task. */
  _unregisterAll(task: TaskCore<unknown>, names: string[]): void {
    for (const name of names) if (this.#names.get(name) === task) this.#names.delete(name)
    names.length = 0
  }

  /**
   * Waits until something is registered under `name` and gives it (at once if it is).
   * @throws ERR_TIMEOUT (as a rejection) when `timeout` expires first.
   */
  locate<T extends Task | Addressable = Task | Addressable>(
    name: string,
    options: { timeout?: number } = {},
  ): Operation<T> {
    if (typeof name !== 'string' || name === '') throw invalidArgument('name', name, 'a non-empty string')
    return new LocateOp(this, name, checkTimeout(options.timeout)) as unknown as Operation<T>
  }

  /** What is registered under `name` now, or undefined. */
  tryLocate<T extends Task | Addressable = Task | Addressable>(name: string): T | undefined {
    return this.#names.get(name) as T | undefined
  }

  /** @internal */
  _addLocator(name: string, op: LocateOp): void {
    let set = this.#locators.get(name)
    if (set === undefined) this.#locators.set(name, (set = new Set()))
    set.add(op)
  }

  /** @internal */
  _removeLocator(name: string, op: LocateOp): void {
    const set = this.#locators.get(name)
    if (set === undefined) return
    set.delete(op)
    if (set.size === 0) this.#locators.delete(name)
  }

  /** @internal `t.send(name, message)`. */
  _sendToName(name: string, message: unknown): boolean {
    const entity = this.#names.get(name)
    if (entity === undefined) {
      throw new TaskosError('ERR_UNKNOWN_NAME', `nothing is registered under the name ${describe(name)}`)
    }
    const r = entity.send(message)
    return typeof r === 'number' ? r > 0 : r
  }

  // ---- executors --------------------------------------------------------------------------------

  /**
   * Sets (or removes, with undefined) the executor used by `offload` and `dispatch` (COS setVM).
   * @throws ERR_INVALID_STATE while remote tasks run.
   */
  setExecutor(executor: Executor | undefined): void {
    if (this._remote > 0) {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `cannot change the executor while ${this._remote} remote task(s) run`,
      )
    }
    if (executor !== undefined && (typeof executor !== 'object' || typeof executor.run !== 'function')) {
      throw invalidArgument('executor', executor, 'an Executor (slots, freeSlots, run, close)')
    }
    this.#executor = executor
  }

  /** The executor set with `setExecutor`, if any. */
  get executor(): Executor | undefined {
    return this.#executor
  }

  /** The executor's slots, or -1 without an executor (COS). */
  slots(): number {
    return this.#executor === undefined ? -1 : this.#executor.slots()
  }

  /** The executor's free slots, or -1 without an executor (COS). */
  freeSlots(): number {
    return this.#executor === undefined ? -1 : this.#executor.freeSlots()
  }

  /** @internal `t.offload`. */
  _offload<R>(
    task: TaskCore<unknown>,
    fn: TaskFn,
    args: unknown[],
    timeout: number | undefined,
  ): Operation<R> {
    const executor = this.#executorOrDefault()
    if (executor === undefined) {
      throw new TaskosError(
        'ERR_NO_EXECUTOR',
        `${task.label}: offload needs an executor (kernel.setExecutor(pool))`,
      )
    }
    return this._runRemote<R>(executor, fn, args, { signal: task.signal, timeout }).join()
  }

  /** The executor, or the default one (the pool layer's default pool) when none is set. */
  #executorOrDefault(): Executor | undefined {
    return this.#executor ?? defaultExecutor?.()
  }

  /** @internal runs on an executor and counts the task as remote while it runs. */
  _runRemote<R>(executor: Executor, fn: TaskFn, args: unknown[], options: ExecutorRunOptions): Task<R> {
    const remote = executor.run(fn, args as never, options) as Task<R>
    this._remote++
    remote.settle().then(
      () => void this._remote--,
      () => void this._remote--,
    )
    return remote
  }

  /**
   * Runs jobs `{ fn, args, extra }` (array, iterable, generator or async iterable, pulled lazily as
   * slots free) as tasks, on the executor (`on`, or the kernel's) or locally. Gives the results in
   * job order; `collector` sees `{ index, job, value }` as each job finishes (COS Dispatch). With a
   * collector and no `results: true`, resolves to undefined. The first failing job rejects the
   * dispatch (TaskFailedError naming the job, cause: its error) and cancels the running ones.
   */
  dispatch<J extends Job>(
    jobs: Iterable<J> | AsyncIterable<J>,
    options: DispatchOptions<J> & { collector: DispatchCollector<J>; results?: false },
  ): Operation<undefined>
  dispatch<J extends Job>(
    jobs: Iterable<J> | AsyncIterable<J>,
    options?: DispatchOptions<J>,
  ): Operation<ResultOf<J['fn']>[]>
  dispatch<J extends Job>(
    jobs: Iterable<J> | AsyncIterable<J>,
    options?: DispatchOptions<J>,
  ): Operation<ResultOf<J['fn']>[] | undefined> {
    return dispatch(this, jobs, options)
  }

  /** Starts a supervisor owned by the kernel (see `t.supervise`). */
  supervise(children: readonly SupervisedChild[], options?: SuperviseOptions): KernelTask<void> {
    return supervise(this, undefined, children, options)
  }

  // ---- observation ------------------------------------------------------------------------------

  /** Subscribes to kernel events; returns an unsubscribe function. */
  on<K extends KernelEvent['type']>(type: K, listener: Listener<KernelEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Removes a listener added with `on`. */
  off<K extends KernelEvent['type']>(type: K, listener: Listener<KernelEvent, K>): void {
    this.#events.off(type, listener)
  }

  /** Counters: tasks by status, local and remote running, spawned, finished, messages. Cheap. */
  stats(): KernelStats {
    const e = this.#ended
    let ready = 0
    for (let t = this.#head; t !== undefined; t = t._rnext) ready++
    return {
      tasks: { running: this.#live, done: e[1]!, failed: e[2]!, crashed: e[3]!, cancelled: e[4]! },
      local: this.#live,
      remote: this._remote,
      spawned: this.#spawned,
      finished: this.#finished,
      messages: this._messages,
      ready,
      names: this.#names.size,
    }
  }

  /** @internal `t.progress`. */
  _progress(task: TaskCore<unknown>, done: number, total: number | undefined): void {
    if (this.#events.listening('progress')) {
      this.#events.emit({ type: 'progress', task: task as unknown as KernelTask, done, total })
    }
  }

  /**
   * @internal Where `t.sync()` goes: set by a pool worker's runtime for partitioned calls.
   */
  _syncHook: ((task: TaskCore<unknown>) => Operation<void>) | undefined = undefined

  /** @internal `t.sync`. */
  _sync(task: TaskCore<unknown>): Operation<void> {
    if (this._syncHook === undefined || task._x?.part === undefined) {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `${task.label}: t.sync() works only in a part of pool.partition`,
      )
    }
    return this._syncHook(task)
  }

  /** Whether `close()` or `destroy()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  // ---- shutdown ---------------------------------------------------------------------------------

  /**
   * COS finalize: refuses new tasks, cancels every running task, waits until all have ended, then
   * closes the executor. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown(true))
  }

  /** Like `close`, but does not wait for tasks to end or the executor to drain. Idempotent. */
  destroy(): Promise<void> {
    return (this.#closing ??= this.#shutdown(false))
  }

  async #shutdown(wait: boolean): Promise<void> {
    this.#closed = true
    const ended =
      this.#live === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#idle = resolve))
    for (let t = this.#roots.liveHead; t !== undefined;) {
      const next = t._next
      t.cancel(new TaskosError('ERR_CLOSED', 'the kernel is closing'))
      t = next
    }
    for (const set of this.#locators.values()) {
      for (const op of set) op.reject(new TaskosError('ERR_CLOSED', 'the kernel is closing'))
    }
    if (wait) {
      await ended
      await this.#executor?.close()
    }
    this.#detach?.()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

/** `kernel.locate(name)`: resolves when something is registered under the name. */
class LocateOp extends Operation<Task | Addressable> {
  readonly #kernel: Kernel
  readonly #name: string
  constructor(kernel: Kernel, name: string, timeout: number | undefined) {
    super(undefined, timeout, kernel.clock)
    this.#kernel = kernel
    this.#name = name
  }
  protected start(): void {
    const found = this.#kernel.tryLocate(this.#name)
    if (found !== undefined) this.resolve(found)
    else if (this.#kernel.closed) throw new TaskosError('ERR_CLOSED', 'the kernel is closed')
    else this.#kernel._addLocator(this.#name, this)
  }
  protected cancelWait(): void {
    this.#kernel._removeLocator(this.#name, this)
  }
  protected describe(): string {
    return `locate(${describe(this.#name)})`
  }
}

let defaultKernelInstance: Kernel | undefined
let defaultExecutor: (() => Executor) | undefined

/**
 * The body of a remote-spawned task's local handle (`spawn(fn, args, { remote: true })`): runs the
 * function on the executor, forwards the handle's mail to it, and ends as it ends (its value, or its
 * error rethrown, so a crash stays a crash). Cancelling the handle cancels the remote task (through
 * `t.signal`); the handle ends only once the remote task has.
 */
async function remoteProxy(
  t: TaskContext,
  executor: Executor,
  fn: TaskFn,
  args: unknown[],
): Promise<unknown> {
  const remote = t.kernel._runRemote(executor, fn, args, { signal: t.signal })
  t.monitor(remote)
  const isExit = (m: unknown): boolean =>
    typeof m === 'object' &&
    m !== null &&
    (m as ExitNotice).type === 'exit' &&
    (m as ExitNotice).task === remote
  try {
    for (;;) {
      const m = await t.receive()
      if (!isExit(m)) {
        remote.send(m)
        continue
      }
      const notice = m as ExitNotice
      if (notice.status === 'done') return notice.value
      throw notice.error
    }
  } finally {
    if (remote.status === 'running') await remote.settle()
  }
}

/**
 * @internal Where `t.offload` runs when the kernel has no executor: the pool layer sets this to its
 * lazily created default pool (layers import downwards only, so the kernel cannot name it).
 */
export function setDefaultExecutor(factory: (() => Executor) | undefined): void {
  defaultExecutor = factory
}

/** The default kernel, created on first use (real clock, no executor). */
export function defaultKernel(): Kernel {
  return (defaultKernelInstance ??= new Kernel())
}

/** @internal for tests: the context type, re-exported here to keep kernel.ts the one entry point. */
export type { TaskContext }
