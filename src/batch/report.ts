/**
 * The batch report and events: plain, JSON-safe objects (errors as `{ name, message, code, stack }`).
 * @module
 */

/** A job's state: waiting, running, or its final status. */
export type JobStatus = 'pending' | 'running' | 'done' | 'failed' | 'crashed' | 'cancelled' | 'skipped'

/** An error as the report keeps it. */
export interface ReportedError {
  readonly name: string
  readonly message: string
  readonly code?: string
  readonly stack?: string
  readonly cause?: ReportedError | string
}

/** One job in a report. */
export interface JobReport {
  /** Unique name. */
  readonly name: string
  /** Position in the batch, from 0. */
  readonly index: number
  /** Its merged instructions. */
  readonly instructions: Readonly<Record<string, unknown>>
  readonly status: JobStatus
  /** When it started / ended (ms since the epoch, fractional). */
  readonly start?: number
  readonly end?: number
  readonly durationMs?: number
  /** The task function's value (done jobs; from the journal for skipped ones). */
  readonly result?: unknown
  readonly error?: ReportedError
  /** A command's exit code, or a crashed worker's. */
  readonly exitCode?: number
  /** The signal that killed a command or a worker. */
  readonly signal?: string
  /** The last bytes a command wrote (see `tailBytes`). */
  readonly stdout?: string
  readonly stderr?: string
  /** Peak resident memory measured for the job (processes only; sampled for commands). */
  readonly peakRssBytes?: number
  /** The slot that ran it, from 0. */
  readonly slot?: number
  /** 1 for the first run; retries count up. */
  readonly attempt: number
  /** Notes such as a memory overrun under `memoryPolicy: 'warn'`. */
  readonly warnings?: readonly string[]
}

/** Counts over the whole batch. */
export interface BatchSummary {
  readonly total: number
  readonly pending: number
  readonly running: number
  readonly done: number
  readonly failed: number
  readonly crashed: number
  readonly cancelled: number
  readonly skipped: number
  /** Since the boss was created (ms). */
  readonly wallMs: number
  /** Every job ended done or skipped, and the batch finished. */
  readonly ok: boolean
  /** Whether the batch has finished (false in an interim report). */
  readonly finished: boolean
}

/** A full report: every job (in submission order) and the summary. */
export interface BatchReport {
  readonly jobs: readonly JobReport[]
  readonly summary: BatchSummary
}

/** Events of a boss; subscribe with `boss.on(type, listener)`. */
export type BatchEvent =
  | { readonly type: 'job-started'; readonly job: JobReport }
  | { readonly type: 'job-finished'; readonly job: JobReport }
  | {
      /** A failed or crashed job will run again after `delayMs`. */
      readonly type: 'job-retry'
      readonly job: JobReport
      readonly delayMs: number
    }
  | {
      /** A job's measured RSS went over its declared `memory`. */
      readonly type: 'memory-exceeded'
      readonly job: JobReport
      readonly peakRssBytes: number
      readonly memory: number
    }
  | { readonly type: 'progress'; readonly summary: BatchSummary }
  | {
      /** SIGINT/SIGTERM arrived (`signals: true`): the first drains, the second kills. */
      readonly type: 'signal'
      readonly signal: string
      readonly action: 'drain' | 'kill'
    }
  | { readonly type: 'finished'; readonly report: BatchReport }

/** An error as a plain object. */
export function reportError(e: unknown, depth = 0): ReportedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code
    const cause = (e as { cause?: unknown }).cause
    return {
      name: e.name,
      message: e.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(e.stack === undefined ? {} : { stack: e.stack }),
      ...(cause === undefined || depth > 3
        ? {}
        : { cause: cause instanceof Error ? reportError(cause, depth + 1) : describeCause(cause) }),
    }
  }
  if (typeof e === 'object' && e !== null && typeof (e as ReportedError).message === 'string')
    return e as ReportedError
  return { name: 'Error', message: String(e) }
}

function describeCause(v: unknown): string {
  if (typeof v === 'object' && v !== null) {
    try {
      return JSON.stringify(v)
    } catch {
      return Object.prototype.toString.call(v)
    }
  }
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined')
}
