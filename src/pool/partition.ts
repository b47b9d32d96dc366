/**
 * `pool.partition`: Eidolon's callProcessFunc. A value range [0, n) is split into `parts` slices,
 * part i covering [floor(i·n/p), floor((i+1)·n/p)); arrays named by `partitionArgs` are sliced the
 * same way, so each worker gets only its slice (shared arrays as zero-copy views). Results come
 * back in part order. `t.sync()` is a barrier across the parts of one call.
 * @module
 */
import { TaskFailedError, TaskosError, describe } from '../kernel/errors.js'
import type { TaskContext } from '../kernel/index.js'
import type { Pool, PoolTask, RunOptions, PartGroupLike } from './pool.js'
import type { PartSpec, ToWorker } from './protocol.js'
import { serializeError } from './serialize-error.js'

/** Options of `pool.partition`. */
export interface PartitionOptions extends Pick<RunOptions, 'signal' | 'timeout'> {
  /** Number of parts. @default the pool's worker count (never more than the value range) */
  parts?: number
  /** Positions (in `args`) of arrays or typed arrays to slice like the range. @default [] */
  partitionArgs?: readonly number[]
}

/** The bounds of part `i` of `parts` over [0, n): [floor(i·n/p), floor((i+1)·n/p)). */
export function partBounds(n: number, parts: number, i: number): [start: number, end: number] {
  return [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)]
}

type Sliceable = {
  slice(start: number, end: number): unknown
  subarray?: (start: number, end: number) => unknown
  length: number
  buffer?: unknown
}

function sliceArg(value: unknown, start: number, end: number, position: number): unknown {
  const v = value as Sliceable
  if (
    v !== null &&
    typeof v === 'object' &&
    typeof v.subarray === 'function' &&
    v.buffer instanceof SharedArrayBuffer
  ) {
    return v.subarray(start, end) // a view of the same shared memory: nothing is copied
  }
  if (v !== null && typeof v === 'object' && typeof v.slice === 'function' && typeof v.length === 'number') {
    return v.slice(start, end)
  }
  throw new TaskosError(
    'ERR_INVALID_ARGUMENT',
    `partitionArgs names argument ${position}, which is ${describe(value)}: only arrays and typed arrays can be sliced`,
  )
}

/** One partitioned call: its parts, its barrier, its failure. */
class PartGroup implements PartGroupLike {
  readonly id: number
  readonly tasks: PoolTask<unknown>[] = []
  /** Parts waiting at the barrier, and where. */
  #arrived = new Map<number, { post(message: ToWorker): void }>()
  #failed: unknown = undefined
  constructor(id: number) {
    this.id = id
  }
  #live(): number {
    return this.tasks.filter((t) => t.status === 'running').length
  }
  arrive(worker: { post(message: ToWorker): void }, id: number): void {
    if (this.#failed !== undefined) {
      worker.post({ t: 'release', group: this.id, error: serializeError(this.#failed) })
      return
    }
    this.#arrived.set(id, worker)
    if (this.#arrived.size >= this.#live()) this.#release(undefined)
  }
  /** The first failure: the root cause the call rejects with. */
  root: { error: unknown } | undefined = undefined
  ended(task: PoolTask<unknown>): void {
    const outcome = task._outcome
    if (outcome !== undefined && outcome.status !== 'done' && this.#failed === undefined) {
      this.root = { error: outcome.error }
      const what = outcome.error instanceof Error ? outcome.error.message : describe(outcome.error)
      this.#failed = new TaskFailedError(
        `a sibling part (pool task #${task.id}) ${outcome.status}: ${what}`,
        { cause: outcome.error },
      )
      this.#release(this.#failed)
      for (const other of this.tasks) if (other !== task) other.cancel(this.#failed)
    } else if (this.#arrived.size > 0 && this.#arrived.size >= this.#live()) {
      this.#release(undefined)
    }
  }
  #release(error: unknown): void {
    const workers = new Set(this.#arrived.values())
    this.#arrived.clear()
    const message: ToWorker = {
      t: 'release',
      group: this.id,
      error: error === undefined ? undefined : serializeError(error),
    }
    for (const w of workers) w.post(message)
  }
}

/** @internal */
export async function partition(
  pool: Pool,
  fn: (t: TaskContext, ...args: never[]) => unknown,
  valrange: number,
  args: readonly unknown[],
  options: PartitionOptions = {},
): Promise<unknown[]> {
  if (!Number.isInteger(valrange) || valrange < 0) {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `invalid value range: ${describe(valrange)} (expected an integer >= 0)`,
    )
  }
  if (!Array.isArray(args))
    throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid args: ${describe(args)} (expected an array)`)
  const wanted = options.parts ?? pool.slots()
  if (!Number.isInteger(wanted) || wanted < 1) {
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option parts: ${describe(options.parts)} (expected an integer >= 1)`,
    )
  }
  const sliced = options.partitionArgs ?? []
  for (const k of sliced) {
    if (!Number.isInteger(k) || k < 0 || k >= args.length) {
      throw new TaskosError(
        'ERR_INVALID_OPTION',
        `invalid option partitionArgs: ${describe(k)} (expected positions of args, 0..${args.length - 1})`,
      )
    }
  }
  if (valrange === 0) return []
  const parts = Math.min(wanted, valrange)
  const group = new PartGroup(pool._newGroup())
  pool._groups.set(group.id, group)
  try {
    for (let i = 0; i < parts; i++) {
      const [start, end] = partBounds(valrange, parts, i)
      const partArgs = args.map((a: unknown, k) => (sliced.includes(k) ? sliceArg(a, start, end, k) : a))
      const spec: PartSpec = [i, start, end, parts, group.id]
      let task: PoolTask<unknown>
      try {
        task = pool._submit(
          fn,
          partArgs,
          {
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
          },
          spec,
        )
      } catch (error) {
        // this part cannot be queued (queue full, bad option): the call fails whole
        for (const t of group.tasks) {
          t.cancel(error)
          void t.then(undefined, () => undefined)
        }
        throw error
      }
      group.tasks.push(task)
    }
    // every part ends (the first failure cancels the others); then the root cause, not the
    // siblings it brought down
    const outcomes = await Promise.all(group.tasks.map((t) => t.settle()))
    if (group.root !== undefined) throw group.root.error
    return outcomes.map((o) => (o as { value: unknown }).value)
  } finally {
    pool._groups.delete(group.id)
  }
}
