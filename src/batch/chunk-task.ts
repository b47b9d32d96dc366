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
 *
 * A worker runs one chunk at a time, in the order they came: the boss may hand a slot's worker its
 * next chunk while the one before still runs (pipelining), and that chunk waits here, in the
 * worker, then starts in the same turn as the one before ends, without a round trip to the boss. A
 * waiting chunk that receives {@link DROP} (the boss takes it back) ends at once with no outcome;
 * once it has started, DROP changes nothing (its jobs run on).
 * @module
 */
import type { KernelTask, TaskContext } from '../kernel/index.js'
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

/**
 * Runs jobs from `i` on; synchronous while the jobs are, a promise from the first that is not.
 * Once the last one has ended asynchronously, `done` is called there and then (the worker's next
 * chunk starts before this one's outcomes travel back); a synchronous end leaves that to the caller.
 */
function runFrom(
  t: TaskContext,
  fn: Body,
  jobs: readonly ChunkJob[],
  i: number,
  out: ChunkOutcome[],
  done: () => void,
  sync: boolean,
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
        return runFrom(t, fn, jobs, next, out, done, false)
      },
      (error: unknown) => {
        out.push([false, serializeError(error), start, now()])
        return runFrom(t, fn, jobs, next, out, done, false)
      },
    )
  }
  if (!sync) done()
  return out
}

/** @internal the message by which the boss takes back a chunk that has not started. */
export const DROP = 'taskos.batch.drop'
/** What the gate sends a waiting chunk when its turn comes (never sent by the boss). */
const GO = 'taskos.batch.go'
const isMarker = (m: unknown): boolean => m === DROP || m === GO

/** A chunk waiting for its turn in this worker. */
interface Waiting {
  readonly task: KernelTask<unknown>
  /** Starts it (synchronously: in the turn the chunk before it ended). */
  go(): void
}

/** Whether a chunk runs in this worker now; the chunks waiting for their turn, in order. */
let busy = false
const waiting: Waiting[] = []

/** The running chunk ended: the next waiting one starts now. */
function release(): void {
  busy = false
  const next = waiting.shift()
  if (next === undefined) return
  busy = true
  next.go()
}

/** Runs `jobs` as this worker's chunk; releases the worker (once) when they are done. */
function runAll(
  t: TaskContext,
  fn: Body,
  jobs: readonly ChunkJob[],
): ChunkOutcome[] | Promise<ChunkOutcome[]> {
  let released = false
  const done = (): void => {
    if (released) return
    released = true
    release()
  }
  let out: ChunkOutcome[] | Promise<ChunkOutcome[]>
  try {
    out = runFrom(t, fn, jobs, 0, [], done, true)
  } catch (error) {
    done()
    throw error
  }
  if (Array.isArray(out)) done()
  else out.then(undefined, done) // it cannot fail (each job's error is an outcome), but never hold the worker
  return out
}

/**
 * Runs `jobs` now if this worker is free, else once the chunks before it have run; no job when the
 * boss takes the chunk back (DROP) or cancels it first.
 */
function runWhenFree(
  t: TaskContext,
  fn: Body,
  jobs: readonly ChunkJob[],
): ChunkOutcome[] | Promise<ChunkOutcome[]> {
  if (!busy) {
    if (t.tryReceive(isMarker) !== undefined) return []
    busy = true
    return runAll(t, fn, jobs)
  }
  return new Promise<ChunkOutcome[]>((resolve, reject) => {
    let started = false
    const me: Waiting = {
      task: t.task,
      go: () => {
        started = true
        // ends the wait for DROP below first: the chunk's jobs may wait for messages themselves
        t.task.send(GO)
        try {
          resolve(runAll(t, fn, jobs))
        } catch (error) {
          // cannot happen: a job's error is its outcome
          reject(new Error('the chunk could not run', { cause: error }))
        }
      },
    }
    waiting.push(me)
    const dropped = (): void => {
      if (started) return // DROP after the start: too late, the chunk runs
      waiting.splice(waiting.indexOf(me), 1)
      resolve([])
    }
    t.receive({ filter: isMarker }).then(dropped, dropped) // rejected: cancelled while waiting
  })
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
    if (typeof fn === 'function') return runWhenFree(t, fn, jobs)
    return fn.then((f) => runWhenFree(t, f, jobs))
  },
)
