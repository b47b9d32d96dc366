/**
 * Supervision (pycos monitor/restart, OTP supervisor strategies): a supervisor task spawns its
 * children, watches them, and restarts the ones that fail, until too many restarts happen within a
 * window; then it cancels the rest and fails with ERR_RESTART_LIMIT (escalating to its parent).
 * @module
 */
import type { TaskContext } from './context.js'
import { TaskosError, describe, invalidArgument, invalidOption } from './errors.js'
import type { Kernel } from './kernel.js'
import type { KernelTask } from './context.js'
import type { TaskCore } from './task.js'
import type { ExitNotice, TaskFn } from './types.js'

/** Which children restart when one fails. */
export type SuperviseStrategy = 'one-for-one' | 'one-for-all' | 'rest-for-one'

/**
 * When a child is restarted: 'permanent' always (even after returning), 'transient' only after it
 * failed or crashed, 'temporary' never.
 */
export type RestartPolicy = 'permanent' | 'transient' | 'temporary'

/** One supervised child. (`args` is not checked against `fn` here: children differ in kind.) */
export interface SupervisedChild {
  fn: TaskFn
  args?: readonly unknown[]
  /** Registered in the kernel for the current instance, so `t.send(name, …)` survives restarts. */
  name?: string
  /** @default 'transient' */
  restart?: RestartPolicy
}

/** Options of `supervise`. */
export interface SuperviseOptions {
  /** @default 'one-for-one' */
  strategy?: SuperviseStrategy
  /** Restarts allowed within `within` ms before the supervisor gives up. @default 3 */
  maxRestarts?: number
  /** The window for `maxRestarts`, in ms. @default 5000 */
  within?: number
  /** Name of the supervisor task. @default 'supervisor' */
  name?: string
}

const DEFAULTS = Object.freeze({ strategy: 'one-for-one', maxRestarts: 3, within: 5000 })
const STRATEGIES: readonly string[] = ['one-for-one', 'one-for-all', 'rest-for-one']
const POLICIES: readonly string[] = ['permanent', 'transient', 'temporary']

/** @internal starts a supervisor as a child of `parent` (or owned by the kernel). */
export function supervise(
  kernel: Kernel,
  parent: TaskCore<unknown> | undefined,
  children: readonly SupervisedChild[],
  options: SuperviseOptions = {},
): KernelTask<void> {
  if (!Array.isArray(children) || children.length === 0) {
    throw invalidArgument('children', children, 'a non-empty array of { fn, args?, name?, restart? }')
  }
  children.forEach((c: SupervisedChild, i) => {
    if (c === null || typeof c !== 'object' || typeof c.fn !== 'function') {
      throw invalidArgument(`child ${i}`, c, 'an object { fn, args?, name?, restart? }')
    }
    if (c.restart !== undefined && !POLICIES.includes(c.restart)) {
      throw invalidOption(`children[${i}].restart`, c.restart, POLICIES.join(' | '))
    }
  })
  const strategy = options.strategy ?? DEFAULTS.strategy
  if (!STRATEGIES.includes(strategy)) throw invalidOption('strategy', strategy, STRATEGIES.join(' | '))
  const maxRestarts = options.maxRestarts ?? DEFAULTS.maxRestarts
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0)
    throw invalidOption('maxRestarts', maxRestarts, 'an integer >= 0')
  const within = options.within ?? DEFAULTS.within
  if (typeof within !== 'number' || !(within > 0)) throw invalidOption('within', within, 'a number of ms > 0')
  const name = options.name ?? 'supervisor'
  const args = [children.slice(), strategy, maxRestarts, within] as never
  const body = supervisor as (t: TaskContext, ...args: never[]) => Promise<void>
  return kernel._spawn(body, args, { name }, parent) as KernelTask<void>
}

async function supervisor(
  t: TaskContext,
  specs: SupervisedChild[],
  strategy: SuperviseStrategy,
  maxRestarts: number,
  within: number,
): Promise<void> {
  const kernel = t.kernel
  const current: (TaskCore<unknown> | undefined)[] = specs.map(() => undefined)
  const restarts: number[] = []
  const start = (i: number): void => {
    const spec = specs[i]!
    const child = t.spawn(
      spec.fn,
      (spec.args ?? []) as never[],
      spec.name === undefined ? undefined : { name: spec.name },
    )
    current[i] = child as unknown as TaskCore<unknown>
    if (spec.name !== undefined) {
      kernel.unregister(spec.name)
      if (!child.ended) kernel.register(spec.name, child)
    }
    t.monitor(child)
  }
  const isCurrent = (m: unknown): boolean =>
    typeof m === 'object' &&
    m !== null &&
    (m as ExitNotice).type === 'exit' &&
    current.includes((m as ExitNotice).task as TaskCore<unknown>)
  /** Cancels children `from..end` (newest first) and waits for each to end. */
  const stopFrom = async (from: number, except: number): Promise<void> => {
    for (let j = current.length - 1; j >= from; j--) {
      const child = current[j]
      if (j === except || child === undefined) continue
      child.cancel(new TaskosError('ERR_CANCELLED', `restarted by ${strategy} supervisor`))
      while (!child.ended) await t.receive({ filter: (m) => (m as ExitNotice).task === child })
      t.tryReceive((m) => (m as ExitNotice).task === child)
      child._observe()
      current[j] = undefined
    }
  }
  specs.forEach((_, i) => start(i))
  while (current.some((c) => c !== undefined)) {
    const notice = await t.receive<ExitNotice>({ filter: isCurrent })
    const i = current.indexOf(notice.task as TaskCore<unknown>)
    const child = current[i]!
    child._observe()
    current[i] = undefined
    const spec = specs[i]!
    const failed = notice.status === 'failed' || notice.status === 'crashed'
    const policy = spec.restart ?? 'transient'
    if (policy === 'temporary' || (policy === 'transient' && !failed)) continue
    const now = kernel.clock.now()
    restarts.push(now)
    while (restarts.length > 0 && restarts[0]! <= now - within) restarts.shift()
    if (restarts.length > maxRestarts) {
      const error = notice.status === 'done' ? undefined : notice.error
      await stopFrom(0, -1)
      throw new TaskosError(
        'ERR_RESTART_LIMIT',
        `supervisor: more than ${maxRestarts} restarts within ${within} ms (last: ${child.label}` +
          (error === undefined
            ? ' returned'
            : ` ${notice.status}: ${error instanceof Error ? error.message : describe(error)}`) +
          ')',
        { cause: error },
      )
    }
    if (strategy === 'one-for-one') start(i)
    else {
      const from = strategy === 'one-for-all' ? 0 : i
      await stopFrom(from, i)
      for (let j = from; j < specs.length; j++) {
        if (j === i || (specs[j]!.restart ?? 'transient') !== 'temporary') start(j)
      }
    }
  }
}
