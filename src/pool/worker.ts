/**
 * The pool worker's runtime: the entry point of every worker thread and worker process. Each task
 * runs as a task of the worker's own kernel, so `t` is the full task context (receive, sleep,
 * spawn, signal) plus `progress`, `part` and `sync`. Results are sent back in batches.
 * @module
 */
import { Worker, parentPort } from 'node:worker_threads'
import { Kernel, Operation, TaskosError } from '../kernel/index.js'
import type { KernelTask, TaskContext } from '../kernel/index.js'
import { TaskCore } from '../kernel/task.js'
import type { FnRef, FromWorker, ResultSpec, RunSpec, ToWorker } from './protocol.js'
import { deserializeError, serializeError } from './serialize-error.js'

type Body = (t: TaskContext, ...args: unknown[]) => unknown

const PROGRESS_INTERVAL_MS = 50

const post: (message: FromWorker) => void =
  parentPort !== null
    ? (message) => parentPort!.postMessage(message)
    : (message) => {
        // once the pool's process is gone there is no one to tell ('disconnect' ends this process)
        if (process.connected) process.send!(message)
      }

const kernel = new Kernel()
/** Pool task id of each running kernel task. */
const ids = new Map<TaskCore<unknown>, number>()
const tasks = new Map<number, KernelTask<unknown>>()
const started = new Map<number, number>()
let results: ResultSpec[] = []
let flushScheduled = false

function flush(): void {
  flushScheduled = false
  if (results.length === 0) return
  const batch = results
  results = []
  try {
    post({ t: 'done', results: batch })
  } catch (error) {
    // a result that cannot be copied back: report each of the batch separately, naming the culprit
    for (const r of batch) {
      try {
        post({ t: 'done', results: [r] })
      } catch {
        const e = new TaskosError(
          'ERR_SERIALIZATION',
          `the result of task ${r[0]} cannot be sent back from the worker: ${(error as Error).message}`,
        )
        post({ t: 'done', results: [[r[0], 0, serializeError(e), r[3]]] })
      }
    }
  }
}

function report(id: number, ok: 0 | 1, value: unknown): void {
  const t0 = started.get(id)
  started.delete(id)
  results.push([id, ok, value, t0 === undefined ? 0 : performance.now() - t0])
  if (!flushScheduled) {
    flushScheduled = true
    queueMicrotask(flush) // results of every task that ends in this turn's synchronous run go together
  }
}

/** Kernel observer: a task ended. */
const onEnded = {
  _taskEnded(task: TaskCore<unknown>): void {
    const id = ids.get(task)
    if (id === undefined) return
    ids.delete(task)
    tasks.delete(id)
    const outcome = task.outcome!
    const fromSource = shipped.delete(id)
    if (outcome.status === 'done') report(id, 1, outcome.value)
    else report(id, 0, serializeError(fromSource ? freeVariable(outcome.error) : outcome.error))
  },
}

/** Ids of running tasks whose function was shipped as source. */
const shipped = new Set<number>()

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

// ---- finding functions ------------------------------------------------------------------------

const modules = new Map<string, Map<string, Body> | Promise<Map<string, Body>>>()
const sources = new Map<string, Body>()
let tsxRegistered: Promise<void> | undefined

async function loadModule(url: string): Promise<Map<string, Body>> {
  if (/\.(c|m)?tsx?$/.test(url) && !process.execArgv.some((a) => a.includes('tsx'))) {
    tsxRegistered ??= import('tsx/esm/api').then(
      (api) => void api.register(),
      () => {
        throw new TaskosError(
          'ERR_INVALID_ARGUMENT',
          `${url} is TypeScript: install tsx so workers can load it`,
        )
      },
    )
    await tsxRegistered
  }
  const mod = (await import(url)) as Record<string, unknown>
  const byName = new Map<string, Body>()
  for (const value of Object.values(mod)) {
    const name = (value as { taskName?: unknown } | null)?.taskName
    if (typeof value === 'function' && typeof name === 'string') byName.set(name, value as Body)
  }
  return byName
}

function sourceFunction(source: string): Body {
  let fn = sources.get(source)
  if (fn === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a self-contained function shipped as source
    fn = (new Function(`return (${source})`) as () => Body)()
    sources.set(source, fn)
  }
  return fn
}

