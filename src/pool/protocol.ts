/**
 * The wire format between a pool and its workers (thread: `postMessage`; process: IPC with the
 * `advanced` (structured clone) serialization). Every message is a plain object with a `t` tag.
 * Several tasks travel in one message: the per-task cost stays far below a message round trip.
 *
 * Pool → worker:
 * - `run`: `tasks`: a list of `[id, fn, args, part]`; `fn` is `[module URL, name]` for a task
 *   function, or `['', source]` for a self-contained function shipped as source; `part` is
 *   `[index, start, end, count, group]` in a partitioned call, else undefined.
 * - `cancel`: `id`, `error` (a serialized error: the cancellation reason).
 * - `message`: `id`, `message`: a message for the task's mailbox (`poolTask.send`).
 * - `release`: `group`, `error` (serialized, or undefined): a `t.sync()` barrier opens.
 *
 * Worker → pool:
 * - `ready`: the worker runs and listens.
 * - `done`: `results`: a list of `[id, ok, value, ms]`: ok 1 with the value, ok 0 with a
 *   serialized error; `ms` is the task's run time in the worker (for scheduling).
 * - `progress`: `id`, `done`, `total` (throttled in the worker).
 * - `sync`: `id`, `group`: the task reached `t.sync()`.
 * @module
 */

/** How a task's function is found in the worker: by module and name, or shipped as source. */
export type FnRef = readonly [module: string, name: string]

/** `[index, start, end, count, group]` of a partitioned call. */
export type PartSpec = readonly [index: number, start: number, end: number, count: number, group: number]

/** One task in a `run` message. */
export type RunSpec = readonly [id: number, fn: FnRef, args: readonly unknown[], part: PartSpec | undefined]

/** One result in a `done` message. */
export type ResultSpec = readonly [id: number, ok: 0 | 1, value: unknown, ms: number]

export type ToWorker =
  | { readonly t: 'run'; readonly tasks: readonly RunSpec[] }
  | { readonly t: 'cancel'; readonly id: number; readonly error: SerializedError }
  | { readonly t: 'message'; readonly id: number; readonly message: unknown }
  | { readonly t: 'release'; readonly group: number; readonly error: SerializedError | undefined }

export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'done'; readonly results: readonly ResultSpec[] }
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
