/**
 * The pool: task functions on worker threads (default) or worker processes.
 *
 * Scheduling: `run` queues a task record; one microtask later every `run` of that turn goes out,
 * packed into one message per worker (a lone task leaves at once, without added latency). Each
 * worker may have several tasks in flight: its limit adapts to the measured task time, so tiny
 * tasks stream in large batches while long tasks are handed out one or two at a time (no idle
 * worker while another holds a backlog).
 *
 * Crashes: when a worker dies, a task that was alone on it fails with `WorkerCrashedError`. When
 * several were in flight, none is blamed yet: they run again one at a time (solo), so the one that
 * kills its worker is found and fails, and the others complete. The pool replaces dead workers.
 * @module
 */
import { Worker } from 'node:worker_threads'
import type { ResourceLimits, TransferListItem } from 'node:worker_threads'
import type { ChildProcess, StdioOptions } from 'node:child_process'
import { childProcess, nodeOs, nodeUrl } from './builtins.js'
import { realClock } from '../kernel/clock.js'
import { Emitter } from '../kernel/emitter.js'
import { CancelledError, TaskosError, TimeoutError, WorkerCrashedError, describe } from '../kernel/errors.js'
import { checkTimeout } from '../kernel/operation.js'
import type {
  BodyResult,
  Executor,
  ExecutorRunOptions,
  Listener,
  TaskContext,
  TaskStatus,
  TimerHandle,
} from '../kernel/index.js'
import { isTaskFunction } from './define-task.js'
import { findExecutable } from './executables.js'
import { DIES_WITH_PARENT } from './protocol.js'
import type { DoneMessage, DoneOne, FnDef, FromWorker, PartSpec, ToWorker } from './protocol.js'
import { ENDED, PoolTask, QUEUED, RUNNING } from './pool-task.js'
import type { FnInfo, TaskOwner } from './pool-task.js'
import { deserializeError, serializeError } from './serialize-error.js'
import { partition } from './partition.js'
import type { PartitionOptions } from './partition.js'
import { map } from './map.js'
import type { MapOptions } from './map.js'

/** Options of `new Pool()`. */
export interface PoolOptions {
  /** Number of workers. @default os.availableParallelism() */
  workers?: number
  /** Worker threads share memory (`shared`, transfers); processes isolate crashes and memory. @default 'thread' */
  isolation?: 'thread' | 'process'
  /** Most tasks waiting in the queue; `run` beyond it rejects with ERR_QUEUE_FULL. @default Infinity */
  maxQueue?: number
  /** Stop a worker idle this long (ms); restarted on demand. @default none (workers stay) */
  idleTimeout?: number
  /** V8 heap limits of each worker thread (`maxOldGenerationSizeMb`, …); a worker over it crashes. */
  resourceLimits?: ResourceLimits
  /** Replace a worker after it ran this many tasks. @default none */
  recycleAfter?: number
  /** Pin each worker process to one CPU (Linux `taskset`); threads cannot be pinned. @default false */
  bind?: boolean
  /** After a cancellation or timeout, how long (ms) a running task gets to stop before its worker is terminated. @default 1000 */
  cancelGrace?: number
}

/** Options of `pool.run`. */
export interface RunOptions extends ExecutorRunOptions {
  /** ArrayBuffers to move to the worker instead of copying (thread workers). */
  transfer?: readonly TransferListItem[]
}

/** A snapshot of a pool's counters; plain and JSON-safe. */
export interface PoolStats {
  workers: number
  busy: number
  queued: number
  running: number
  completed: number
  failed: number
  crashed: number
  cancelled: number
  /** Per worker: tasks it completed, and tasks in flight now. */
  perWorker: { id: number; completed: number; inFlight: number; pid: number | undefined }[]
}

/** Events a pool emits; subscribe with `pool.on(type, listener)`. */
export type PoolEvent =
  | {
      /** `t.progress(done, total)` in a worker (throttled there). */
      readonly type: 'progress'
      readonly task: PoolTask<unknown>
      readonly done: number
      readonly total: number | undefined
    }
  | {
      readonly type: 'worker-exit'
      readonly worker: number
      readonly exitCode: number | undefined
      readonly signal: string | undefined
      /** Why it exited: it died on its own ('crashed'), or the pool stopped it. */
      readonly reason: WorkerExitReason
      /** The uncaught error it died of, if any. */
      readonly error: Error | undefined
    }

/**
 * Why a worker exited: `'crashed'` (it threw at top level, exited, ran out of memory or was killed
 * from outside), `'recycled'` (`recycleAfter`), `'idle'` (`idleTimeout`), `'cancel-grace'` (a
 * cancelled task did not stop within `cancelGrace`), `'closed'` (`close()` / `destroy()`).
 */
export type WorkerExitReason = 'crashed' | 'recycled' | 'idle' | 'cancel-grace' | 'closed'

const NO_OPTIONS: RunOptions = Object.freeze({})
const RESOLVED = Promise.resolve()

const DEFAULTS = Object.freeze({
  isolation: 'thread' as const,
  maxQueue: Infinity,
  cancelGrace: 1000,
})

/** Target of queued work per worker, in ms of measured task time: bounds the tail imbalance. */
const TARGET_MS = 2
const MAX_IN_FLIGHT = 4096
/** Most tasks in one `run` message: a worker starts on the first batch while the next is copied. */
const MAX_BATCH = 1024
/**
 * Workers that died before they were ready, one after the other (none ready in between), after
 * which the pool stops starting new ones and fails its queued tasks: a worker that cannot start
 * (a heap limit too small to boot, a broken installation) would otherwise be replaced forever.
 */
const MAX_START_FAILURES = 3

export { PoolTask } from './pool-task.js'

// ---- workers ----------------------------------------------------------------------------------

