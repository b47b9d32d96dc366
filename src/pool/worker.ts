/**
 * The entry module of every pool worker, thread or process, when the TypeScript sources run (the
 * built package's is worker-entry.ts): it starts the worker's runtime (worker-runtime.ts), which
 * lives apart so that the built package bundles it with the kernel and the pool.
 * @module
 */
import { startWorker } from './worker-runtime.js'

startWorker()
