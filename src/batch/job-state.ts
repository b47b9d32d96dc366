/**
 * One job's live state inside a Boss, and the order of the pending list.
 * @module
 */
import type { MemoryExceededError } from './errors.js'
import type { JobSpec } from './instructions.js'
import type { JobReport, JobStatus, ReportedError } from './report.js'
import type { RunHandle } from './runners.js'
import type { PendingJob } from './schedulers.js'

/** When this process (or thread) started, in ms since the epoch (a getter that costs a few µs a call). */
const origin = performance.timeOrigin

/** Now, in ms since the epoch (fractional, monotonic within a run). */
export const now = (): number => origin + performance.now()

/** @internal one job's live state. */
export class JobState implements PendingJob {
  attempt = 1
  bypassed = 0
  status: JobStatus = 'pending'
  start: number | undefined
  end: number | undefined
  value: unknown
  error: ReportedError | undefined
  exitCode: number | undefined
  signal: string | undefined
  stdout: string | undefined
  stderr: string | undefined
  peak: number | undefined
  slot: number | undefined
  warnings: string[] | undefined
  handle: RunHandle<unknown> | undefined
  overMemory: MemoryExceededError | undefined
  /** In the pending list and not yet launched. */
  queued = false
  launching = false
  /** Runs alone from now on: it was in a chunk of jobs that crashed (or failed as a whole). */
  solo = false
  /** The scheduler's priority (higher first), fixed when queued. */
  priority = 0
  constructor(
    readonly spec: JobSpec,
    readonly key: string,
  ) {}

  report(): JobReport {
    const r: Record<string, unknown> = {
      name: this.spec.name,
      index: this.spec.index,
      instructions: this.spec.instructions,
      status: this.status,
      attempt: this.attempt,
    }
    if (this.start !== undefined) r.start = this.start
    if (this.end !== undefined) r.end = this.end
    if (this.start !== undefined && this.end !== undefined) r.durationMs = this.end - this.start
    if (this.value !== undefined) r.result = this.value
    if (this.error !== undefined) r.error = this.error
    if (this.exitCode !== undefined) r.exitCode = this.exitCode
    if (this.signal !== undefined) r.signal = this.signal
    if (this.stdout !== undefined) r.stdout = this.stdout
    if (this.stderr !== undefined) r.stderr = this.stderr
    if (this.peak !== undefined) r.peakRssBytes = this.peak
    if (this.slot !== undefined) r.slot = this.slot
    if (this.warnings !== undefined) r.warnings = [...this.warnings]
    return r as unknown as JobReport
  }
}

/** Pending order: higher priority first, then submission order. */
export function byPriority(a: JobState, b: JobState): number {
  return b.priority - a.priority || a.spec.index - b.spec.index
}
