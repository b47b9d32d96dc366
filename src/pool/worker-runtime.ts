/**
 * The pool worker's runtime, started by `startWorker()` from the entry module of every worker
 * thread and worker process (worker.ts from the TypeScript sources, worker-entry.ts in the built
 * package). Each task runs as a task of the worker's own kernel, so `t`
 * is the full task context (receive, sleep, spawn, signal) plus `progress`, `part` and `sync`.
 * Results are sent back in batches.
 *
 * It is a module of its own, apart from its entry, so that the built package holds it in the same
 * file as the rest of the kernel and the pool (scripts/build.mjs): a worker then compiles that one
 * file, and the task module's `import … from 'taskos'` finds it already loaded. Importing it starts
 * nothing.
 * @module
 */
import { Worker, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { Kernel } from '../kernel/kernel.js'
import { Operation } from '../kernel/operation.js'
import { TaskosError } from '../kernel/errors.js'
import type { KernelEvent, KernelTask, TaskContext } from '../kernel/index.js'
import { TaskCore } from '../kernel/task.js'
import { DIES_WITH_PARENT } from './protocol.js'
import type { FnDef, FromWorker, PartSpec, RunMessage, RunOne, ToWorker } from './protocol.js'
import { deserializeError, serializeError } from './serialize-error.js'
import { Spinner } from './spin.js'
import { findTaskFunction, setModuleImporter } from './task-modules.js'

type Body = (t: TaskContext, ...args: unknown[]) => unknown

const PROGRESS_INTERVAL_MS = 50
const RESOLVED = Promise.resolve()

const post: (message: FromWorker) => void =
  parentPort !== null
    ? (message) => parentPort!.postMessage(message)
    : (message) => {
        // once the pool's process is gone there is no one to tell ('disconnect' ends this process)
        if (process.connected) process.send!(message)
      }

/** The worker's kernel: every task runs on it (made by `startWorker`). */
let kernel: Kernel

// ---- results: gathered in column form, sent once per turn --------------------------------------

let outIds: number[] = []
let outValues: unknown[] = []
let outErrors: number[] | undefined = undefined
/** Run time (ms) of the tasks whose results are gathered (or about to be). */
let outMs = 0
let flushScheduled = false

function flush(): void {
  flushScheduled = false
  const n = outIds.length
  if (n === 0) return
  const ids = outIds
  const values = outValues
  const errors = outErrors
  const ms = outMs
  outIds = []
  outValues = []
  outErrors = undefined
  outMs = 0
  try {
    if (n === 1 && errors === undefined) post([ids[0]!, values[0], ms])
    else {
      const column = consecutive(ids) ? ids[0]! : ids
      post(
        errors === undefined
          ? { t: 'done', ids: column, values, ms }
          : { t: 'done', ids: column, values, errors, ms },
      )
    }
  } catch (error) {
    // a result that cannot be copied back: report each of the batch separately, naming the culprit
    const failed = new Set(errors)
    for (let i = 0; i < n; i++) {
      const id = ids[i]!
      const own = i === 0 ? ms : 0
      try {
        post(
          failed.has(i)
            ? { t: 'done', ids: [id], values: [values[i]], errors: [0], ms: own }
            : { t: 'done', ids: [id], values: [values[i]], ms: own },
        )
      } catch {
        const e = new TaskosError(
          'ERR_SERIALIZATION',
          `the result of task ${id} cannot be sent back from the worker: ${(error as Error).message}`,
        )
        post({ t: 'done', ids: [id], values: [serializeError(e)], errors: [0], ms: own })
      }
    }
  }
  if (spinner !== undefined && running.size === 0 && early.size === 0) spinner.idle(ms)
}

function consecutive(ids: readonly number[]): boolean {
  const first = ids[0]!
  for (let i = 1; i < ids.length; i++) if (ids[i] !== first + i) return false
  return true
}

function report(id: number, ok: boolean, value: unknown): void {
  if (!ok) (outErrors ??= []).push(outIds.length)
  outIds.push(id)
  outValues.push(value)
  if (!flushScheduled) {
    flushScheduled = true
    // results of every task that ends in this turn's synchronous run go together (a promise
    // reaction, not queueMicrotask: Node makes an async resource for each of those)
    void RESOLVED.then(flush)
  }
}

/** A task ended: its result joins the next `done` message. */
function ended(id: number, core: TaskCore<unknown>, fromSource: boolean): void {
  const outcome = core.outcome!
  if (outcome.status === 'done') report(id, true, outcome.value)
  else report(id, false, serializeError(fromSource ? freeVariable(outcome.error) : outcome.error))
  if (lastProgress.size > 0) lastProgress.delete(id)
}

/**
 * A task that did not end while it started: how to reach it (cancel, messages, progress, sync),
 * and the kernel observer that reports its end.
 */
class Running {
  constructor(
    readonly id: number,
    readonly task: KernelTask<unknown>,
    readonly start: number,
    readonly fromSource: boolean,
    readonly group: number | undefined,
  ) {}
  _taskEnded(core: TaskCore<unknown>): void {
    running.delete(this.id)
    byCore.delete(core)
    outMs += performance.now() - this.start
    ended(this.id, core, this.fromSource)
  }
}

/** Running tasks by pool task id, and by kernel task. */
const running = new Map<number, Running>()
const byCore = new Map<TaskCore<unknown>, Running>()

/** The task being started (its body runs inside `kernel.spawn`): its id and partition group. */
let startingId: number | undefined = undefined
let startingGroup: number | undefined = undefined

/** The pool task id of a kernel task of this worker (undefined for a task's own children). */
function idOf(core: TaskCore<unknown>): number | undefined {
  const r = byCore.get(core)
  if (r !== undefined) return r.id
  return core.parent === undefined ? startingId : undefined
}

/** A function shipped as source that reads a variable from around it: say so, naming the variable. */
function freeVariable(error: unknown): unknown {
  const name = error instanceof ReferenceError ? /^(\S+) is not defined$/.exec(error.message)?.[1] : undefined
  if (name === undefined) return error
  return new TaskosError(
    'ERR_INVALID_ARGUMENT',
    `the function shipped to the worker uses '${name}', which is not defined there: a plain function given to a pool must be self-contained (no variables from around it; pass values as arguments, or use defineTask)`,
    { cause: error },
  )
}

// ---- running ----------------------------------------------------------------------------------

/** Functions this worker was told of, by key; and their bodies once found. */
const defs = new Map<number, FnDef>()
const bodies = new Map<number, Body>()

function bodyOf(key: number): Body | Promise<Body> {
  const body = bodies.get(key)
  if (body !== undefined) return body
  const def = defs.get(key)
  if (def === undefined) throw new TaskosError('ERR_INVALID_STATE', `unknown task function key ${key}`)
  const found = findTaskFunction(def[1], def[2])
  if (typeof found === 'function') bodies.set(key, found)
  return found
}

/** The partition part of the task being spawned, set from the kernel's 'task-start' (before its body runs). */
let pendingPart: PartSpec | undefined = undefined
function setPart({ task }: { task: KernelTask<unknown> }): void {
  const core = task as unknown as TaskCore<unknown>
  const p = pendingPart
  if (p === undefined || core.parent !== undefined) return
  core._extras().part = { index: p[0], start: p[1], end: p[2], count: p[3] }
  pendingPart = undefined
}

function start(
  id: number,
  key: number,
  fn: Body,
  args: readonly unknown[],
  part: PartSpec | undefined,
  t0: number,
): void {
  const fromSource = defs.get(key)?.[1] === ''
  let task: KernelTask<unknown>
  startingId = id
  startingGroup = part?.[4]
  // the part must be known before the body runs (it reads t.part at once): set it from spawn's
  // 'task-start' event, listened to only while a part starts (the event costs every spawn)
  const off = part === undefined ? undefined : ((pendingPart = part), kernel.on('task-start', setPart))
  try {
    task = kernel.spawn(fn, args as unknown[])
  } catch (error) {
    report(id, false, serializeError(fromSource ? freeVariable(error) : error))
    return
  } finally {
    startingId = undefined
    startingGroup = undefined
    if (off !== undefined) {
      off()
      pendingPart = undefined
    }
  }
  const core = task as unknown as TaskCore<unknown>
  core._observe()
  if (core.ended) ended(id, core, fromSource)
  else {
    const r = new Running(id, task, t0, fromSource, part?.[4])
    running.set(id, r)
    byCore.set(core, r)
    core._addObserver(r)
  }
}

function run(m: RunMessage): void {
  if (m.defs !== undefined) for (const def of m.defs) defs.set(def[0], def)
  const { n, ids, fns, argc, args, parts } = m
  const t0 = performance.now()
  let at = 0
  for (let i = 0; i < n; i++) {
    const id = typeof ids === 'number' ? ids + i : ids[i]!
    const key = typeof fns === 'number' ? fns : fns[i]!
    const count = typeof argc === 'number' ? argc : argc[i]!
    const taskArgs = count === 1 ? [args[at]] : args.slice(at, at + count)
    at += count
    runTask(id, key, taskArgs, parts === undefined ? undefined : parts[i], t0)
  }
  // the synchronous run of the whole batch: what scheduling needs of tiny tasks
  outMs += performance.now() - t0
}

/** A lone task (`[id, fn, ...args]`). */
function runOne(m: RunOne): void {
  const t0 = performance.now()
  runTask(m[0], m[1], m.slice(2), undefined, t0)
  outMs += performance.now() - t0
}

function runTask(id: number, key: number, taskArgs: unknown[], part: PartSpec | undefined, t0: number): void {
  let fn: Body | Promise<Body>
  try {
    fn = bodyOf(key)
  } catch (error) {
    report(id, false, serializeError(error))
    return
  }
  if (typeof fn === 'function') start(id, key, fn, taskArgs, part, t0)
  else {
    // its module loads: messages and a cancellation that arrive meanwhile wait for it
    const held: Early = { mail: [], cancelled: false, reason: undefined }
    early.set(id, held)
    fn.then(
      (f) => {
        early.delete(id)
        if (held.cancelled) return report(id, false, serializeError(held.reason))
        start(id, key, f, taskArgs, part, t0)
        const r = running.get(id)
        if (r !== undefined) for (const message of held.mail) r.task.send(message)
      },
      (error: unknown) => {
        early.delete(id)
        report(id, false, serializeError(error))
      },
    )
  }
}

interface Early {
  mail: unknown[]
  cancelled: boolean
  reason: unknown
}

/** Tasks whose function is still loading. */
const early = new Map<number, Early>()

// ---- progress and sync ------------------------------------------------------------------------

const lastProgress = new Map<number, number>()
function onProgress({ task, done, total }: Extract<KernelEvent, { type: 'progress' }>): void {
  const id = idOf(task as unknown as TaskCore<unknown>)
  if (id === undefined) return
  const now = performance.now()
  const last = lastProgress.get(id) ?? -Infinity
  if (now - last < PROGRESS_INTERVAL_MS && (total === undefined || done < total)) return
  lastProgress.set(id, now)
  post({ t: 'progress', id, done, total })
}

const barriers = new Map<number, Set<SyncOp>>()

class SyncOp extends Operation<void> {
  readonly #id: number
  readonly #group: number
  constructor(task: TaskCore<unknown>, id: number, group: number) {
    super(task, undefined)
    this.#id = id
    this.#group = group
  }
  protected start(): void {
    let set = barriers.get(this.#group)
    if (set === undefined) barriers.set(this.#group, (set = new Set()))
    set.add(this)
    post({ t: 'sync', id: this.#id, group: this.#group })
  }
  protected cancelWait(): void {
    barriers.get(this.#group)?.delete(this)
  }
  protected describe(): string {
    return 't.sync()'
  }
}

function syncOf(task: TaskCore<unknown>): SyncOp {
  const r = byCore.get(task)
  const id = r?.id ?? (task.parent === undefined ? startingId : undefined)
  const group = r !== undefined ? r.group : id !== undefined ? startingGroup : undefined
  if (id === undefined || group === undefined) {
    throw new TaskosError(
      'ERR_INVALID_STATE',
      `${task.label}: t.sync() works only in a part of pool.partition`,
    )
  }
  return new SyncOp(task, id, group)
}

// ---- messages ---------------------------------------------------------------------------------

function onMessage(received: ToWorker): void {
  if (Array.isArray(received)) return runOne(received as RunOne)
  const message = received as Exclude<ToWorker, RunOne>
  switch (message.t) {
    case 'run':
      run(message)
      break
    case 'load':
      for (const def of message.defs) {
        defs.set(def[0], def)
        try {
          const found = bodyOf(def[0])
          // a failure is reported to the task that needs the function (its module is tried again)
          if (typeof found !== 'function') found.then(undefined, () => undefined)
        } catch {
          // the same: reported when a task needs it
        }
      }
      break
    case 'cancel': {
      const reason = deserializeError(message.error)
      const held = early.get(message.id)
      if (held !== undefined) {
        held.cancelled = true
        held.reason = reason
      } else running.get(message.id)?.task.cancel(reason)
      break
    }
    case 'message': {
      const held = early.get(message.id)
      if (held !== undefined) held.mail.push(message.message)
      else running.get(message.id)?.task.send(message.message)
      break
    }
    case 'release': {
      const waiting = barriers.get(message.group)
      barriers.delete(message.group)
      if (waiting === undefined) break
      const error = message.error === undefined ? undefined : deserializeError(message.error)
      for (const op of waiting) {
        if (error === undefined) op.resolve(undefined)
        else op.reject(error)
      }
      break
    }
  }
}

// ---- start -----------------------------------------------------------------------------------

/** Thread workers: a bounded spin on the pool's doorbell between tasks (see spin.ts). */
let spinner: Spinner | undefined

/** How the worker's entry loaded this runtime (worker-entry.ts); nothing when it imported it. */
export interface WorkerStart {
  /**
   * Imports task modules: a runtime compiled as a script through V8's code cache cannot use its own
   * `import()`, the entry (a module Node loaded) lends its own.
   */
  readonly importModule?: ((specifier: string) => Promise<unknown>) | undefined
  /** Whether the runtime came from the code cache the pool gave this thread. */
  readonly cached?: boolean | undefined
  /** V8's code cache of the runtime, made for the pool's next threads: sent before `ready`. */
  readonly codeCache?: Uint8Array | undefined
}

/**
 * Starts this thread's or process's worker: its kernel, its message handler, then `ready` to the
 * pool. Called once, by the worker's entry module.
 */
export function startWorker(start: WorkerStart = {}): void {
  if (start.importModule !== undefined) setModuleImporter(start.importModule)
  kernel = new Kernel()
  kernel.on('progress', onProgress)
  kernel._syncHook = syncOf
  spinner =
    parentPort !== null &&
    (workerData as { doorbell?: unknown } | null)?.doorbell instanceof SharedArrayBuffer
      ? new Spinner(new Int32Array((workerData as { doorbell: SharedArrayBuffer }).doorbell), () => {
          let entry: { message: unknown } | undefined
          while ((entry = receiveMessageOnPort(parentPort!)) !== undefined)
            onMessage(entry.message as ToWorker)
        })
      : undefined
  if (parentPort !== null) {
    const spinning = spinner
    parentPort.on(
      'message',
      spinning === undefined
        ? onMessage
        : (message: ToWorker) => {
            spinning.woken()
            onMessage(message)
          },
    )
  } else {
    process.on('message', (message) => onMessage(message as ToWorker))
    // a worker process dies with its pool's process: the IPC channel closes when the parent dies
    process.on('disconnect', () => process.exit(0))
    if (!process.argv.includes(DIES_WITH_PARENT)) watchParent()
  }
  if (start.codeCache !== undefined) post({ t: 'code-cache', data: start.codeCache })
  post({ t: 'ready', cached: start.cached === true })
}

/**
 * A task that keeps the event loop busy never sees 'disconnect': unless the OS kills this process
 * with its parent (see the pool's `startProcess`), a watchdog thread notices that the parent is gone
 * (this process was re-parented) and kills the process.
 */
function watchParent(): void {
  const code = `const ppid = ${process.ppid}; setInterval(() => { if (process.ppid !== ppid) process.kill(${process.pid}, 'SIGKILL') }, 100)`
  new Worker(code, { eval: true, execArgv: [] }).unref()
}