/** The function for a reference, or a promise of it while its module loads. */
function resolve(ref: FnRef): Body | Promise<Body> {
  const [module, name] = ref
  if (module === '') return sourceFunction(name)
  const cached = modules.get(module)
  const pick = (byName: Map<string, Body>): Body => {
    const fn = byName.get(name)
    if (fn === undefined) {
      throw new TaskosError(
        'ERR_INVALID_ARGUMENT',
        `task function '${name}' is not exported by ${module} (export it: export const ${name} = defineTask(import.meta.url, function ${name}(t, …) { … }))`,
      )
    }
    return fn
  }
  if (cached instanceof Map) return pick(cached)
  const loading =
    cached ??
    loadModule(module).then(
      (byName) => {
        modules.set(module, byName)
        return byName
      },
      (error: unknown) => {
        modules.delete(module) // a later task tries again
        throw error
      },
    )
  modules.set(module, loading)
  return loading.then(pick, (error: unknown) => {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `cannot load task module ${module} (for task function '${name}'): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  })
}

// ---- running ----------------------------------------------------------------------------------

function start(spec: RunSpec, fn: Body): void {
  const [id, , args, part] = spec
  started.set(id, performance.now())
  if (part !== undefined) groups.set(id, part[4])
  let task: KernelTask<unknown>
  try {
    // the part must be known before the body runs (it reads t.part at once): set it from `spawn`'s
    // start hook, which runs before the body
    pendingPart = part
    pendingId = id
    task = kernel.spawn(fn, args as unknown[])
  } catch (error) {
    report(id, 0, serializeError(spec[1][0] === '' ? freeVariable(error) : error))
    return
  } finally {
    pendingPart = undefined
    pendingId = undefined
  }
  const core = task as unknown as TaskCore<unknown>
  core._observe()
  if (spec[1][0] === '') shipped.add(id)
  if (core.ended) onEnded._taskEnded(core)
  else {
    tasks.set(id, task)
    core._addObserver(onEnded)
  }
}

let pendingPart: RunSpec[3]
let pendingId: number | undefined
kernel.on('task-start', ({ task }) => {
  const core = task as unknown as TaskCore<unknown>
  if (pendingId === undefined || core.parent !== undefined) return
  ids.set(core, pendingId)
  if (pendingPart !== undefined) {
    const p = pendingPart
    core._extras().part = { index: p[0], start: p[1], end: p[2], count: p[3] }
  }
  pendingPart = undefined
  pendingId = undefined
})

function run(specs: readonly RunSpec[]): void {
  for (const spec of specs) {
    let fn: Body | Promise<Body>
    try {
      fn = resolve(spec[1])
    } catch (error) {
      started.set(spec[0], performance.now())
      report(spec[0], 0, serializeError(error))
      continue
    }
    if (typeof fn === 'function') start(spec, fn)
    else {
      // its module loads: messages and a cancellation that arrive meanwhile wait for it
      const id = spec[0]
      const held: Early = { mail: [], cancelled: false, reason: undefined }
      early.set(id, held)
      started.set(id, performance.now())
      fn.then(
        (f) => {
          early.delete(id)
          if (held.cancelled) return report(id, 0, serializeError(held.reason))
          start(spec, f)
          const task = tasks.get(id)
          if (task !== undefined) for (const message of held.mail) task.send(message)
        },
        (error: unknown) => {
          early.delete(id)
          report(id, 0, serializeError(error))
        },
      )
    }
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
kernel.on('progress', ({ task, done, total }) => {
  const id = ids.get(task as unknown as TaskCore<unknown>)
  if (id === undefined) return
  const now = performance.now()
  const last = lastProgress.get(id) ?? -Infinity
  if (now - last < PROGRESS_INTERVAL_MS && (total === undefined || done < total)) return
  lastProgress.set(id, now)
  post({ t: 'progress', id, done, total })
})

/** The barrier group of each partitioned task. */
const groups = new Map<number, number>()
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

kernel._syncHook = (task) => {
  const id = ids.get(task)
  const group = id === undefined ? undefined : groups.get(id)
  if (id === undefined || group === undefined) {
    throw new TaskosError(
      'ERR_INVALID_STATE',
      `${task.label}: t.sync() works only in a part of pool.partition`,
    )
  }
  return new SyncOp(task, id, group)
}

// ---- messages ---------------------------------------------------------------------------------

function onMessage(message: ToWorker): void {
  switch (message.t) {
    case 'run':
      run(message.tasks)
      break
    case 'cancel': {
      const reason = deserializeError(message.error)
      const held = early.get(message.id)
      if (held !== undefined) {
        held.cancelled = true
        held.reason = reason
      } else tasks.get(message.id)?.cancel(reason)
      break
    }
    case 'message': {
      const held = early.get(message.id)
      if (held !== undefined) held.mail.push(message.message)
      else tasks.get(message.id)?.send(message.message)
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

if (parentPort !== null) {
  parentPort.on('message', onMessage)
} else {
  process.on('message', (message) => onMessage(message as ToWorker))
  // a worker process dies with its pool's process: the IPC channel closes when the parent dies
  process.on('disconnect', () => process.exit(0))
  watchParent()
}

/**
 * A task that keeps the event loop busy never sees 'disconnect': a watchdog thread notices that the
 * parent is gone (this process was re-parented) and kills the process.
 */
function watchParent(): void {
  const code = `const ppid = ${process.ppid}; setInterval(() => { if (process.ppid !== ppid) process.kill(${process.pid}, 'SIGKILL') }, 100)`
  new Worker(code, { eval: true, execArgv: [] }).unref()
}
post({ t: 'ready' })
