/**
 * The `schedulers` namespace of taskos/batch: `schedulers.maxWorkers(n)`,
 * `schedulers.maxMemory({ limit, maxWorkers })`, `schedulers.longerFirst(inner)`.
 * @module
 */
export { maxWorkers, maxMemory, longerFirst } from './schedulers.js'
