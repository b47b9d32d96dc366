/**
 * The error types of taskos. Every error taskos raises is a {@link TaskosError} with a stable
 * {@link ErrorCode}; a handful of subclasses exist where callers branch on the kind.
 * @module
 */

/** Every stable error code taskos uses. Codes never change meaning; new ones may be added. */
export type ErrorCode =
  | 'ERR_TIMEOUT'
  | 'ERR_CANCELLED'
  | 'ERR_TASK_FAILED'
  | 'ERR_WORKER_CRASHED'
  | 'ERR_HOST_LOST'
  | 'ERR_SERIALIZATION'
  | 'ERR_NOT_CHILD'
  | 'ERR_UNKNOWN_TASK'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_STATE'
  | 'ERR_INVALID_YIELD'
  | 'ERR_NAME_TAKEN'
  | 'ERR_UNKNOWN_NAME'
  | 'ERR_CLOSED'
  | 'ERR_NO_EXECUTOR'
  | 'ERR_RESTART_LIMIT'
  | 'ERR_HOT_SWAPPED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_CONNECT'
  | 'ERR_AUTH'

/** Where an error happened, when it crossed a boundary (thread, process, machine). */
export interface ErrorOrigin {
  /** Id of the task that raised it. */
  readonly task?: number | string
  /** Worker, process or host that ran the task. */
  readonly worker?: number | string
  readonly host?: string
}

/** Options accepted by every taskos error constructor. */
export interface TaskosErrorOptions {
  /** The underlying error, kept as `cause`. */
  cause?: unknown
  /** Where the error happened, for errors that crossed a boundary. */
  origin?: ErrorOrigin
}

/**
 * Base class of every error taskos raises.
 * @example
 * try { await task.join() } catch (e) { if (e instanceof TaskosError && e.code === 'ERR_TIMEOUT') … }
 */
export class TaskosError extends Error {
  /** The stable code: branch on this, not on the message. */
  readonly code: ErrorCode
  /** Where the error happened when it crossed a thread, process or machine boundary. */
  origin: ErrorOrigin | undefined

  constructor(code: ErrorCode, message: string, options: TaskosErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.origin = options.origin
  }

  override get name(): string {
    return this.constructor.name
  }
}

/** A wait (receive, join, lock, …) or a task ran past its `timeout`. Code `ERR_TIMEOUT`. */
export class TimeoutError extends TaskosError {
  /** The timeout that expired, in ms. */
  readonly timeout: number
  constructor(message: string, timeout: number, options?: TaskosErrorOptions) {
    super('ERR_TIMEOUT', message, options)
    this.timeout = timeout
  }
}

/** A task or wait was cancelled; `cause` holds the reason given to `cancel()`. Code `ERR_CANCELLED`. */
export class CancelledError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_CANCELLED', message, options)
  }
}

/**
 * A task failed because of another task's failure (a child it never joined, a job of a dispatch);
 * `cause` is the original error. Code `ERR_TASK_FAILED`.
 */
export class TaskFailedError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_TASK_FAILED', message, options)
  }
}

/** The worker thread or process running a task died (exit, signal, out of memory). Code `ERR_WORKER_CRASHED`. */
export class WorkerCrashedError extends TaskosError {
  /** Exit code of the worker, when it exited. */
  readonly exitCode: number | undefined
  /** Signal that killed the worker, when one did. */
  readonly signal: string | undefined
  constructor(
    message: string,
    details: { exitCode?: number | undefined; signal?: string | undefined } = {},
    options?: TaskosErrorOptions,
  ) {
    super('ERR_WORKER_CRASHED', message, options)
    this.exitCode = details.exitCode
    this.signal = details.signal
  }
}

/** The host running a remote task stopped answering. Code `ERR_HOST_LOST`. */
export class HostLostError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_HOST_LOST', message, options)
  }
}

/** A value could not be copied across a thread, process or machine boundary. Code `ERR_SERIALIZATION`. */
export class SerializationError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_SERIALIZATION', message, options)
  }
}

/** `ERR_INVALID_OPTION` naming the option, the bad value and what was expected. */
export function invalidOption(option: string, value: unknown, expected: string): TaskosError {
  return new TaskosError(
    'ERR_INVALID_OPTION',
    `invalid option ${option}: ${describe(value)} (expected ${expected})`,
  )
}

/** `ERR_INVALID_ARGUMENT` naming the argument, the bad value and what was expected. */
export function invalidArgument(argument: string, value: unknown, expected: string): TaskosError {
  return new TaskosError(
    'ERR_INVALID_ARGUMENT',
    `invalid ${argument}: ${describe(value)} (expected ${expected})`,
  )
}

/** A short, safe rendering of any value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return `array(${value.length})`
  return `object ${value.constructor?.name ?? 'Object'}`
}
