/**
 * Schedulers decide which pending jobs start now. They are pure: given the pending jobs (in
 * submission order), the running ones and the free capacity, they return the jobs to launch, in
 * launch order. The boss applies the result (and enforces resource locks and the slot count itself,
 * so a custom scheduler cannot break those).
 * @module
 */
import { availableParallelism, totalmem } from 'node:os'
import { invalidOption } from '../kernel/errors.js'
import type { JobSpec } from './instructions.js'
import { formatSize, parseSize } from './size.js'

/** A job waiting to start, as a scheduler sees it. */
export interface PendingJob {
  readonly spec: JobSpec
  /** 1 for the first run, 2 for the first retry, … */
  readonly attempt: number
  /** How many jobs submitted after this one started while it waited (for anti-starvation rules). */
  readonly bypassed: number
}

/** A running job, as a scheduler sees it. */
export interface RunningJob {
  readonly spec: JobSpec
  /** Its slot, from 0. */
  readonly slot: number
}

/** Capacity left, as a scheduler sees it. */
export interface SchedulerResources {
  /** Slots in all (the scheduler's `maxWorkers`). */
  readonly slots: number
  /** Slots free now. */
  readonly freeSlots: number
  /** Resources held by running jobs. */
  readonly heldResources: ReadonlySet<string>
}

/**
 * A scheduler: `launchable` picks pending jobs to start now. `maxWorkers` is the number of slots the
 * boss creates. `reject`, when present, says why a job can never run (it then fails at once).
 *
 * The boss passes only pending jobs whose resources are free, launches at most `freeSlots` of the
 * returned jobs, and skips a returned job whose resources clash with one launched before it.
 */
export interface Scheduler {
  readonly maxWorkers: number
  launchable(
    pending: readonly PendingJob[],
    running: readonly RunningJob[],
    resources: SchedulerResources,
  ): readonly PendingJob[]
  reject?(job: JobSpec): string | undefined
  /**
   * The boss keeps pending jobs in this order (higher first, then submission order), and shows a
   * scheduler the first 1,024 of them at a time. @default every job 0: submission order
   */
  priority?(job: JobSpec): number
}

/** A user scheduler: `launchable` is required; `maxWorkers` defaults to `os.availableParallelism()`. */
export interface CustomScheduler {
  readonly maxWorkers?: number
  launchable: Scheduler['launchable']
  reject?: Scheduler['reject']
  priority?: Scheduler['priority']
}

/**
 * Schedulers that decide by the count of free slots alone, taking the head of the pending list
 * (maxWorkers, longerFirst over such a one): the boss may then hand a slot's worker the next short
 * jobs before the slot frees (pipelining), as these schedulers would start them there anyway.
 */
const slotCounting = new WeakSet<Scheduler>()

/** @internal whether `s` decides by the count of free slots alone (see `slotCounting`). */
export function countsOnly(s: Scheduler): boolean {
  return slotCounting.has(s)
}

function checkWorkers(n: unknown, key: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 1) throw invalidOption(key, n, 'an integer >= 1')
  return n as number
}

/**
 * At most `n` jobs at once, in submission order.
 * @param n - slots. @default os.availableParallelism()
 * @throws ERR_INVALID_OPTION (maxWorkers) when `n` is not an integer >= 1.
 * @example
 * await batch({ worker, individual, scheduler: schedulers.maxWorkers(4) })
 */
export function maxWorkers(n: number = availableParallelism()): Scheduler {
  const max = checkWorkers(n, 'maxWorkers')
  const s: Scheduler = Object.freeze({
    maxWorkers: max,
    launchable: (pending: readonly PendingJob[], running: readonly RunningJob[]) =>
      pending.slice(0, Math.max(0, max - running.length)),
  })
  slotCounting.add(s)
  return s
}

/** Options of {@link maxMemory}. */
export interface MaxMemoryOptions {
  /** Bytes or `'8GiB'`: running jobs' declared memory never exceeds it. @default 75% of os.totalmem() */
  limit?: number | string
  /** Slots. @default os.availableParallelism() */
  maxWorkers?: number
  /**
   * How many later jobs may start ahead of a job that does not fit yet; after that it blocks the
   * queue until it fits (so small jobs never starve a big one). @default maxWorkers
   */
  patience?: number
}

/**
 * At most `maxWorkers` jobs at once, and the declared `memory` of running jobs never above `limit`.
 * Jobs start in submission order; a job that does not fit is passed over by later ones at most
 * `patience` times, then waits at the head. A job declaring more than `limit` can never run: it fails
 * at once (ERR_INVALID_OPTION naming `memory`) instead of waiting forever.
 * @throws ERR_INVALID_OPTION (limit, maxWorkers, patience) on bad options.
 * @example
 * schedulers.maxMemory({ limit: '8GiB', maxWorkers: 4 })
 */
