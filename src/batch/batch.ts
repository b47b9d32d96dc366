/**
 * `batch()`: a Boss run to completion.
 * @module
 */
import { Boss } from './boss.js'
import type { BossOptions } from './boss.js'
import type { BatchReport } from './report.js'

/**
 * Runs every job of `options` (common ⊕ individual) on its worker under its scheduler, and
 * resolves with the report once all are final. Failed jobs do not reject: read `report.summary.ok`.
 * @throws ERR_INVALID_OPTION (synchronously in the returned promise) for bad options or instructions,
 * before anything runs.
 * @example
 * const report = await batch({
 *   worker: { command: ['gzip', '-k', '{file}'] },
 *   individual: { file: ['a.txt', 'b.txt'] },
 *   scheduler: schedulers.maxWorkers(2),
 * })
 * console.log(report.summary)   // { total: 2, done: 2, failed: 0, … }
 */
export async function batch<R = unknown>(options: BossOptions<R>): Promise<BatchReport> {
  const boss = new Boss<R>(options)
  boss.end()
  return boss.wait()
}