let runsFromSource: boolean | undefined
/** Whether this code runs from the TypeScript sources (tests, tsx), not the built package. */
function fromSource(): boolean {
  // asked on first use: in the built package, import.meta.url loads node:url (scripts/build.mjs)
  return (runsFromSource ??= import.meta.url.endsWith('.ts'))
}
let entry: URL | undefined

/**
 * The worker's entry module. From the sources it sits beside this module (worker.ts). In the built
 * package this code sits in dist/core.cjs (scripts/build.mjs) and the entry is dist/pool/worker.cjs
 * (worker-entry.ts), found from the package's root, which Node resolves by the package's reference
 * to itself (`taskos/package.json`, which the exports map exposes): no arithmetic on where the
 * bundler put this code. Found when the first worker starts, not on import: a copy of this code
 * bundled into something else (a cluster task bundle) can be imported where the package cannot be
 * resolved.
 */
function workerEntry(): URL {
  return (entry ??= fromSource()
    ? new URL('./worker.ts', import.meta.url)
    : new URL('dist/pool/worker.cjs', import.meta.resolve('taskos/package.json')))
}

/**
 * A worker thread's entry: the worker module itself, or a one-line script that imports it.
 * - Running from TypeScript sources (tests, tsx): a worker thread does not get the parent's
 *   `--import` hooks for its entry in Node 20, so the script registers tsx first.
 * - When this process was started with `--input-type` (`node --input-type=module -e …`), threads
 *   inherit it, and Node refuses a file as their entry; a script is string input, so it may import.
 */
