/**
 * The options of a Boss: their types, defaults (one frozen object) and their validation at the
 * boundary.
 * @module
 */
import { realClock } from '../kernel/index.js'
import type { Clock } from '../kernel/index.js'
import { invalidOption } from '../kernel/errors.js'
import { isTaskFunction } from '../pool/index.js'
import type { TaskFunction } from '../pool/index.js'
import type { CommandTemplate } from './command.js'
import { checkTemplate, isCommandTemplate } from './command.js'
import type { InstructionSet } from './instructions.js'
import type { BatchSummary } from './report.js'
import type { JobInfo } from './runners.js'
import type { CustomScheduler, Scheduler } from './schedulers.js'
import { toScheduler } from './schedulers.js'

/** A callback run (in the boss's process) before each job starts; a throw fails the job. */
export type BeforeJobHook = (job: JobInfo, slot: number) => void | Promise<void>

/** Retry delays: `initial · factor^(attempt-1)`, at most `max` (ms). */
export interface BackoffOptions {
  /** @default 1000 */
  initial?: number
  /** @default 2 */
  factor?: number
  /** @default 30000 */
  max?: number
}

/** Options of `new Boss()` and `batch()`; `common` and `individual` add a first set of jobs. */
export interface BossOptions<R = unknown> extends InstructionSet {
  /** A task function (`defineTask`) called as `(t, instructions, job)`, or a command template. */
  worker: TaskFunction<never[], R> | CommandTemplate
  /** Which pending jobs start when. @default schedulers.maxWorkers() (os.availableParallelism()) */
  scheduler?: Scheduler | CustomScheduler
  /** Task-function workers: processes (crash and memory isolation, RSS measured) or threads (shared memory). @default 'process' */
  isolation?: 'thread' | 'process'
  /** Pin slot i to CPU `i % cpus` (taskset; processes and commands). @default false */
  bind?: boolean
  /** Extra attempts for a failed or crashed job (not for UnrecoverableError). @default 0 */
  retries?: number
  /** Delays between attempts. @default { initial: 1000, factor: 2, max: 30000 } */
  backoff?: BackoffOptions
  /** Path of a journal file: finished jobs are appended; jobs it records as done are skipped. @default none */
  journal?: string
  /** Callbacks before each job (taylorism's scheduler_hooks). @default none */
  beforeJob?: BeforeJobHook | readonly BeforeJobHook[]
  /** A job measured over its declared `memory`: ignore, warn (event and report note) or fail (kill it). @default 'warn' */
  memoryPolicy?: 'ignore' | 'warn' | 'fail'
  /** How often running processes' RSS is sampled (ms). @default 100 */
  sampleInterval?: number
  /** How much of a command's stdout and stderr the report keeps (bytes, the end). @default 4096 */
  tailBytes?: number
  /** After a forced stop, how long (ms) a job gets before it is killed. @default 2000 */
  killGrace?: number
  /** Handle SIGINT/SIGTERM: the first drains (stop), the second kills (stop now). @default false */
  signals?: boolean
  /** Clock of the retry backoff (a VirtualClock in tests). @default realClock */
  clock?: Clock
  /**
   * How command jobs start: `'auto'` uses a small Perl helper when `perl` is on the PATH (it forks
   * far cheaper than Node, about xargs speed, and spools output to temp files), else Node's
   * `child_process.spawn`; `'node'` always uses `spawn` (output through pipes). @default 'auto'
   */
  launcher?: 'auto' | 'node'
}

/** Options of `boss.report()`. */
export interface ReportOptions {
  /** Accepted for taylorism users; every report before the end is interim. @default true */
  interim?: boolean
}

/** Options of `boss.stop()`. */
export interface StopOptions {
  /** Also cancel running jobs (instead of letting them finish). @default false */
  now?: boolean
}

/** A snapshot of a boss's counters; plain and JSON-safe. */
export interface BossStats extends BatchSummary {
  readonly slots: number
  readonly paused: boolean
  readonly ended: boolean
  readonly stopping: false | 'drain' | 'now'
}

export const DEFAULTS = Object.freeze({
  isolation: 'process' as const,
  retries: 0,
  backoff: Object.freeze({ initial: 1000, factor: 2, max: 30_000 }),
  memoryPolicy: 'warn' as const,
  sampleInterval: 100,
  tailBytes: 4096,
  killGrace: 2000,
  launcher: 'auto' as const,
})

export const OPTION_KEYS = new Set([
  'worker',
  'common',
  'individual',
  'scheduler',
  'isolation',
  'bind',
  'retries',
  'backoff',
  'journal',
  'beforeJob',
  'memoryPolicy',
  'sampleInterval',
  'tailBytes',
  'killGrace',
  'signals',
  'clock',
  'launcher',
])

