/**
 * Errors of batch runs.
 * @module
 */
import { TaskosError } from '../kernel/index.js'
import type { TaskosErrorOptions } from '../kernel/index.js'

/**
 * Thrown by a worker to say retrying is pointless (bad input, missing file): the job fails at once
 * even with `retries`. Recognised by name across threads and processes. Code `ERR_TASK_FAILED`.
 * @example
 * export const render = defineTask(import.meta.url, function render(t, ins: { input: string }) {
 *   if (!ins.input.endsWith('.svg')) throw new UnrecoverableError(`not an SVG: ${ins.input}`)
 *   // …
 * })
 */
export class UnrecoverableError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_TASK_FAILED', message, options)
  }
}

/**
 * A job's measured memory went over its declared `memory` under `memoryPolicy: 'fail'`: the job is
 * killed and fails (not retried). Code `ERR_TASK_FAILED`.
 */
export class MemoryExceededError extends TaskosError {
  /** Measured peak RSS (bytes). */
  readonly peakRssBytes: number
  /** Declared memory (bytes). */
  readonly memory: number
  constructor(message: string, peakRssBytes: number, memory: number) {
    super('ERR_TASK_FAILED', message)
    this.peakRssBytes = peakRssBytes
    this.memory = memory
  }
}

/** Whether a job's error forbids a retry. */
export function isUnrecoverable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false
  const x = e as { name?: unknown; unrecoverable?: unknown }
  return x.name === 'UnrecoverableError' || x.name === 'MemoryExceededError' || x.unrecoverable === true
}