function threadEntry(): { entry: URL | string; eval: boolean } {
  if (!fromSource()) {
    if (!process.execArgv.some((a) => INPUT_TYPE.test(a))) return { entry: workerEntry(), eval: false }
    return { entry: `import(${JSON.stringify(workerEntry().href)})`, eval: true }
  }
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(workerEntry().href)}) })`
  return { entry: code, eval: true }
}

/**
 * V8's code cache of the built runtime (dist/core.cjs): every thread worker started after it came
 * compiles the runtime from it instead of from its source (worker-entry.ts). The first thread this
 * process starts makes it ({@link codeCacheMaker}); when V8 refuses it, the next thread makes another.
 */
let codeCache: Uint8Array | undefined
/** The thread asked to make {@link codeCache}, until it sent it or died. */
let codeCacheMaker: WorkerSlot | undefined

/** @internal one worker thread or process and what it runs. */
class WorkerSlot {
  readonly id: number
  readonly inFlight = new Map<number, PoolTask<unknown>>()
  /** Keys of the task functions this worker was told of. */
  readonly known = new Set<number>()
  ready = false
  alive = true
  retiring = false
  completed = 0
  /** Measured task time (ms), smoothed. */
  avgMs = -1
  /** Tasks that run alone here (suspects after a crash): no other task is sent meanwhile. */
  solo = false
  idleTimer: TimerHandle | undefined = undefined
  lastError: Error | undefined = undefined
  /** Why the pool stopped it, when it did ('recycled', 'idle', …); undefined for a death. */
  stopReason: string | undefined = undefined
  readonly thread: Worker | undefined
  readonly child: ChildProcess | undefined
  /** Thread workers: bumped after every message posted, for a worker that spins between tasks (worker-runtime.ts). */
  readonly doorbell: Int32Array | undefined
  /** The code cache this thread was given (see `codeCache`). */
  readonly codeCache: Uint8Array | undefined

  constructor(id: number, pool: Pool, options: Required<Pick<PoolOptions, 'isolation'>> & PoolOptions) {
    this.id = id
    const onMessage = (message: FromWorker): void => pool._onMessage(this, message)
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      pool._onExit(this, code ?? undefined, signal ?? undefined)
    if (options.isolation === 'thread') {
      const { entry, eval: evalEntry } = threadEntry()
      const doorbell = new SharedArrayBuffer(4)
      this.doorbell = new Int32Array(doorbell)
      const makeCodeCache = !fromSource() && codeCache === undefined && codeCacheMaker === undefined
      if (makeCodeCache) codeCacheMaker = this
      this.codeCache = codeCache
      const worker = new Worker(entry, {
        eval: evalEntry,
        workerData: { doorbell, codeCache, makeCodeCache },
        ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      })
      worker.on('message', onMessage)
      worker.on('error', (error) => pool._onError(this, error))
      worker.on('exit', (code) => onExit(code, null))
      this.thread = worker
      this.child = undefined
    } else {
      const child = startProcess()
      child.on('message', (m) => onMessage(m as FromWorker))
      child.on('error', (error) => pool._onError(this, error))
      child.on('exit', onExit)
      this.child = child
      this.thread = undefined
      this.doorbell = undefined
      this.codeCache = undefined
    }
    this.ref(false)
  }

  get pid(): number | undefined {
    return this.child?.pid ?? undefined
  }

  /** Tasks this worker may hold now. */
  get limit(): number {
    if (!this.ready || this.retiring || !this.alive) return 0
    if (this.solo) return this.inFlight.size === 0 ? 1 : 0
    if (this.avgMs < 0) return 2
    return Math.max(2, Math.min(MAX_IN_FLIGHT, Math.ceil(TARGET_MS / Math.max(this.avgMs, 0.0005))))
  }

  post(message: ToWorker, transfer?: readonly TransferListItem[]): void {
    if (this.thread !== undefined) {
      this.thread.postMessage(message, transfer as TransferListItem[] | undefined)
      Atomics.add(this.doorbell!, 0, 1)
    } else this.child!.send(message)
  }

  /** Keeps the process alive while the worker has work; an idle pool does not hold it open. */
  ref(on: boolean): void {
    if (this.thread !== undefined) {
      if (on) this.thread.ref()
      else this.thread.unref()
    } else if (this.child !== undefined) {
      if (on) this.child.ref()
      else this.child.unref()
      const channel = (this.child as unknown as { channel?: { ref(): void; unref(): void } }).channel
      if (on) channel?.ref()
      else channel?.unref()
    }
  }

  terminate(reason: string): void {
    this.stopReason ??= reason
    this.alive = false
    if (this.thread !== undefined) void this.thread.terminate()
    else this.child?.kill('SIGKILL')
  }
}

// ---- the pool ---------------------------------------------------------------------------------

/** @internal what the pool needs of a partition group (partition.ts). */
export interface PartGroupLike {
  arrive(worker: { post(message: ToWorker): void }, id: number): void
  ended(task: PoolTask<unknown>): void
}

/**
 * A pool of worker threads (or processes) running task functions: `run`, and (see the module)
 * `partition` and `map`. An {@link Executor}: `kernel.setExecutor(pool)`.
 * @example
 * const pool = new Pool({ workers: 4 })
 * const total = await pool.run(sum, [xs])
 * await pool.close()
 */
export class Pool implements Executor, TaskOwner {
  readonly #options: Required<Pick<PoolOptions, 'isolation' | 'maxQueue' | 'cancelGrace'>> & PoolOptions
  readonly #size: number
  #workers: WorkerSlot[] = []
  #nextWorker = 1
  #nextTask = 1
  #queue: PoolTask<unknown>[] = []
  #queueHead = 0
  /** Tasks waiting for a worker (the lists below may still hold tasks that ended while waiting). */
  #waiting = 0
  /** Workers that died before they were ready since one last was (see MAX_START_FAILURES). */
  #startFailures = 0
  /** Suspects of a crash, run one at a time. */
  #suspects: PoolTask<unknown>[] = []
  /** Parts of partitioned calls: they run all at once (a t.sync() barrier needs every part). */
  #parts: PoolTask<unknown>[] = []
  /** @internal partition groups by id (partition.ts). */
  readonly _groups = new Map<number, PartGroupLike>()
  /** @internal workers whose runtime came from the code cache (see `codeCache`). */
  _codeCacheStarts = 0
  #nextGroup = 1
  #pumpScheduled = false
  #closing: Promise<void> | undefined = undefined
  #closed = false
  #drained: (() => void) | undefined = undefined
  #events = new Emitter<PoolEvent>()
  #counts = { completed: 0, failed: 0, crashed: 0, cancelled: 0 }

  constructor(options: PoolOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalid('options', options, 'an object')
    const workers = options.workers ?? nodeOs().availableParallelism()
    if (!Number.isInteger(workers) || workers < 1) throw invalid('workers', workers, 'an integer >= 1')
    const isolation = options.isolation ?? DEFAULTS.isolation
    if (isolation !== 'thread' && isolation !== 'process')
      throw invalid('isolation', isolation, "'thread' or 'process'")
    const maxQueue = options.maxQueue ?? DEFAULTS.maxQueue
    if (!(maxQueue >= 0)) throw invalid('maxQueue', maxQueue, 'a number >= 0')
    if (options.idleTimeout !== undefined && !(options.idleTimeout > 0))
      throw invalid('idleTimeout', options.idleTimeout, 'a number of ms > 0')
    if (
      options.recycleAfter !== undefined &&
      !(Number.isInteger(options.recycleAfter) && options.recycleAfter > 0)
    ) {
      throw invalid('recycleAfter', options.recycleAfter, 'an integer > 0')
    }
    const cancelGrace = options.cancelGrace ?? DEFAULTS.cancelGrace
    if (!(cancelGrace >= 0)) throw invalid('cancelGrace', cancelGrace, 'a number of ms >= 0')
    if (options.bind === true && isolation === 'thread')
      throw invalid('bind', true, "isolation 'process' (threads cannot be pinned to a CPU)")
    this.#options = { ...options, isolation, maxQueue, cancelGrace }
    this.#size = workers
    if (options.idleTimeout === undefined) for (let i = 0; i < workers; i++) this.#spawnWorker()
  }

  /** Number of workers (COS slots). */
  slots(): number {
    return this.#size
  }

  /** Workers with nothing in flight. */
  freeSlots(): number {
    const idle = this.#workers.filter((w) => w.alive && w.inFlight.size === 0).length
    return idle + (this.#size - this.#workers.length)
  }

  /**
   * Runs `fn(t, ...args)` on a worker. `fn` is a task function made by `defineTask`, or a
   * self-contained function (shipped as source: it must not use variables from around it).
   * @returns the task: await it for the value.
   * @throws ERR_CLOSED after close; ERR_QUEUE_FULL beyond `maxQueue`; ERR_INVALID_ARGUMENT for a
   *   bad function or args; ERR_SERIALIZATION (as a rejection) when an argument cannot be copied.
   */
  run<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options?: RunOptions,
  ): PoolTask<BodyResult<X>>
  run(
    fn: (t: TaskContext, ...args: never[]) => unknown,
    args: readonly unknown[],
    options: RunOptions = NO_OPTIONS,
  ): PoolTask<unknown> {
    const task = this._submit(fn, args, options, undefined)
    return task
  }

  /**
   * Eidolon's callProcessFunc: runs `fn` on `parts` slices of [0, valrange) at once; part i covers
   * [floor(i·n/p), floor((i+1)·n/p)) and sees it as `t.part`; arrays at `partitionArgs` positions
   * are sliced the same way (shared arrays as zero-copy views). Results in part order. One failing
   * part rejects the call with that part's error and cancels the others. `t.sync()` in a part is
   * a barrier across all parts of the call.
   * @example
   * const sums = await pool.partition(sumSlice, xs.length, [xs], { partitionArgs: [0] })
   */
  partition<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    valrange: number,
    args: A,
    options?: PartitionOptions,
  ): Promise<BodyResult<X>[]> {
    return partition(
      this,
      fn as unknown as (t: TaskContext, ...args: never[]) => unknown,
      valrange,
      args,
      options,
    ) as Promise<BodyResult<X>[]>
  }

  /**
   * Eidolon's `@concurrent`: `fn` as a function of the value range that runs `partition`.
   * @example
   * const scan = pool.concurrent(sumSlice)
   * await scan(1_000_000, xs)
   */
  concurrent<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    options?: PartitionOptions,
  ): (valrange: number, ...args: A) => Promise<BodyResult<X>[]> {
    return (valrange, ...args) => this.partition(fn, valrange, args, options)
  }

  /**
   * Runs `fn(t, item)` for every item of an array, iterable or async iterable, as an async iterable
   * of the results (input order unless `ordered: false`), with backpressure: the input is read only
   * as far as `concurrency` items ahead of what was consumed.
   * @example
   * for await (const size of pool.map(fileSize, paths)) total += size
   */
  map<T, X>(
    fn: (t: TaskContext, item: T) => X,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncGenerator<BodyResult<X>, void, undefined> {
    return map(this, fn, items, options) as AsyncGenerator<BodyResult<X>, void, undefined>
  }

  /** @internal creates and queues a task. */
  _submit(
    fn: (t: TaskContext, ...args: never[]) => unknown,
    args: readonly unknown[],
    options: RunOptions,
    part: PartSpec | undefined,
  ): PoolTask<unknown> {
    if (this.#closing !== undefined) throw new TaskosError('ERR_CLOSED', 'the pool is closed: no new tasks')
    if (!Array.isArray(args))
      throw new TaskosError(
        'ERR_INVALID_ARGUMENT',
        `invalid args: ${describe(args)} (expected an array of arguments)`,
      )
    const info = fnInfo(fn)
    if (options === null || typeof options !== 'object') throw invalid('options', options, 'an object')
    const timeout = checkTimeout(options.timeout)
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
      throw invalid('signal', options.signal, 'an AbortSignal')
    if (options.transfer !== undefined && !Array.isArray(options.transfer))
      throw invalid('transfer', options.transfer, 'an array of ArrayBuffers or MessagePorts')
    if (this.queued >= this.#options.maxQueue) {
      throw new TaskosError('ERR_QUEUE_FULL', `the pool queue is full (maxQueue ${this.#options.maxQueue})`)
    }
    const task = new PoolTask<unknown>(this, this.#nextTask++, info, args, options.transfer)
    task._part = part
    this.#waiting++
    const signal = options.signal
    if (signal !== undefined) {
      if (signal.aborted) {
        this._cancel(task, signal.reason)
        return task
      }
      const onAbort = (): void => void this._cancel(task, signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      task._unlisten = () => signal.removeEventListener('abort', onAbort)
    }
    // beyond setTimeout's range (~24.8 days) Node would fire at once: no timer then
    if (timeout !== undefined && timeout <= 0x7fffffff) {
      const ms = timeout
      task._timer = realClock.setTimer(ms, () =>
        this._cancel(
          task,
          new TimeoutError(
            `pool task #${task.id} (${task.name ?? 'anonymous'}) timed out after ${ms} ms`,
            ms,
          ),
        ),
      )
    }
    if (part !== undefined) this.#parts.push(task)
    else this.#queue.push(task)
    this.#schedulePump()
    return task
  }

  /** @internal a new partition group id. */
  _newGroup(): number {
    return this.#nextGroup++
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.#waiting
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    // a promise reaction, not queueMicrotask: Node makes an async resource for each of those
    void RESOLVED.then(this.#pumpNow)
  }

  readonly #pumpNow = (): void => {
    this.#pumpScheduled = false
    this.#pump()
  }

  /** Hands queued tasks to workers that have room. */
  #pump(): void {
    if (this.#closed) return
    // queued work keeps the process alive while workers start or restart
    if (this.queued > 0) for (const w of this.#workers) if (!w.ready) w.ref(true)
    // crash suspects first, each alone on an idle worker
    while (this.#suspects.length > 0) {
      const idle = this.#workers.find((w) => w.ready && w.alive && !w.retiring && w.inFlight.size === 0)
      if (idle === undefined) break
      const task = this.#suspects.shift()!
      if (task._state !== QUEUED) continue
      idle.solo = true
      this.#send(idle, [task])
    }
    // make sure enough workers exist (idleTimeout pools start them on demand)
    if (this.queued > 0) while (this.#workers.length < this.#size) this.#spawnWorker().ref(true)
    // a starting thread worker loads the next task's module as soon as it runs, while its `ready`
    // travels here and the task travels there
    const head = this.#queue[this.#queueHead] ?? this.#parts[0]
    if (head !== undefined) for (const w of this.#workers) if (!w.ready) this.#preload(w, head._fn)
    // parts of partitioned calls: all at once, spread evenly, once every worker is up
    if (this.#parts.length > 0) {
      const live = this.#workers.filter((w) => w.alive && !w.retiring)
      if (live.length > 0 && live.every((w) => w.ready)) {
        const byWorker = new Map<WorkerSlot, PoolTask<unknown>[]>()
        for (const task of this.#parts) {
          if (task._state !== QUEUED) continue
          let best = live[0]!
          for (const w of live) {
            const load = w.inFlight.size + (byWorker.get(w)?.length ?? 0)
            if (load < best.inFlight.size + (byWorker.get(best)?.length ?? 0)) best = w
          }
          let list = byWorker.get(best)
          if (list === undefined) byWorker.set(best, (list = []))
          list.push(task)
        }
        this.#parts = []
        for (const [w, batch] of byWorker) this.#send(w, batch)
      }
    }
    let pending = this.#queue.length - this.#queueHead
    if (pending === 0) return this.#maybeDrained()
    const workers = this.#workers.filter((w) => w.limit > w.inFlight.size)
    if (workers.length === 0) return
    // share the queue fairly among the workers with room
    const share = Math.ceil(pending / workers.length)
    for (const worker of workers) {
      const room = Math.min(worker.limit - worker.inFlight.size, share)
      const batch: PoolTask<unknown>[] = []
      while (batch.length < room && this.#queueHead < this.#queue.length) {
        const task = this.#queue[this.#queueHead]!
        this.#queue[this.#queueHead++] = undefined as never
        if (task._state === QUEUED) batch.push(task)
      }
      if (batch.length > 0) this.#send(worker, batch)
      pending = this.#queue.length - this.#queueHead
      if (pending === 0) break
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = []
      this.#queueHead = 0
    } else if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead)
      this.#queueHead = 0
    }
  }

  #send(worker: WorkerSlot, batch: PoolTask<unknown>[]): void {
    if (worker.child !== undefined) {
      // a process cannot see this process's memory: a shared array would arrive as a copy, and
      // the task's writes would be lost without a word
      batch = batch.filter((task) => {
        const bad = task._args.findIndex(isSharedMemory)
        if (bad < 0) return true
        this.#finish(
          task,
          'failed',
          new TaskosError(
            'ERR_SERIALIZATION',
            `pool task #${task.id} (${task.name ?? 'anonymous'}): argument ${bad} (${describe(task._args[bad])}) is shared memory, which a worker process cannot share (use isolation 'thread', or a plain typed array, which is copied)`,
          ),
        )
        return false
      })
      if (batch.length === 0) return
    }
    for (let from = 0; from < batch.length; from += MAX_BATCH) {
      this.#sendRun(
        worker,
        from === 0 && batch.length <= MAX_BATCH ? batch : batch.slice(from, from + MAX_BATCH),
      )
    }
  }

  /** Sends one `run` message (column form); an argument that cannot be copied fails its task only. */
  #sendRun(worker: WorkerSlot, batch: PoolTask<unknown>[]): void {
    const n = batch.length
    const first = batch[0]!
    const ids = new Array<number>(n)
    const fns = new Array<number>(n)
    const argc = new Array<number>(n)
    const args: unknown[] = []
    let consecutive = true
    let sameFn = true
    let sameArgc = true
    let parts: (PartSpec | undefined)[] | undefined
    let defs: FnDef[] | undefined
    let transfer: TransferListItem[] | undefined
    let mail = false
    const known = worker.known
    for (let i = 0; i < n; i++) {
      const task = batch[i]!
      task._state = RUNNING
      task._worker = worker
      worker.inFlight.set(task.id, task)
      const id = (ids[i] = task.id)
      if (id !== first.id + i) consecutive = false
      const fn = task._fn
      fns[i] = fn.key
      if (fn !== first._fn) sameFn = false
      if (!known.has(fn.key)) {
        known.add(fn.key)
        ;(defs ??= []).push([fn.key, fn.module, fn.name])
      }
      const a = task._args
      const count = (argc[i] = a.length)
      if (count !== first._args.length) sameArgc = false
      for (let k = 0; k < count; k++) args.push(a[k])
      if (task._part !== undefined) (parts ??= new Array<PartSpec | undefined>(n))[i] = task._part
      if (task._transfer !== undefined) (transfer ??= []).push(...task._transfer)
      if (task._mail !== undefined) mail = true
    }
    this.#waiting -= n
    if (worker.idleTimer !== undefined) {
      realClock.clearTimer(worker.idleTimer)
      worker.idleTimer = undefined
    }
    worker.ref(true)
    try {
      const idsColumn = consecutive ? first.id : ids
      const fnsColumn = sameFn ? first._fn.key : fns
      const argcColumn = sameArgc ? first._args.length : argc
      worker.post(
        parts !== undefined || defs !== undefined
          ? { t: 'run', n, ids: idsColumn, fns: fnsColumn, argc: argcColumn, args, parts, defs }
          : n === 1
            ? [first.id, first._fn.key, ...args]
            : { t: 'run', n, ids: idsColumn, fns: fnsColumn, argc: argcColumn, args },
        transfer,
      )
    } catch (error) {
      // some argument cannot be copied: find which, fail that task, send the others again
      if (defs !== undefined) for (const def of defs) known.delete(def[0])
      for (const task of batch) {
        worker.inFlight.delete(task.id)
        task._state = QUEUED
        this.#waiting++
        task._worker = undefined
      }
      for (const task of batch) {
        const bad = task._args.findIndex((a) => !cloneable(a, task._transfer))
        if (bad >= 0 || batch.length === 1) {
          const which = bad >= 0 ? `argument ${bad} (${describe(task._args[bad])})` : 'an argument'
          this.#finish(
            task,
            'failed',
            new TaskosError(
              'ERR_SERIALIZATION',
              `pool task #${task.id} (${task.name ?? 'anonymous'}): ${which} cannot be sent to a worker: ${(error as Error).message}`,
            ),
          )
        } else {
          this.#sendRun(worker, [task])
        }
      }
      if (worker.inFlight.size === 0) worker.ref(false)
      return
    }
    if (mail) {
      for (const task of batch) {
        if (task._mail !== undefined) {
          for (const message of task._mail) worker.post({ t: 'message', id: task.id, message })
          task._mail = undefined
        }
      }
    }
  }

  /** Tells a starting thread worker of a task function, so that it loads its module at once. */
  #preload(worker: WorkerSlot, fn: FnInfo): void {
    // a worker process may not listen yet (its messages could be lost): only threads, whose port
    // keeps messages until the worker listens
    if (worker.thread === undefined || !worker.alive || fn.module === '' || worker.known.has(fn.key)) return
    worker.known.add(fn.key)
    worker.post({ t: 'load', defs: [[fn.key, fn.module, fn.name]] })
  }

  /** @internal `poolTask.send(message)` of a running task. */
  _sendMessage(task: PoolTask<unknown>, message: unknown): void {
    ;(task._worker as WorkerSlot | undefined)?.post({ t: 'message', id: task.id, message })
  }

  /** @internal a worker's message. */
  _onMessage(worker: WorkerSlot, message: FromWorker): void {
    if (Array.isArray(message)) return this.#onDoneOne(worker, message as DoneOne)
    const m = message as Exclude<FromWorker, DoneOne>
    switch (m.t) {
      case 'ready':
        worker.ready = true
        if (m.cached) this._codeCacheStarts++
        // V8 refused the cache (this never happened here): the next thread makes another
        else if (worker.codeCache !== undefined && worker.codeCache === codeCache) codeCache = undefined
        this.#startFailures = 0
        worker.ref(false)
        this.#pump()
        this.#armIdle(worker) // a worker started on demand may find nothing left to do
        break
      case 'done':
        this.#onDone(worker, m)
        break
      case 'code-cache':
        codeCache = m.data
        if (codeCacheMaker === worker) codeCacheMaker = undefined
        break
      case 'progress': {
        const task = worker.inFlight.get(m.id)
        if (task !== undefined) this.#events.emit({ type: 'progress', task, done: m.done, total: m.total })
        break
      }
      case 'sync':
        this._onSync(worker, m.id, m.group)
        break
    }
  }

  /** Results of a worker, in column form. */
  #onDone(worker: WorkerSlot, message: DoneMessage): void {
    const { ids, values, errors } = message
    const n = values.length
    const inFlight = worker.inFlight
    let e = 0
    let nextError = errors === undefined ? -1 : errors[0]!
    for (let i = 0; i < n; i++) {
      const id = typeof ids === 'number' ? ids + i : ids[i]!
      const task = inFlight.get(id)
      const failed = i === nextError
      if (failed) nextError = errors![++e] ?? -1
      if (task === undefined) continue
      inFlight.delete(id)
      worker.completed++
      if (!failed) this.#finish(task, 'done', values[i])
      else {
        const error = deserializeError(values[i] as never, { task: id, worker: worker.id })
        const cancelled =
          task._cancelled && (error instanceof CancelledError || error instanceof TimeoutError)
        this.#finish(task, cancelled ? 'cancelled' : 'failed', error)
      }
    }
    this.#ran(worker, message.ms / n)
  }

  /** A lone result (not an error). */
  #onDoneOne(worker: WorkerSlot, [id, value, ms]: DoneOne): void {
    const task = worker.inFlight.get(id)
    if (task !== undefined) {
      worker.inFlight.delete(id)
      worker.completed++
      this.#finish(task, 'done', value)
    }
    this.#ran(worker, ms)
  }

  /** Results came, after `perTask` ms of run time each. */
  #ran(worker: WorkerSlot, perTask: number): void {
    worker.avgMs = worker.avgMs < 0 ? perTask : worker.avgMs * 0.7 + perTask * 0.3
    if (worker.solo && worker.inFlight.size === 0) worker.solo = false
    this.#afterProgress(worker)
  }

  /** After results: recycle, idle, or hand out more work. */
  #afterProgress(worker: WorkerSlot): void {
    const recycle = this.#options.recycleAfter
    if (recycle !== undefined && worker.completed >= recycle && !worker.retiring) worker.retiring = true
    if (worker.inFlight.size === 0) {
      worker.ref(false)
      if (worker.retiring) {
        this.#removeWorker(worker)
        worker.terminate('recycled')
      } else this.#armIdle(worker)
    }
    this.#pump()
  }

  /** With `idleTimeout`: stops a worker that stays idle that long. */
  #armIdle(worker: WorkerSlot): void {
    const ms = this.#options.idleTimeout
    if (ms === undefined || worker.idleTimer !== undefined || !worker.alive) return
    if (worker.inFlight.size > 0 || this.queued > 0) return
    worker.idleTimer = realClock.setTimer(ms, () => {
      worker.idleTimer = undefined
      if (worker.inFlight.size === 0 && this.queued === 0) {
        this.#removeWorker(worker)
        worker.terminate('idle')
      }
    })
    ;(worker.idleTimer as { unref?: () => void }).unref?.() // an idle pool does not hold the process
  }

  #finish(task: PoolTask<unknown>, status: Exclude<TaskStatus, 'running'>, value: unknown): void {
    const wasWaiting = task._state === QUEUED
    if (!task._settle(status, value)) return
    if (wasWaiting) this.#waiting--
    this.#counts[status === 'done' ? 'completed' : status]++
    if (task._part !== undefined) this._onTaskEnded(task)
  }

  /** @internal a task ended: its partition group hears of it. */
  _onTaskEnded(task: PoolTask<unknown>): void {
    const part = task._part
    if (part !== undefined) this._groups.get(part[4])?.ended(task)
  }

  /** @internal a part reached t.sync(). */
  _onSync(worker: WorkerSlot, id: number, group: number): void {
    this._groups.get(group)?.arrive(worker, id)
  }

  /** @internal */
  _onError(worker: WorkerSlot, error: Error): void {
    // an uncaught error in the worker: its 'exit' follows and fails or re-runs its tasks
    worker.lastError = error
  }

  /** @internal a worker died (or was terminated). */
  _onExit(worker: WorkerSlot, exitCode: number | undefined, signal: string | undefined): void {
    worker.alive = false
    if (codeCacheMaker === worker) codeCacheMaker = undefined // the next thread makes it
    this.#removeWorker(worker)
    const lastError = worker.lastError
    const reason = (worker.stopReason ?? 'crashed') as WorkerExitReason
    this.#events.emit({ type: 'worker-exit', worker: worker.id, exitCode, signal, reason, error: lastError })
    const inFlight = [...worker.inFlight.values()]
    worker.inFlight.clear()
    const why =
      lastError !== undefined
        ? `${lastError.name}: ${lastError.message}`
        : signal !== undefined
          ? `killed by ${signal}`
          : `exit code ${exitCode ?? '?'}`
    if (!worker.ready && worker.stopReason === undefined && ++this.#startFailures >= MAX_START_FAILURES) {
      // no worker can start: the queued tasks fail now (new tasks try again, once)
      const queued: PoolTask<unknown>[] = [...this.#suspects, ...this.#parts]
      for (let i = this.#queueHead; i < this.#queue.length; i++) queued.push(this.#queue[i]!)
      for (const task of queued) {
        if (task._state !== QUEUED) continue
        const error = new WorkerCrashedError(
          `pool task #${task.id} (${task.name ?? 'anonymous'}): no worker could start: ${this.#startFailures} in a row died before they were ready (the last: ${why})`,
          { exitCode, signal },
          { cause: lastError, origin: { task: task.id, worker: worker.id } },
        )
        this.#finish(task, 'crashed', error)
      }
    }
    for (const task of inFlight) {
      if (task._state === ENDED) continue
      task._crashes++
      if (inFlight.length === 1 || task._crashes >= 2 || worker.solo) {
        const error = new WorkerCrashedError(
          `pool task #${task.id} (${task.name ?? 'anonymous'}): its worker died (${why})`,
          { exitCode, signal },
          { cause: lastError, origin: { task: task.id, worker: worker.id } },
        )
        this.#finish(task, 'crashed', error)
      } else {
        task._state = QUEUED
        this.#waiting++
        task._worker = undefined
        this.#suspects.push(task)
      }
    }
    if (
      !this.#closed &&
      this.#workers.length < this.#size &&
      (this.queued > 0 ||
        (this.#options.idleTimeout === undefined && this.#startFailures < MAX_START_FAILURES))
    ) {
      this.#spawnWorker()
    }
    this.#pump()
    this.#maybeDrained()
  }

  #spawnWorker(): WorkerSlot {
    const worker = new WorkerSlot(this.#nextWorker++, this, this.#options)
    this.#workers.push(worker)
    if (this.#options.bind === true && worker.child?.pid !== undefined)
      bindToCpu(worker.child.pid, (worker.id - 1) % nodeOs().availableParallelism())
    return worker
  }

  #removeWorker(worker: WorkerSlot): void {
    const i = this.#workers.indexOf(worker)
    if (i >= 0) this.#workers.splice(i, 1)
  }

  /** @internal `task.cancel(reason)`. */
  _cancel(task: PoolTask<unknown>, reason: unknown): boolean {
    if (task._state === ENDED) return false
    const error =
      reason instanceof CancelledError || reason instanceof TimeoutError
        ? reason
        : new CancelledError(
            reason === undefined
              ? `pool task #${task.id} was cancelled`
              : `pool task #${task.id} was cancelled: ${reason instanceof Error ? reason.message : describe(reason)}`,
            reason === undefined ? undefined : { cause: reason },
          )
    if (task._state === QUEUED) {
      this.#finish(task, 'cancelled', error)
      return true
    }
    const worker = task._worker as WorkerSlot | undefined
    if (worker === undefined || task._cancelled) return worker !== undefined
    task._cancelled = true
    worker.post({ t: 'cancel', id: task.id, error: serializeError(error) })
    const grace = realClock.setTimer(this.#options.cancelGrace, () => {
      if (task._state === ENDED || !worker.inFlight.has(task.id)) return
      // it did not stop: end it now, and replace its worker; the others on it run again
      worker.inFlight.delete(task.id)
      this.#finish(task, 'cancelled', error)
      for (const other of worker.inFlight.values()) {
        other._state = QUEUED
        this.#waiting++
        other._worker = undefined
        this.#queue.splice(this.#queueHead, 0, other)
      }
      worker.inFlight.clear()
      worker.terminate('cancel-grace')
    })
    // the grace timer alone does not hold the process open (the running task's worker does)
    ;(grace as { unref?: () => void }).unref?.()
    return true
  }

  /** Subscribes to pool events (`progress`, `worker-exit`); returns an unsubscribe function. */
  on<K extends PoolEvent['type']>(type: K, listener: Listener<PoolEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Removes a listener. */
  off<K extends PoolEvent['type']>(type: K, listener: Listener<PoolEvent, K>): void {
    this.#events.off(type, listener)
  }

  /** Counters: workers, busy, queued, completed, failed, crashed, cancelled, per worker. */
  stats(): PoolStats {
    let running = 0
    for (const w of this.#workers) running += w.inFlight.size
    return {
      workers: this.#workers.length,
      busy: this.#workers.filter((w) => w.inFlight.size > 0).length,
      queued: this.queued,
      running,
      ...this.#counts,
      perWorker: this.#workers.map((w) => ({
        id: w.id,
        completed: w.completed,
        inFlight: w.inFlight.size,
        pid: w.pid,
      })),
    }
  }

  #maybeDrained(): void {
    if (this.#drained === undefined) return
    if (this.queued > 0) return
    for (const w of this.#workers) if (w.inFlight.size > 0) return
    const done = this.#drained
    this.#drained = undefined
    done()
  }

  /** Finishes queued and running tasks, then stops the workers. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      await new Promise<void>((resolve) => {
        this.#drained = resolve
        this.#maybeDrained()
      })
      await this.#stopWorkers()
    })())
  }

  /** Stops now: queued and running tasks reject with ERR_CLOSED; workers are terminated. Idempotent. */
  destroy(): Promise<void> {
    if (this.#closed) return this.#closing ?? Promise.resolve()
    const error = new TaskosError('ERR_CLOSED', 'the pool was destroyed')
    this.#closing ??= Promise.resolve()
    const all: PoolTask<unknown>[] = []
    for (let i = this.#queueHead; i < this.#queue.length; i++) all.push(this.#queue[i]!)
    all.push(...this.#suspects, ...this.#parts)
    for (const w of this.#workers) all.push(...w.inFlight.values())
    for (const task of all) this.#finish(task, 'cancelled', error)
    return (this.#closing = this.#stopWorkers())
  }

  async #stopWorkers(): Promise<void> {
    this.#closed = true
    const exits = this.#workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (!w.alive) return resolve()
          w.ref(true) // an idle worker is unref'd: its exit must still be awaited
          if (w.thread !== undefined) w.thread.once('exit', () => resolve())
          else w.child!.once('exit', () => resolve())
          w.terminate('closed')
        }),
    )
    this.#workers = []
    // a worker terminated before it was ready does not hold the event loop open while its exit is
    // pending: hold it ourselves until every exit arrived, or `await close()` could never return
    const keepAlive = setInterval(() => undefined, 1000)
    try {
      await Promise.all(exits)
    } finally {
      clearInterval(keepAlive)
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function invalid(option: string, value: unknown, expected: string): TaskosError {
  return new TaskosError(
    'ERR_INVALID_OPTION',
    `invalid option ${option}: ${describe(value)} (expected ${expected})`,
  )
}

// Task functions, interned once per process: a worker is told of each once, then gets its key.
let nextFnKey = 1
const byFunction = new WeakMap<object, FnInfo>()
/** Self-contained functions by source (a closure made anew per call has the same source). */
const bySource = new Map<string, FnInfo>()
const BY_SOURCE_MAX = 1024

/** How a worker finds a function: module + name, or its source for a self-contained function. */
function fnInfo(fn: unknown): FnInfo {
  if (typeof fn !== 'function') {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `invalid task function: ${describe(fn)} (expected a function made by defineTask, or a self-contained function)`,
    )
  }
  const known = byFunction.get(fn)
  if (known !== undefined) return known
  let info: FnInfo
  if (isTaskFunction(fn)) {
    info = { key: nextFnKey++, module: fn.taskModule, name: fn.taskName, label: fn.name || undefined }
  } else {
    const source = fn.toString()
    if (/\[native code\]\s*\}$/.test(source)) {
      throw new TaskosError(
        'ERR_INVALID_ARGUMENT',
        `${fn.name || 'this function'} is a native or bound function: it cannot be shipped to a worker`,
      )
    }
    const code = shippable(source)
    const same = bySource.get(code)
    if (same !== undefined && same.label === (fn.name || undefined)) info = same
    else {
      info = { key: nextFnKey++, module: '', name: code, label: fn.name || undefined }
      if (bySource.size >= BY_SOURCE_MAX) bySource.clear()
      bySource.set(code, info)
    }
  }
  byFunction.set(fn, info)
  return info
}

/** Source that evaluates to the function: functions and arrows as they are, methods made functions. */
function shippable(source: string): string {
  if (/^(async\s*)?(function\b|\(|[\w$]+\s*=>)/.test(source)) return source
  const async = /^async\s+(?=[*\w$])/.exec(source)
  if (async !== null) return `async function ${source.slice(async[0].length)}` // async method
  return `function ${source}` // method (or generator method) shorthand
}

function isSharedMemory(value: unknown): boolean {
  return (
    value instanceof SharedArrayBuffer ||
    (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer)
  )
}

function cloneable(value: unknown, transfer: readonly TransferListItem[] | undefined): boolean {
  try {
    structuredClone(value, transfer === undefined ? undefined : { transfer: [...transfer] as never })
    return true
  } catch {
    return false
  }
}

/**
 * Starts a worker process. It must die with this process, even by SIGKILL and while its task keeps
 * its event loop busy (so it never sees its IPC channel close). On Linux with util-linux's
 * `setpriv` on the PATH, the kernel sees to that: `setpriv --pdeathsig KILL` execs node with the
 * parent-death signal set. Elsewhere the worker starts a watchdog thread that polls its parent pid;
 * that thread's start costs a worker process 10–25 ms before it is ready (docs/benchmarks.md,
 * batch), so it is only the fallback.
 */
function startProcess(): ChildProcess {
  const entry = nodeUrl().fileURLToPath(workerEntry())
  const stdio: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc']
  const execArgv = processExecArgv()
  const setpriv = parentDeathSetpriv()
  if (setpriv === null) return childProcess().fork(entry, [], { execArgv, serialization: 'advanced', stdio })
  const node = [process.execPath, ...execArgv, entry, DIES_WITH_PARENT]
  return childProcess().spawn(setpriv, ['--pdeathsig', 'KILL', '--', ...node], {
    serialization: 'advanced',
    stdio,
  })
}

/** `--input-type` and its value, in one argument or two. */
const INPUT_TYPE = /^--input-type(=|$)/

/**
 * The Node options of a worker process: this process's, less those that say what it runs rather
 * than how. The code of `-e`/`-p` (a worker would run it again instead of its entry, and it may
 * start a pool: `fork` drops it for the same reason), and `--input-type` (for string input only:
 * Node refuses it beside a file entry).
 */
function processExecArgv(): string[] {
  const argv = [...process.execArgv]
  const code = (process as { _eval?: string })._eval
  const at = code === undefined ? -1 : argv.lastIndexOf(code)
  if (at > 0) argv.splice(at - 1, 2)
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (/^(--eval|--print)=/.test(a)) continue
    if (INPUT_TYPE.test(a)) {
      if (a === '--input-type') i++ // its value is the next argument
      continue
    }
    kept.push(a)
  }
  return kept
}

let setprivPath: string | null | undefined

/**
 * The `setpriv` that can set a parent-death signal (util-linux 2.33 and later: older ones, as on
 * CentOS 7, lack `--pdeathsig`), or null; asked once per process, when its first worker process
 * starts.
 */
function parentDeathSetpriv(): string | null {
  if (setprivPath === undefined) {
    const path = process.platform === 'linux' ? findExecutable('setpriv') : null
    const help = path === null ? undefined : childProcess().spawnSync(path, ['--help'], { encoding: 'utf8' })
    setprivPath = help?.status === 0 && help.stdout.includes('--pdeathsig') ? path : null
  }
  return setprivPath
}

function bindToCpu(pid: number, cpu: number): void {
  childProcess().execFile('taskset', ['-p', '-c', String(cpu), String(pid)], () => undefined)
}
