/**
 * Hand-written worker_threads baselines for bench/pool.ts: what a pool could cost with nothing but
 * `postMessage` (or a SharedArrayBuffer) in the way. The worker is `bench/fixtures/pool-raw-worker.mjs`.
 *
 * - `each`: one message per task and one per result; the task goes to the worker with the fewest
 *   tasks in flight (all tasks are sent at once, no in-flight limit).
 * - `coalesced`: `run` still returns a promise per task, but the tasks of one synchronous run
 *   (one microtask) leave as one message per worker, and come back as one message per batch.
 * - `runBatch`: the caller packs the arguments itself (e.g. 1,000 per message): no per-task promise.
 * - {@link AtomicsChannel}: a synchronous round trip through a SharedArrayBuffer, no messages.
 * - {@link SpinChannel}: one message each way, with a worker that spins on a doorbell between tasks.
 * @module
 */
import { Worker } from 'node:worker_threads'
import type { TransferListItem } from 'node:worker_threads'
import { once } from 'node:events'

const WORKER = new URL('../fixtures/pool-raw-worker.mjs', import.meta.url)

/** Index of a body in the raw worker (`bodies` there). */
export const BODY = { inc: 0, spin: 1, receivedAt: 2 } as const
export type BodyName = keyof typeof BODY

/** A worker's answer: `[id, result]` (each), `[ids, results]` (coalesced), `[-id, results]` (batch). */
type Reply = [number, number] | [number[], number[]] | [number, number[]]

/** Starts a raw worker and waits for its 'ready'. */
async function startWorker(workerData: Record<string, unknown>): Promise<Worker> {
  // no execArgv: the raw worker is plain JavaScript and needs no TypeScript loader
  const worker = new Worker(WORKER, { workerData, execArgv: [] })
  const [first] = (await once(worker, 'message')) as [unknown]
  if (first !== 'ready') throw new Error(`raw worker said ${String(first)} instead of ready`)
  return worker
}

interface Slot {
  readonly worker: Worker
  inFlight: number
}

/** A raw pool of `workers` threads, in `each` or `coalesced` mode. */
export class RawPool {
  readonly #slots: Slot[]
  readonly #mode: 'each' | 'coalesced'
  readonly #pending = new Map<number, (value: number) => void>()
  readonly #batches = new Map<number, [resolve: (values: number[]) => void, size: number]>()
  #nextId = 1
  /** Coalesced mode: the tasks of this microtask. */
  #buffer: { fn: number; ids: number[]; args: unknown[] } | undefined = undefined

  private constructor(slots: Slot[], mode: 'each' | 'coalesced') {
    this.#slots = slots
    this.#mode = mode
    for (const slot of slots) {
      slot.worker.on('message', (m: Reply) => this.#onMessage(slot, m))
    }
  }

  /** Starts the workers; resolves once all of them are listening. */
  static async open(workers: number, mode: 'each' | 'coalesced'): Promise<RawPool> {
    const wire = mode === 'each' ? 'each' : 'batch'
    const list = await Promise.all(Array.from({ length: workers }, () => startWorker({ mode: wire })))
    return new RawPool(
      list.map((worker) => ({ worker, inFlight: 0 })),
      mode,
    )
  }

  #onMessage(slot: Slot, m: Reply): void {
    const [ids, results] = m
    if (typeof ids === 'number' && ids < 0) {
      // a runBatch batch, under its negated id
      const [resolve, size] = this.#batches.get(-ids)!
      this.#batches.delete(-ids)
      slot.inFlight -= size
      resolve(results as number[])
      return
    }
    if (typeof ids === 'number') {
      slot.inFlight--
      const resolve = this.#pending.get(ids)!
      this.#pending.delete(ids)
      resolve(results as number)
      return
    }
    const values = results as number[]
    slot.inFlight -= ids.length
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      const resolve = this.#pending.get(id)!
      this.#pending.delete(id)
      resolve(values[i]!)
    }
  }

  #leastLoaded(): Slot {
    let best = this.#slots[0]!
    for (const slot of this.#slots) if (slot.inFlight < best.inFlight) best = slot
    return best
  }

  /** Runs one body on a worker; the promise of its result. */
  run(body: BodyName, arg: unknown, transfer?: readonly TransferListItem[]): Promise<number> {
    const id = this.#nextId++
    const fn = BODY[body]
    const promise = new Promise<number>((resolve) => this.#pending.set(id, resolve))
    if (this.#mode === 'each') {
      const slot = this.#leastLoaded()
      slot.inFlight++
      slot.worker.postMessage([id, fn, arg], transfer as TransferListItem[] | undefined)
      return promise
    }
    let buffer = this.#buffer
    if (buffer === undefined || buffer.fn !== fn) {
      if (buffer !== undefined) this.#flush()
      buffer = this.#buffer = { fn, ids: [], args: [] }
      queueMicrotask(this.#flush)
    }
    buffer.ids.push(id)
    buffer.args.push(arg)
    return promise
  }

  /** Coalesced mode: the buffered tasks leave, split evenly, one message per worker. */
  #flush = (): void => {
    const buffer = this.#buffer
    if (buffer === undefined) return
    this.#buffer = undefined
    const n = buffer.ids.length
    const parts = Math.min(this.#slots.length, n)
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((p * n) / parts)
      const to = Math.floor(((p + 1) * n) / parts)
      const slot = this.#slots[p]!
      slot.inFlight += to - from
      slot.worker.postMessage([buffer.fn, buffer.ids.slice(from, to), buffer.args.slice(from, to)])
    }
  }

  /**
   * Runs a body on every argument of `args`, packed into one message (the caller chooses the size);
   * one promise for the whole batch.
   */
  runBatch(body: BodyName, args: readonly number[]): Promise<number[]> {
    const id = this.#nextId++
    const slot = this.#leastLoaded()
    slot.inFlight += args.length
    const promise = new Promise<number[]>((resolve) => this.#batches.set(id, [resolve, args.length]))
    // the worker echoes the ids field: a negative number stands for the whole batch
    slot.worker.postMessage([BODY[body], -id, args])
    return promise
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker.terminate()))
  }
}

