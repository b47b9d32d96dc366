/**
 * The wire format between a pool and its workers (thread: `postMessage`; process: IPC with the
 * `advanced` (structured clone) serialization). Every message is a plain object with a `t` tag.
 * Several tasks travel in one message: the per-task cost stays far below a message round trip.
 *
 * Pool → worker:
 * - `run`: `n` tasks in column form: `ids[i]`, `fns[i]`, `argc[i]` arguments taken in turn from
 *   the flat `args`, `parts[i]` (`[index, start, end, count, group]` in a partitioned call; the
 *   property is left out when no task of the batch is a part; so is `defs` when there are none: a
 *   property that is there costs its copy even when undefined). A column that would hold one value
 *   throughout is that value: `ids` a number is the first of `n` consecutive ids, `fns` a number
 *   the function of every task, `argc` a number the argument count of every task. `fns[i]` is a
 *   small integer naming a function the worker was told of in `defs` of this or an earlier
 *   message: `[key, module URL, export name]`, or `[key, '', source]` for a self-contained
 *   function shipped as source. A worker is told of each function once, so a task of a uniform
 *   batch costs only its arguments on the wire.
 * - a lone task, the common case of a task awaited before the next, as an array
 *   `[id, fn, ...args]` ({@link RunOne}): a function the worker knows, no part. An array is
 *   cheaper to copy than the `run` object (about 1 µs on each side of a round trip here).
 * - `load`: `defs` as in `run`: functions to know, whose modules the worker starts loading now
 *   (sent to a thread worker before it is ready, for the first queued task).
 * - `cancel`: `id`, `error` (a serialized error: the cancellation reason).
 * - `message`: `id`, `message`: a message for the task's mailbox (`poolTask.send`).
 * - `release`: `group`, `error` (serialized, or undefined): a `t.sync()` barrier opens.
 *
 * Worker → pool:
 * - `ready`: the worker runs and listens; `cached`: its runtime came from the code cache the pool
 *   gave (built package, thread workers: worker-entry.ts; false when V8 refused it).
 * - `code-cache`: `data`, V8's code cache of the runtime (dist/core.cjs), made by the thread the
 *   pool asked (`workerData.makeCodeCache`); sent before `ready`. The pool gives it to the threads
 *   it starts next.
 * - `done`: results in column form: `ids[i]` (a number: the first of consecutive ids) with
 *   `values[i]`; `errors` lists the indexes whose
 *   value is a serialized error (left out when none failed); `ms` is the run time in the worker of
 *   all of them together (for scheduling).
 * - a lone result that is not an error, as an array `[id, value, ms]` ({@link DoneOne}).
 * - `progress`: `id`, `done`, `total` (throttled in the worker).
 * - `sync`: `id`, `group`: the task reached `t.sync()`.
 * @module
 */

/** How a worker learns a function: `[key, module URL, export name]`, or `[key, '', source]`. */
export type FnDef = readonly [key: number, module: string, name: string]

/** `[index, start, end, count, group]` of a partitioned call. */
export type PartSpec = readonly [index: number, start: number, end: number, count: number, group: number]

export interface RunMessage {
  readonly t: 'run'
  readonly n: number
  readonly ids: readonly number[] | number
  readonly fns: readonly number[] | number
  readonly argc: readonly number[] | number
  readonly args: readonly unknown[]
  readonly parts?: readonly (PartSpec | undefined)[] | undefined
  readonly defs?: readonly FnDef[] | undefined
}

export interface DoneMessage {
  readonly t: 'done'
  readonly ids: readonly number[] | number
  readonly values: readonly unknown[]
  readonly errors?: readonly number[] | undefined
  readonly ms: number
}

/**
 * The argument a worker process gets when the OS kills it with its parent (`setpriv --pdeathsig`);
 * without it the worker watches its parent itself.
 */
export const DIES_WITH_PARENT = '--taskos-dies-with-parent'

/** One task: `[id, function key, ...args]` (a function the worker was told of; not a part). */
export type RunOne = readonly [id: number, fn: number, ...args: unknown[]]

/** One result, not an error: `[id, value, run time ms]`. */
export type DoneOne = readonly [id: number, value: unknown, ms: number]

export type ToWorker =
  | RunMessage
  | RunOne
  | { readonly t: 'load'; readonly defs: readonly FnDef[] }
  | { readonly t: 'cancel'; readonly id: number; readonly error: SerializedError }
  | { readonly t: 'message'; readonly id: number; readonly message: unknown }
  | { readonly t: 'release'; readonly group: number; readonly error: SerializedError | undefined }

export type FromWorker =
  | { readonly t: 'ready'; readonly cached: boolean }
  | { readonly t: 'code-cache'; readonly data: Uint8Array }
  | DoneMessage
  | DoneOne
  | { readonly t: 'progress'; readonly id: number; readonly done: number; readonly total: number | undefined }
  | { readonly t: 'sync'; readonly id: number; readonly group: number }

/**
 * An error in transit: enough to rebuild it on the other side with its class name, message, stack,
 * own properties and cause. A thrown value that is not an Error travels as `value`.
 */
export interface SerializedError {
  /** The error's class (constructor) name. */
  readonly className: string
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
  /** Own enumerable properties that could be copied (`code`, `errno`, …). */
  readonly props: Record<string, unknown>
  readonly cause?: SerializedError | undefined
  /** Set when the thrown value was not an Error: the value itself. */
  readonly value?: unknown
  readonly notError?: true
}
