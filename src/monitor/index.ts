/**
 * taskos/monitor: a dashboard, a JSON API and Prometheus metrics over kernels, pools, batch runs
 * and cluster clients (pycos's web monitor, for every executor).
 *
 * Invariants: the monitor reads sources only through `stats()` and their rare events (never per
 * task: watching costs a source nothing between samples and scrapes, and never changes what it
 * does); it binds to 127.0.0.1 unless told otherwise; every route is read-only (GET/HEAD); the
 * dashboard loads nothing from other origins.
 * @example
 * import { Pool } from 'taskos'
 * import { Monitor } from 'taskos/monitor'
 * const pool = new Pool()
 * const monitor = new Monitor({ pool }, { port: 8642 })
 * console.log(await monitor.listen())   // http://127.0.0.1:8642/  (/metrics, /api/snapshot, …)
 * @module
 */
export { Monitor } from './monitor.js'
export type { MonitorOptions, MonitorSample, MonitorSnapshot, MonitorStats, SourceSample } from './monitor.js'
export type { MonitorEventRecord, MonitorSource, SourceKind, SourceSnapshot, SourceSummary } from './sources.js'