export function maxMemory(options: MaxMemoryOptions = {}): Scheduler {
  const limit =
    options.limit === undefined ? Math.floor(totalmem() * 0.75) : parseSize(options.limit, 'limit')
  const max = checkWorkers(options.maxWorkers ?? availableParallelism(), 'maxWorkers')
  const patience = options.patience ?? max
  if (!Number.isSafeInteger(patience) || patience < 0)
    throw invalidOption('patience', patience, 'an integer >= 0')
  return Object.freeze({
    maxWorkers: max,
    limit,
    launchable(pending: readonly PendingJob[], running: readonly RunningJob[]): PendingJob[] {
      let free = limit
      for (const r of running) free -= r.spec.memory
      let slots = max - running.length
      const out: PendingJob[] = []
      for (const p of pending) {
        if (slots <= 0) break
        if (p.spec.memory <= free) {
          out.push(p)
          free -= p.spec.memory
          slots--
        } else if (p.bypassed >= patience) break
      }
      return out
    },
    reject(job: JobSpec): string | undefined {
      return job.memory > limit
        ? `job ${JSON.stringify(job.name)} declares memory ${formatSize(job.memory)}, more than the scheduler limit ${formatSize(limit)}: it can never run`
        : undefined
    },
  })
}

/**
 * Longest expected jobs first (`expectedTime`, descending; ties keep submission order), then
 * `inner` decides as usual. Starting the long ones early shortens the total wall time.
 * @default inner maxWorkers()
 * @example
 * schedulers.longerFirst(schedulers.maxMemory({ limit: '4GiB' }))
 */
export function longerFirst(inner: Scheduler | CustomScheduler = maxWorkers()): Scheduler {
  const s = toScheduler(inner, 'longerFirst')
  const outer: Scheduler = Object.freeze({
    maxWorkers: s.maxWorkers,
    launchable(
      pending: readonly PendingJob[],
      running: readonly RunningJob[],
      resources: SchedulerResources,
    ) {
      const sorted = pending
        .map((p, i) => ({ p, i }))
        .sort((a, b) => b.p.spec.expectedTime - a.p.spec.expectedTime || a.i - b.i)
        .map((x) => x.p)
      return s.launchable(sorted, running, resources)
    },
    ...(s.reject === undefined ? {} : { reject: s.reject.bind(s) }),
    priority: (job: JobSpec) => job.expectedTime,
  })
  if (countsOnly(s)) slotCounting.add(outer)
  return outer
}

/**
 * Checks a scheduler given by a user (`{ launchable }`, `maxWorkers` optional) and returns it as a
 * {@link Scheduler}.
 * @throws ERR_INVALID_OPTION naming `key` when it has no `launchable` function or a bad `maxWorkers`.
 */
export function toScheduler(s: Scheduler | CustomScheduler | undefined, key = 'scheduler'): Scheduler {
  if (s === undefined) return maxWorkers()
  if (typeof s !== 'object' || s === null || typeof s.launchable !== 'function')
    throw invalidOption(key, s, 'a scheduler: { launchable(pending, running, resources), maxWorkers? }')
  const reject = s.reject === undefined ? undefined : (job: JobSpec): string | undefined => s.reject?.(job)
  if (s.reject !== undefined && typeof s.reject !== 'function')
    throw invalidOption(`${key}.reject`, (s as { reject?: unknown }).reject, 'a function')
  if (s.priority !== undefined && typeof s.priority !== 'function')
    throw invalidOption(`${key}.priority`, (s as { priority?: unknown }).priority, 'a function')
  const max = checkWorkers(s.maxWorkers ?? availableParallelism(), `${key}.maxWorkers`)
  if (s.maxWorkers === max) return s as Scheduler
  return Object.freeze({
    ...s,
    maxWorkers: max,
    launchable: (p: readonly PendingJob[], r: readonly RunningJob[], res: SchedulerResources) =>
      s.launchable(p, r, res),
    ...(reject ? { reject } : {}),
  })
}

/**
 * The pending jobs the boss may start, in the scheduler's order, capped to the free slots and with
 * resource clashes removed (a job is skipped when a running job, or one picked before it, holds one of
 * its resources). Pure: exported for tests and custom bosses.
 */
export function admit(
  picked: readonly PendingJob[],
  pending: { has(job: PendingJob): boolean },
  held: ReadonlySet<string>,
  freeSlots: number,
): PendingJob[] {
  const out: PendingJob[] = []
  const taken = new Set(held)
  const seen = new Set<PendingJob>()
  for (const p of picked) {
    if (out.length >= freeSlots) break
    if (!pending.has(p) || seen.has(p)) continue
    seen.add(p)
    if (p.spec.resources.some((r) => taken.has(r))) continue
    for (const r of p.spec.resources) taken.add(r)
    out.push(p)
  }
  return out
}
