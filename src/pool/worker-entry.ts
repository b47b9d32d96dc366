/**
 * The entry of every pool worker, thread or process, in the built package: dist/pool/worker.cjs,
 * CommonJS (scripts/build.mjs; run from the TypeScript sources, workers start at worker.ts).
 *
 * It loads the worker's runtime, the kernel and the pool in dist/core.cjs, and starts it. A thread
 * compiles that file through V8's code cache when its pool gave it one (`workerData.codeCache`):
 * the file is read, V8 takes the compiled code from the cache instead of parsing 190 KB, which a
 * new thread otherwise pays at every start (docs/benchmarks.md, pool start-up). The first thread a
 * process starts compiles the source and makes the cache (`workerData.makeCodeCache`), which the
 * pool keeps for every thread it starts after it; when V8 refuses a cache, the thread says so in
 * its `ready`, and the pool has its next thread make another. The runtime then sits in
 * `require.cache` like any module: the task module's `import … from 'taskos/pool'` finds this very
 * copy.
 *
 * A process worker, and a thread when source maps are on (Node maps the stack frames of what its
 * own loader loaded), require the runtime as usual.
 * @module
 */
import { readFileSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { compileFunction } from 'node:vm'
import { isMainThread, workerData } from 'node:worker_threads'
import type { WorkerStart, startWorker } from './worker-runtime.js'

/** What dist/core.cjs exports that this entry uses. */
interface Runtime {
  startWorker: typeof startWorker
}

/** The parameters of a CommonJS module's code, as Node passes them. */
const PARAMETERS = ['exports', 'require', 'module', '__filename', '__dirname']
type Wrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => void

const CORE = join(__dirname, '..', 'core.cjs')
const load = createRequire(CORE)

/** What the pool gives a thread worker (pool.ts). */
interface ThreadData {
  codeCache?: Uint8Array
  makeCodeCache?: boolean
}

/**
 * The runtime compiled as Node compiles a CommonJS module (a function of `exports`, `require`, …),
 * from the code cache in `data` or from its source, V8 making a code cache as it compiles when the
 * pool asked for one; then run, and put in `require.cache`.
 */
function compile(data: ThreadData): WorkerStart & { runtime: Runtime } {
  const cache = data.codeCache
  const make = data.makeCodeCache === true
  const wrapper = compileFunction(readFileSync(CORE, 'utf8'), PARAMETERS, {
    filename: CORE,
    cachedData: cache,
    produceCachedData: make,
  }) as Wrapper & { cachedDataRejected?: boolean; cachedData?: Buffer }
  const cached = cache !== undefined && wrapper.cachedDataRejected !== true
  const module = new Module(CORE)
  module.filename = CORE
  load.cache[CORE] = module
  try {
    wrapper.call(module.exports, module.exports, load, module, CORE, dirname(CORE))
  } catch (error) {
    delete load.cache[CORE]
    throw error
  }
  module.loaded = true
  return { runtime: module.exports as Runtime, cached, codeCache: make ? wrapper.cachedData : undefined }
}

const start: WorkerStart & { runtime: Runtime } =
  isMainThread || process.sourceMapsEnabled
    ? { runtime: load(CORE) as Runtime }
    : compile((workerData as ThreadData | null) ?? {})

start.runtime.startWorker({ ...start, importModule: (specifier) => import(specifier) })
