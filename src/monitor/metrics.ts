/**
 * `/metrics`: the monitor's Prometheus registry (prom-client). Every metric is computed when it is
 * scraped, from one snapshot of the sources per scrape: watching costs the sources nothing between
 * scrapes, and a source that is removed, or a host that leaves, drops out of the next scrape.
 *
 * | metric                              | labels                    | meaning                                  |
 * | ----------------------------------- | ------------------------- | ---------------------------------------- |
 * | `taskos_tasks_running`              | source, kind              | tasks (jobs) running now                 |
 * | `taskos_tasks_queued`               | source, kind              | waiting for a worker, slot or turn       |
 * | `taskos_tasks_ended_total`          | source, kind, status      | ended since the source started           |
 * | `taskos_capacity`, `taskos_free`    | source, kind              | workers or slots; idle ones (not kernels)|
 * | `taskos_host_up`                    | source, host              | 1 while the node pulses, else 0          |
 * | `taskos_host_slots`, `…_free_slots`, `…_running`, `…_completed`, `…_failed` | source, host | the node's last pulse |
 * | `taskos_host_cpu_percent`, `taskos_host_load1` | source, host | machine CPU use and 1-minute load        |
 * | `taskos_host_memory_bytes`, `taskos_host_disk_bytes` | source, host, state (total, free) |  |
 *
 * With `processMetrics`, prom-client's default metrics of the monitoring process too
 * (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …).
 * @module
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { MonitorSnapshot } from './monitor.js'

/** @internal the registry and what feeds it. */
export interface MonitorMetrics {
  readonly registry: Registry
}

/** @internal */
export function createMetrics(take: () => MonitorSnapshot, processMetrics: boolean): MonitorMetrics {
  const registry = new Registry()
  if (processMetrics) collectDefaultMetrics({ register: registry })
  // one snapshot per scrape: the metrics are collected one after the other in the same turn
  let cached: MonitorSnapshot | undefined
  const current = (): MonitorSnapshot => {
    if (cached === undefined) {
      cached = take()
      setImmediate(() => (cached = undefined)) // after this scrape's chain of promises
    }
    return cached
  }
  const sourceGauge = (name: string, help: string, pick: (s: MonitorSnapshot['sources'][string]['summary']) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['source', 'kind'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const [source, snap] of Object.entries(current().sources)) {
          const value = pick(snap.summary)
          if (value !== undefined) this.set({ source, kind: snap.summary.kind }, value)
        }
      },
    })
  }
  sourceGauge('taskos_tasks_running', 'Tasks (jobs) running now.', (s) => s.running)
  sourceGauge('taskos_tasks_queued', 'Tasks waiting for a worker, slot or turn.', (s) => s.queued)
  sourceGauge('taskos_capacity', 'Workers (pool) or slots (batch, cluster).', (s) => s.capacity)
  sourceGauge('taskos_free', 'Idle workers or free slots.', (s) => s.free)
  new Counter({
    name: 'taskos_tasks_ended_total',
    help: 'Tasks (jobs) ended since the source started, by status.',
    labelNames: ['source', 'kind', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [source, snap] of Object.entries(current().sources)) {
        const s = snap.summary
        for (const status of ['done', 'failed', 'crashed', 'cancelled'] as const) this.inc({ source, kind: s.kind, status }, s[status])
      }
    },
  })

  type Host = NonNullable<MonitorSnapshot['sources'][string]['hosts']>[number]
  const hostGauge = (name: string, help: string, pick: (h: Host) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['source', 'host'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const [source, snap] of Object.entries(current().sources)) for (const h of snap.hosts ?? []) this.set({ source, host: h.name }, pick(h))
      },
    })
  }
  hostGauge('taskos_host_up', '1 while the node pulses and its connection is up, else 0.', (h) => (h.responsive ? 1 : 0))
  hostGauge('taskos_host_slots', 'Worker slots of the node.', (h) => h.slots)
  hostGauge('taskos_host_free_slots', 'Free slots as of the last pulse.', (h) => h.freeSlots)
  hostGauge('taskos_host_running', 'Tasks running on the node as of the last pulse.', (h) => h.running)
  hostGauge('taskos_host_completed', 'Tasks done on the node since it started, as of the last pulse.', (h) => h.completed)
  hostGauge('taskos_host_failed', 'Tasks that failed on the node since it started, as of the last pulse.', (h) => h.failed)
  hostGauge('taskos_host_cpu_percent', "CPU use (%) of the node's machine over the last pulse period.", (h) => h.cpu)
  hostGauge('taskos_host_load1', "1-minute load average of the node's machine.", (h) => h.load[0] ?? 0)
  const hostBytes = (name: string, help: string, pick: (h: Host) => { total: number; free: number }): void => {
    new Gauge({
      name,
      help,
      labelNames: ['source', 'host', 'state'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const [source, snap] of Object.entries(current().sources)) {
          for (const h of snap.hosts ?? []) {
            const b = pick(h)
            this.set({ source, host: h.name, state: 'total' }, b.total)
            this.set({ source, host: h.name, state: 'free' }, b.free)
          }
        }
      },
    })
  }
  hostBytes('taskos_host_memory_bytes', "Memory of the node's machine.", (h) => h.memory)
  hostBytes('taskos_host_disk_bytes', "Disk of the node's working directory.", (h) => h.disk)
  return { registry }
}
