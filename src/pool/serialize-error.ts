/**
 * Errors across thread and process boundaries: class name, message, stack, own properties and
 * cause survive; taskos errors come back as their own classes; anything else comes back as an
 * Error of a class with the same name.
 * @module
 */
import {
  CancelledError,
  HostLostError,
  SerializationError,
  TaskFailedError,
  TaskosError,
  TimeoutError,
  WorkerCrashedError,
} from '../kernel/errors.js'
import type { ErrorCode, ErrorOrigin } from '../kernel/errors.js'
import type { SerializedError } from './protocol.js'

const SKIP = new Set(['name', 'message', 'stack', 'cause'])

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value)
    return true
  } catch {
    return false
  }
}

/** Turns a thrown value into something `postMessage` can carry. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return {
      className: 'Error',
      name: 'Error',
      message: String(error),
      stack: undefined,
      props: {},
      notError: true,
      value: cloneable(error) ? error : String(error),
    }
  }
  const props: Record<string, unknown> = {}
  for (const key of Object.keys(error)) {
    if (SKIP.has(key)) continue
    const value = (error as unknown as Record<string, unknown>)[key]
    if (cloneable(value)) props[key] = value
  }
  return {
    className: error.constructor?.name || 'Error',
    name: error.name,
    message: error.message,
    stack: error.stack,
    props,
    cause: error.cause !== undefined && depth < 8 ? serializeError(error.cause, depth + 1) : undefined,
  }
}

const classes = new Map<string, new (message: string) => Error>()

/** A class named `className` (cached), so a rebuilt error's constructor has its original name. */
function namedClass(className: string): new (message: string) => Error {
  let C = classes.get(className)
  if (C === undefined) {
    const safe = /^[A-Za-z_$][\w$]*$/.test(className) ? className : 'Error'
    C = { [safe]: class extends Error {} }[safe]!
    classes.set(className, C)
  }
  return C
}

const BUILTIN: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
}

/** Rebuilds an error; `origin` says where it happened (task id, worker). */
export function deserializeError(s: SerializedError, origin?: ErrorOrigin): unknown {
  if (s.notError === true) return s.value
  const cause = s.cause === undefined ? undefined : deserializeError(s.cause)
  const code = s.props.code as ErrorCode | undefined
  let error: Error
  switch (s.className) {
    case 'CancelledError':
      error = new CancelledError(s.message, { cause })
      break
    case 'TimeoutError':
      error = new TimeoutError(s.message, (s.props.timeout as number | undefined) ?? 0, { cause })
      break
    case 'TaskFailedError':
      error = new TaskFailedError(s.message, { cause })
      break
    case 'WorkerCrashedError':
      error = new WorkerCrashedError(
        s.message,
        { exitCode: s.props.exitCode as number | undefined, signal: s.props.signal as string | undefined },
        { cause },
      )
      break
    case 'HostLostError':
      error = new HostLostError(s.message, { cause })
      break
    case 'SerializationError':
      error = new SerializationError(s.message, { cause })
      break
    case 'TaskosError':
      error = new TaskosError(code ?? 'ERR_TASK_FAILED', s.message, { cause })
      break
    default: {
      const C = BUILTIN[s.className] ?? namedClass(s.className)
      error = new C(s.message)
      if (error.name !== s.name)
        Object.defineProperty(error, 'name', { value: s.name, writable: true, configurable: true })
      if (cause !== undefined)
        Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true })
    }
  }
  for (const [key, value] of Object.entries(s.props)) {
    if (key === 'origin' || (error instanceof TaskosError && key === 'code')) continue
    ;(error as unknown as Record<string, unknown>)[key] = value
  }
  if (s.stack !== undefined) error.stack = s.stack
  if (error instanceof TaskosError && origin !== undefined) error.origin = origin
  return error
}
