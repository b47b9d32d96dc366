/**
 * `defineTask`: a task function that knows where it lives (module URL + export), so a worker
 * thread, a child process or a cluster node can import it and run it.
 * @module
 */
import { TaskosError, describe } from '../kernel/errors.js'
import type { BodyResult, TaskContext } from '../kernel/index.js'
import { nodeUrl } from './builtins.js'

/**
 * A task function defined with {@link defineTask}: still a plain function (it runs in-process with
 * `kernel.spawn`), plus the module URL and name a worker needs to find it.
 * @typeParam A - its arguments after the context.
 * @typeParam R - its result.
 */
export interface TaskFunction<A extends unknown[] = never[], R = unknown> {
  (t: TaskContext, ...args: A): unknown
  /** File URL of the module that defines it. */
  readonly taskModule: string
  /** Its name: the worker looks up the module's export defined under this name. */
  readonly taskName: string
  /** @internal phantom field carrying the result type. */
  readonly __result?: R
}

/**
 * Defines a task function that can run on a worker (thread or process) or a cluster node.
 * The function must be named (its name identifies it in the module) and exported from the module
 * whose `import.meta.url` is given. TypeScript modules work in workers when `tsx` is installed.
 * @example
 * // work.ts
 * export const sum = defineTask(import.meta.url, function sum(t, xs: Float64Array) {
 *   let s = 0
 *   for (const x of xs) s += x
 *   return s
 * })
 * // main.ts
 * const pool = new Pool()
 * await pool.run(sum, [new Float64Array([1, 2, 3])])   // 6
 * @throws ERR_INVALID_ARGUMENT when the URL or the function is missing, or the function has no name.
 */
export function defineTask<A extends unknown[], X>(
  moduleUrl: string,
  fn: (t: TaskContext, ...args: A) => X,
): TaskFunction<A, BodyResult<X>> & ((t: TaskContext, ...args: A) => X) {
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `defineTask needs the module's URL (import.meta.url), got ${describe(moduleUrl)}`,
    )
  }
  if (typeof fn !== 'function') {
    throw new TaskosError('ERR_INVALID_ARGUMENT', `defineTask needs a task function, got ${describe(fn)}`)
  }
  if (fn.name === '') {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      'defineTask needs a named function: export const sum = defineTask(import.meta.url, function sum(t, …) { … })',
    )
  }
  const url = moduleUrl.startsWith('file:') ? moduleUrl : nodeUrl().pathToFileURL(moduleUrl).href
  Object.defineProperties(fn, {
    taskModule: { value: url, enumerable: false },
    taskName: { value: fn.name, enumerable: false },
  })
  return fn as TaskFunction<A, BodyResult<X>> & ((t: TaskContext, ...args: A) => X)
}

/** Whether `fn` was made by {@link defineTask}. */
export function isTaskFunction(fn: unknown): fn is TaskFunction<never[], unknown> {
  return typeof fn === 'function' && typeof (fn as Partial<TaskFunction>).taskModule === 'string'
}
