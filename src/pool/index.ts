/**
 * taskos pool: task functions on worker threads or processes.
 *
 * Invariants:
 * - Every task settles exactly once: its value, its error (class name, message, properties, stack
 *   and cause kept across the boundary), cancelled, or crashed when its worker died under it.
 * - A worker's death fails only the task that killed it; others in flight run again.
 * - Nothing waits forever: queued tasks are dropped on cancel; running ones are cancelled in the
 *   worker and, after the grace period, their worker is terminated.
 * - A pool is an Executor: `kernel.setExecutor(pool)` runs `dispatch` and `t.offload` on it.
 * @module
 */
export { defineTask, isTaskFunction } from './define-task.js'
export type { TaskFunction } from './define-task.js'
export { Pool, PoolTask } from './pool.js'
export type { PoolOptions, RunOptions, PoolStats, PoolEvent, WorkerExitReason } from './pool.js'
export { partBounds } from './partition.js'
export type { PartitionOptions } from './partition.js'
export type { MapOptions } from './map.js'
export { shared } from './shared.js'
export { defaultPool } from './default-pool.js'