/** Longest wait (ms) for the atomics worker's reply. */
const REPLY_MS = 10_000

/**
 * A synchronous round trip with one worker through a SharedArrayBuffer: store the argument, set the
 * control word, `Atomics.notify`, then `Atomics.wait` for the reply (the calling thread blocks).
 */
export class AtomicsChannel {
  readonly #worker: Worker
  readonly #control: Int32Array
  readonly #value: Float64Array
  /** An error the worker died of (seen once this thread's event loop runs). */
  #error: Error | undefined = undefined

  private constructor(worker: Worker, buffer: SharedArrayBuffer) {
    this.#worker = worker
    this.#control = new Int32Array(buffer, 0, 1)
    this.#value = new Float64Array(buffer, 8, 1)
    // without a listener, an 'error' of the worker would crash the benchmark with no word of why
    worker.on('error', (error) => (this.#error = error))
  }

  static async open(): Promise<AtomicsChannel> {
    const buffer = new SharedArrayBuffer(16)
    const worker = await startWorker({ mode: 'atomics', buffer })
    return new AtomicsChannel(worker, buffer)
  }

  /** `inc(x)` in the worker, synchronously. */
  inc(x: number): number {
    this.#value[0] = x
    Atomics.store(this.#control, 0, 1)
    Atomics.notify(this.#control, 0)
    // bounded: a worker that died would otherwise block this thread for good
    if (Atomics.wait(this.#control, 0, 1, REPLY_MS) === 'timed-out') {
      throw new Error(
        `raw atomics worker: no reply within ${REPLY_MS} ms${this.#error === undefined ? '' : ` (${this.#error.message})`}`,
      )
    }
    const state = Atomics.load(this.#control, 0)
    if (state !== 2) throw new Error(`raw atomics worker: control word ${state} after a reply, expected 2`)
    return this.#value[0]
  }

  async close(): Promise<void> {
    Atomics.store(this.#control, 0, 3)
    Atomics.notify(this.#control, 0)
    await this.#worker.terminate()
    if (this.#error !== undefined) throw this.#error
  }
}

/**
 * A round trip with one worker by message each way, where the worker, after each answer, polls a
 * doorbell (bumped here after each post) for up to 50 µs and takes the next message at once: the
 * worker is not woken, this thread is (through its event loop, as for any message). The floor of a
 * pool whose worker spins between tasks.
 */
export class SpinChannel {
  readonly #worker: Worker
  readonly #bell: Int32Array
  #resolve: ((value: number) => void) | undefined = undefined

  private constructor(worker: Worker, bell: SharedArrayBuffer) {
    this.#worker = worker
    this.#bell = new Int32Array(bell)
    worker.on('message', (m: [number, number]) => this.#resolve!(m[1]))
  }

  static async open(): Promise<SpinChannel> {
    const bell = new SharedArrayBuffer(4)
    const worker = await startWorker({ mode: 'spin', bell })
    return new SpinChannel(worker, bell)
  }

  /** `inc(x)` in the worker. */
  inc(x: number): Promise<number> {
    return new Promise((resolve) => {
      this.#resolve = resolve
      this.#worker.postMessage([1, BODY.inc, x])
      Atomics.add(this.#bell, 0, 1)
    })
  }

  async close(): Promise<void> {
    await this.#worker.terminate()
  }
}
