/**
 * `kernel.dispatch`: COS Dispatch. Jobs are pulled lazily from any (async) iterable as slots free,
 * run as tasks (on an executor, or locally as children of a dispatcher task), and their results
 * come back in job order; a collector sees each as it finishes.
 * @module
 */
import type { TaskContext } from './context.js'
import { TaskFailedError, TaskosError, invalidArgument, invalidOption } from './errors.js'
import type { Executor, Kernel } from './kernel.js'
import type { Operation } from './operation.js'
import { TaskCore } from './task.js'
import type { ExitNotice, ResultOf, Task, TaskFn } from './types.js'

/** One job of a dispatch: a task function, its arguments, and extra data not passed to it. */
export interface Job<F = TaskFn> {
  fn: F
  /** The arguments after the context (not checked against `fn`: jobs may differ in kind). */
  args?: readonly unknown[]
  /** Kept with the job (the collector sees it); not passed to `fn`. */
  extra?: unknown
}

/**
 * Builds a job whose arguments are checked against its function (a plain `{ fn, args }` literal is
 * not: jobs of one dispatch may differ in kind).
 * @example
 * k.dispatch([job(resize, ['a.png', 640]), job(resize, ['b.png', 320], { extra: 'thumb' })])
 */
export function job<A extends unknown[], X>(
  fn: (t: TaskContext, ...args: A) => X,
  args: A,
  options: { extra?: unknown } = {},
): Job<(t: TaskContext, ...args: A) => X> {
  return options.extra === undefined ? { fn, args } : { fn, args, extra: options.extra }
}

/** What the collector sees as each job finishes. */
export interface DispatchResult<J extends Job = Job> {
  /** The job's position in the job sequence, from 0. */
  index: number
  job: J
  value: ResultOf<J['fn']>
}

/** Called with each finished job's result, in completion order. */
export type DispatchCollector<J extends Job = Job> = (result: DispatchResult<J>) => void

/** Options of `kernel.dispatch`. */
export interface DispatchOptions<J extends Job = Job> {
  /** Run the jobs on this executor. @default the kernel's executor, or locally when it has none */
  on?: Executor
  /** Sees `{ index, job, value }` as each job finishes (COS collector). */
  collector?: DispatchCollector<J>
  /** Build the result list even with a collector. @default true without a collector, false with one */
  results?: boolean
  /** Jobs running at once. @default the executor's slots, or 1000 for local jobs */
  concurrency?: number
  /** Cancels the dispatch (and its running jobs). */
  signal?: AbortSignal
}

const LOCAL_CONCURRENCY = 1000

/** @internal */
export function dispatch<J extends Job>(
  kernel: Kernel,
  jobs: Iterable<J> | AsyncIterable<J>,
  options: DispatchOptions<J> = {},
): Operation<ResultOf<J['fn']>[] | undefined> {
  if (
    jobs === null ||
    typeof jobs !== 'object' ||
    (!(Symbol.iterator in jobs) && !(Symbol.asyncIterator in jobs))
  ) {
    throw invalidArgument(
      'jobs',
      jobs,
      'an array, iterable, generator or async iterable of { fn, args, extra }',
    )
  }
  const executor = options.on ?? kernel.executor
  if (options.collector !== undefined && typeof options.collector !== 'function') {
    throw invalidOption('collector', options.collector, 'a function ({ index, job, value }) => void')
  }
  const concurrency =
    options.concurrency ?? (executor === undefined ? LOCAL_CONCURRENCY : Math.max(1, executor.slots()))
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalidOption('concurrency', concurrency, 'an integer >= 1')
  }
  const results = options.results ?? options.collector === undefined
  const task = kernel.spawn(
    dispatcher as (t: TaskContext, ...args: never[]) => Promise<ResultOf<J['fn']>[] | undefined>,
    [jobs, executor, options.collector, results, concurrency] as never,
    options.signal === undefined ? { name: 'dispatch' } : { name: 'dispatch', signal: options.signal },
  )
  return task.join()
}

async function dispatcher(
  t: TaskContext,
  jobs: Iterable<Job> | AsyncIterable<Job>,
  executor: Executor | undefined,
  collector: DispatchCollector | undefined,
  wantResults: boolean,
  concurrency: number,
): Promise<unknown[] | undefined> {
  const isAsync = Symbol.asyncIterator in jobs
  const iterator = isAsync ? jobs[Symbol.asyncIterator]() : jobs[Symbol.iterator]()
  const results: unknown[] | undefined = wantResults ? [] : undefined
  const running = new Map<Task, { index: number; job: Job }>()
  const isOurs = (m: unknown): boolean =>
    typeof m === 'object' &&
    m !== null &&
    (m as ExitNotice).type === 'exit' &&
    running.has((m as ExitNotice).task)
  let index = 0
  let exhausted = false
  try {
    for (;;) {
      while (!exhausted && running.size < concurrency) {
        const next = isAsync ? await iterator.next() : (iterator.next() as IteratorResult<Job>)
        if (next.done === true) {
          exhausted = true
          break
        }
        const job = next.value
        if (job === null || typeof job !== 'object' || typeof job.fn !== 'function') {
          throw invalidArgument(`job ${index}`, job, 'an object { fn, args?, extra? } with a task function')
        }
        if (job.args !== undefined && !Array.isArray(job.args)) {
          throw invalidArgument(`args of job ${index}`, job.args, 'an array')
        }
        const args = (job.args ?? []) as unknown[]
        const task: Task =
          executor === undefined
            ? t.spawn(job.fn, args as never)
            : t.kernel._runRemote(executor, job.fn, args, { signal: t.signal })
        running.set(task, { index: index++, job })
        t.monitor(task)
      }
      if (running.size === 0) break
      const notice = await t.receive<ExitNotice>({ filter: isOurs })
      const entry = running.get(notice.task)!
      running.delete(notice.task)
      if (notice.task instanceof TaskCore) notice.task._observe() // collected here
      if (notice.status !== 'done') {
        const error = notice.error
        const what = error instanceof Error ? error.message : String(error)
        throw new TaskFailedError(
          `dispatch: job ${entry.index} (${entry.job.fn.name || 'anonymous'}) ${notice.status}: ${what}`,
          {
            cause: error,
          },
        )
      }
      if (results !== undefined) results[entry.index] = notice.value
      collector?.({ index: entry.index, job: entry.job, value: notice.value })
    }
  } finally {
    if (running.size > 0) {
      const reason = new TaskosError('ERR_CANCELLED', 'dispatch stopped')
      for (const task of running.keys()) task.cancel(reason)
      // local jobs are children (structured concurrency waits for them); remote ones are awaited
      // here, so the dispatch settles only once no job it started runs anywhere
      if (executor !== undefined) await Promise.all([...running.keys()].map((task) => task.settle()))
    }
    if (!exhausted) await iterator.return?.()
  }
  return results
}
