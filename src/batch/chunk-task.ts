/**
 * The pool task through which the boss runs task-function jobs: a **chunk** of one or more jobs of
 * one slot, run one after the other in the slot's worker, each timed there. A chunk of one job is a
 * plain job; short jobs travel several to a chunk, so a worker goes from one job to the next without
 * a round trip to the boss (see Boss: pipelining).
 *
 * It runs in the worker: it imports the user's task function by module URL and name (the pool has
 * already made TypeScript importable when the chunk module itself is TypeScript), calls it as
 * `(t, instructions, job)` with the chunk's own task context, and answers one outcome per job that
 * started, in order. A job that throws is an outcome, not a failure of the chunk; a job never starts
 * once the chunk is cancelled (the boss reports the jobs after it as never started).
 * @module
 */
import type { TaskContext } from '../kernel/index.js'
import { defineTask } from '../pool/define-task.js'
import { serializeError } from '../pool/serialize-error.js'
import { findTaskFunction } from '../pool/task-modules.js'
import type { SerializedError } from '../pool/protocol.js'
import type { Instructions } from './instructions.js'
import type { JobInfo } from './runners.js'

/** @internal one job of a chunk: its instructions and what the worker gets besides. */
export type ChunkJob = readonly [instructions: Instructions, info: JobInfo]

/**
 * @internal one started job's outcome: `[true, value, start, end]` or `[false, error, start, end]`,
 * times in ms since the epoch as measured in the worker.
 */
export type ChunkOutcome =
  | readonly [ok: true, value: unknown, start: number, end: number]
  | readonly [ok: false, error: SerializedError, start: number, end: number]

type Body = (t: TaskContext, instructions: Instructions, info: JobInfo) => unknown

const origin = performance.timeOrigin
const now = (): number => origin + performance.now()

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    (typeof x === 'object' || typeof x === 'function') &&
    x !== null &&
    typeof (x as { then?: unknown }).then === 'function'
  )
}

/** Runs jobs from `i` on; synchronous while the jobs are, a promise from the first that is not. */
function runFrom(
  t: TaskContext,
  fn: Body,
  jobs: readonly ChunkJob[],
  i: number,
  out: ChunkOutcome[],
): ChunkOutcome[] | Promise<ChunkOutcome[]> {
  for (; i < jobs.length; i++) {
    if (t.task.cancelled) break
    const [instructions, info] = jobs[i]!
    const start = now()
    let r: unknown
    try {
      r = fn(t, instructions, info)
    } catch (error) {
      out.push([false, serializeError(error), start, now()])
      continue
    }
    if (!isThenable(r)) {
      out.push([true, r, start, now()])
      continue
    }
    const next = i + 1
    return Promise.resolve(r).then(
      (value) => {
        out.push([true, value, start, now()])
        return runFrom(t, fn, jobs, next, out)
      },
      (error: unknown) => {
        out.push([false, serializeError(error), start, now()])
        return runFrom(t, fn, jobs, next, out)
      },
    )
  }
  return out
}

/** @internal the chunk task: `(t, module URL, export name, jobs)` → one outcome per started job. */
export const runChunk = defineTask(
  import.meta.url,
  function runChunk(
    t: TaskContext,
    module: string,
    name: string,
    jobs: readonly ChunkJob[],
  ): ChunkOutcome[] | Promise<ChunkOutcome[]> {
    const fn = findTaskFunction(module, name) as Body | Promise<Body>
    if (typeof fn === 'function') return runFrom(t, fn, jobs, 0, [])
    return fn.then((f) => runFrom(t, f, jobs, 0, []))
  },
)
