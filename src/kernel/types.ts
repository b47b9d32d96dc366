/**
 * The public types shared by every executor: task functions, tasks, outcomes, the task context.
 * @module
 */
import type { TaskContext } from './context.js'
import type { Operation } from './operation.js'

/** A task's state: running until it ends, then one of four final states. */
export type TaskStatus = 'running' | 'done' | 'failed' | 'crashed' | 'cancelled'

/** How a task ended: its value, or the error of a failed, crashed or cancelled task. */
export type Outcome<R = unknown> =
  | { readonly status: 'done'; readonly value: R }
  | { readonly status: 'failed' | 'crashed' | 'cancelled'; readonly error: unknown }

/**
 * Any task function: context first, then its arguments. The body may be a generator function
 * (a light task the kernel drives itself), an async function or a plain function.
 */
// `never[]` makes every task function assignable here whatever its other parameters.
export type TaskFn = (t: TaskContext, ...args: never[]) => unknown

/** The argument list of a task function (everything after the context). */
export type ArgsOf<F> = F extends (t: never, ...args: infer A) => unknown ? A : never

/** What a body's return value settles to: a generator's return value, a promise's value, or the value. */
export type BodyResult<X> = X extends Generator<unknown, infer R, never> ? R : Awaited<X>

/** The result of a task function: a generator's return value, an async function's resolved value. */
export type ResultOf<F> = F extends (...args: never[]) => infer X ? BodyResult<X> : never

/**
 * The arguments after `fn` of every call that starts work: `(args?, options?)` when the function
 * takes no arguments (or only optional ones), else `(args, options?)`.
 */
export type CallArgs<A extends unknown[], O> = [] extends A ? [args?: A, options?: O] : [args: A, options?: O]

/**
 * A running or finished task, wherever it runs (kernel, pool, cluster): an address for messages
 * and a handle to join, settle or cancel it.
 */
export interface Task<R = unknown> {
  /** Unique id within its kernel (or executor). */
  readonly id: number
  /** The name given at spawn, if any. */
  readonly name: string | undefined
  /** The current state. */
  readonly status: TaskStatus
  /**
   * Puts a message into the task's mailbox.
   * @returns true if delivered, false if the task has ended (the message is not kept).
   */
  send(message: unknown): boolean
  /**
   * Waits for the task to end: its value, or rejects with its error (a failed task's own error,
   * `CancelledError`/`TimeoutError` when cancelled, `WorkerCrashedError`/`HostLostError` when crashed).
   * Awaitable, and `yield*`-able in generator tasks.
   */
  join(): Operation<R>
  /** Waits for the task to end and gives its {@link Outcome}; never rejects. */
  settle(): Operation<Outcome<R>>
  /**
   * Requests cancellation: the task's pending and future kernel waits reject with `CancelledError`
   * (cause: `reason`) and its signal aborts; its children are cancelled too. The task may still
   * finish first (then its outcome stands).
   * @returns false if the task had already ended.
   */
  cancel(reason?: unknown): boolean
}

/** The notice `t.monitor(task)` puts into the watcher's mailbox when the task ends. */
export type ExitNotice<R = unknown> = { readonly type: 'exit'; readonly task: Task<R> } & Outcome<R>

/** What `joinAny` gives: the finished child and its outcome. */
export type JoinAnyResult<R = unknown> = { readonly task: Task<R> } & Outcome<R>
