/**
 * The default pool: created on first use (by `t.offload` in a kernel without an executor, or by
 * `defaultPool()`), one worker per core. Its workers hold the process open only while they have
 * work, so an idle default pool never keeps a program alive.
 * @module
 */
import { setDefaultExecutor } from '../kernel/kernel.js'
import { Pool } from './pool.js'

let instance: Pool | undefined

/** The default pool (one worker per core), created on first use. */
export function defaultPool(): Pool {
  return (instance ??= new Pool())
}

setDefaultExecutor(defaultPool)