/** @internal options checked and completed with their defaults. */
export interface ResolvedOptions {
  readonly scheduler: Scheduler
  readonly isolation: 'thread' | 'process'
  readonly retries: number
  readonly backoff: Required<BackoffOptions>
  readonly memoryPolicy: 'ignore' | 'warn' | 'fail'
  readonly sampleInterval: number
  readonly tailBytes: number
  readonly killGrace: number
  readonly bind: boolean
  readonly hooks: readonly BeforeJobHook[]
  readonly clock: Clock
  readonly launcher: 'auto' | 'node'
  readonly command: CommandTemplate | undefined
  readonly fn: TaskFunction<never[], unknown> | undefined
  readonly journal: string | undefined
  readonly signals: boolean
}

/**
 * @internal checks every option (not the instructions) and applies the defaults.
 * @throws ERR_INVALID_OPTION naming the option.
 */
export function resolveOptions(options: BossOptions<unknown>): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object')
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.has(key))
      throw invalidOption(key, (options as unknown as Record<string, unknown>)[key], 'a known option')
  const scheduler = toScheduler(options.scheduler)
  const isolation = options.isolation ?? DEFAULTS.isolation
  if (isolation !== 'thread' && isolation !== 'process')
    throw invalidOption('isolation', isolation, "'thread' or 'process'")
  const retries = options.retries ?? DEFAULTS.retries
  if (!Number.isSafeInteger(retries) || retries < 0)
    throw invalidOption('retries', retries, 'an integer >= 0')
  const backoff = { ...DEFAULTS.backoff, ...(options.backoff ?? {}) }
  for (const k of ['initial', 'factor', 'max'] as const)
    if (!(typeof backoff[k] === 'number' && backoff[k] >= 0))
      throw invalidOption(`backoff.${k}`, backoff[k], 'a number >= 0')
  const memoryPolicy = options.memoryPolicy ?? DEFAULTS.memoryPolicy
  if (!['ignore', 'warn', 'fail'].includes(memoryPolicy))
    throw invalidOption('memoryPolicy', memoryPolicy, "'ignore', 'warn' or 'fail'")
  const sampleInterval = options.sampleInterval ?? DEFAULTS.sampleInterval
  if (!(sampleInterval >= 1)) throw invalidOption('sampleInterval', sampleInterval, 'a number of ms >= 1')
  const tailBytes = options.tailBytes ?? DEFAULTS.tailBytes
  if (!Number.isSafeInteger(tailBytes) || tailBytes < 0)
    throw invalidOption('tailBytes', tailBytes, 'an integer >= 0')
  const killGrace = options.killGrace ?? DEFAULTS.killGrace
  if (!(killGrace >= 0)) throw invalidOption('killGrace', killGrace, 'a number of ms >= 0')
  if (options.bind !== undefined && typeof options.bind !== 'boolean')
    throw invalidOption('bind', options.bind, 'a boolean')
  const bind = options.bind === true
  if (bind && isolation === 'thread' && !isCommandTemplate(options.worker))
    throw invalidOption('bind', true, "isolation 'process' (threads cannot be pinned to a CPU)")
  const hooks =
    options.beforeJob === undefined
      ? []
      : typeof options.beforeJob === 'function'
        ? [options.beforeJob]
        : options.beforeJob
  if (!Array.isArray(hooks) || hooks.some((h) => typeof h !== 'function'))
    throw invalidOption('beforeJob', options.beforeJob, 'a function or an array of functions')
  const launcher = options.launcher ?? DEFAULTS.launcher
  if (launcher !== 'auto' && launcher !== 'node')
    throw invalidOption('launcher', launcher, "'auto' or 'node'")
  if (options.journal !== undefined && (typeof options.journal !== 'string' || options.journal === ''))
    throw invalidOption('journal', options.journal, 'a file path')
  if (options.signals !== undefined && typeof options.signals !== 'boolean')
    throw invalidOption('signals', options.signals, 'a boolean')
  const worker = options.worker as unknown
  let command: CommandTemplate | undefined
  let fn: TaskFunction<never[], unknown> | undefined
  if (isCommandTemplate(worker)) {
    checkTemplate(worker)
    command = worker
  } else if (isTaskFunction(worker)) fn = worker
  else
    throw invalidOption(
      'worker',
      worker,
      'a task function made by defineTask, or a command template { command }',
    )
  return {
    scheduler,
    isolation,
    retries,
    backoff,
    memoryPolicy,
    sampleInterval,
    tailBytes,
    killGrace,
    bind,
    hooks: hooks as readonly BeforeJobHook[],
    clock: options.clock ?? realClock,
    launcher,
    command,
    fn,
    journal: options.journal,
    signals: options.signals === true,
  }
}
