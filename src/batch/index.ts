/**
 * taskos batch: boss/worker runs over the pool (taylorism, done again). Instructions (common ⊕
 * individual) become jobs; a scheduler starts them on slots; workers are task functions on worker
 * processes or threads, or commands; a report, events, retries and a journal make runs observable
 * and resumable.
 *
 * Invariants:
 * - Every job ends in exactly one final status (done, failed, crashed, cancelled, skipped), and the
 *   boss finishes only when every job has; nothing is dropped silently.
 * - Bad options or instructions throw ERR_INVALID_OPTION naming the key before any job runs.
 * - Running jobs' declared memory never exceeds a maxMemory limit; a job that can never fit fails at
 *   once; jobs sharing a resource never overlap.
 * - A job recorded as done in the journal is not run again; a killed batch loses at most the jobs
 *   that were running.
 * - Workers and commands never outlive their batch (pool workers watch their parent; commands run in
 *   process groups that a reaper kills when the boss's process dies).
 * @module
 */
export { batch } from './batch.js'
export { Boss } from './boss.js'
export type {
  BossOptions,
  BossStats,
  BackoffOptions,
  BeforeJobHook,
  ReportOptions,
  StopOptions,
} from './boss.js'
export { UnrecoverableError, MemoryExceededError } from './errors.js'
export type { InstructionSet, Instructions, JobSpec } from './instructions.js'
export type { CommandTemplate } from './command.js'
export { expandCommand, shellQuote } from './command.js'
export type { CommandLine } from './command.js'
export type { JobInfo } from './runners.js'
export type { BatchEvent, BatchReport, BatchSummary, JobReport, JobStatus, ReportedError } from './report.js'
export * as schedulers from './schedulers-public.js'
export type {
  CustomScheduler,
  MaxMemoryOptions,
  PendingJob,
  RunningJob,
  Scheduler,
  SchedulerResources,
} from './schedulers.js'
export { parseSize, formatSize } from './size.js'
