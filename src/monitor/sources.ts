/**
 * What the monitor watches: kernels, pools, bosses (batch runs) and cluster clients. Each source is
 * read only through its `stats()` and its events; this module turns them into one summary shape
 * (so the dashboard and `/metrics` treat every kind alike) and into JSON-safe event records.
 * @module
 */
import { Kernel, TaskosError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { Pool } from '../pool/index.js'
import { Boss } from '../batch/index.js'
import { Cluster } from '../cluster/index.js'
import type { HostInfo } from '../cluster/index.js'

/** Anything the monitor can watch. */
export type MonitorSource = Kernel | Pool | Boss | Cluster

/** The kind of a source: `batch` is a `Boss`. */
export type SourceKind = 'kernel' | 'pool' | 'batch' | 'cluster'

/** The numbers every kind of source has, read from its `stats()`. */
export interface SourceSummary {
  readonly kind: SourceKind
  /** Tasks (jobs) running now. */
  readonly running: number
  /** Waiting for a worker, slot or turn (kernel: generator tasks ready to run). */
  readonly queued: number
  /** Ended since the source started, by outcome. */
  readonly done: number
  readonly failed: number
  readonly crashed: number
  readonly cancelled: number
  /** Workers (pool), slots (batch, cluster); undefined for a kernel. */
  readonly capacity: number | undefined
  /** Idle workers or free slots; undefined for a kernel. */
  readonly free: number | undefined
}

/** One source's state at one moment: its summary, and its own `stats()` as it gave them. */
export interface SourceSnapshot {
  readonly summary: SourceSummary
  readonly stats: unknown
  /** The cluster's nodes (cluster sources only). */
  readonly hosts?: readonly HostInfo[]
}

/** An event of a source, as the monitor keeps and streams it. */
export interface MonitorEventRecord {
  /** ms since the epoch. */
  readonly time: number
  /** The name the source was given. */
  readonly source: string
  /** The source's event type (`host-down`, `worker-exit`, `job-finished`, …). */
  readonly type: string
  /** One line for people. */
  readonly text: string
}

/** The kind of a source, or an ERR_INVALID_ARGUMENT naming what it got. */
export function kindOf(source: unknown, name: string): SourceKind {
  if (source instanceof Pool) return 'pool'
  if (source instanceof Boss) return 'batch'
  if (source instanceof Cluster) return 'cluster'
  if (source instanceof Kernel) return 'kernel'
  throw new TaskosError(
    'ERR_INVALID_ARGUMENT',
    `invalid source ${name}: ${describe(source)} (expected a Kernel, Pool, Boss or Cluster)`,
  )
}

/** Reads a source now. */
export function snapshot(source: MonitorSource): SourceSnapshot {
  if (source instanceof Pool) {
    const s = source.stats()
    return {
      summary: {
        kind: 'pool',
        running: s.running,
        queued: s.queued,
        done: s.completed,
        failed: s.failed,
        crashed: s.crashed,
        cancelled: s.cancelled,
        capacity: s.workers,
        free: s.workers - s.busy,
      },
      stats: s,
    }
  }
  if (source instanceof Boss) {
    const s = source.stats()
    return {
      summary: {
        kind: 'batch',
        running: s.running,
        queued: s.pending,
        done: s.done + s.skipped,
        failed: s.failed,
        crashed: s.crashed,
        cancelled: s.cancelled,
        capacity: s.slots,
        free: Math.max(0, s.slots - s.running),
      },
      stats: s,
    }
  }
  if (source instanceof Cluster) {
    // the whole cluster as its nodes' pulses tell it (every client's tasks): running, done,
    // failed; what only this client knows: its queue, the tasks it lost with a node, cancellations
    const s = source.stats()
    const hosts = source.hosts()
    let running = 0
    let done = 0
    let failed = 0
    for (const h of hosts) {
      if (h.responsive) running += h.running
      done += h.completed
      failed += h.failed
    }
    return {
      summary: { kind: 'cluster', running, queued: s.queued, done, failed, crashed: s.crashed, cancelled: s.cancelled, capacity: s.slots, free: s.freeSlots },
      stats: s,
      hosts,
    }
  }
  const s = source.stats()
  return {
    summary: {
      kind: 'kernel',
      running: s.tasks.running,
      queued: s.ready,
      done: s.tasks.done,
      failed: s.tasks.failed,
      crashed: s.tasks.crashed,
      cancelled: s.tasks.cancelled,
      capacity: undefined,
      free: undefined,
    },
    stats: s,
  }
}

/**
 * Subscribes to the events of a source worth keeping: crashes, hosts coming and going, retries,
 * memory overruns, signals. Never to per-task events (a boss builds a report for each
 * `job-finished` only when someone listens: the monitor must not cost every job something), and
 * never to a kernel's `unobserved-failure` (listening to it replaces the process warning: watching
 * must not change behaviour). Failures show in the counts. Gives the unsubscribe function.
 */
export function watchEvents(name: string, source: MonitorSource, emit: (record: MonitorEventRecord) => void): () => void {
  const record = (type: string, text: string): void => emit({ time: Date.now(), source: name, type, text })
  const offs: (() => void)[] = []
  if (source instanceof Pool) {
    offs.push(
      source.on('worker-exit', (e) =>
        record(e.type, `worker ${e.worker} exited (${e.reason}${e.exitCode === undefined ? '' : `, code ${e.exitCode}`}${e.signal === undefined ? '' : `, ${e.signal}`})`),
      ),
    )
  } else if (source instanceof Boss) {
    offs.push(
      source.on('job-retry', (e) => record(e.type, `job ${e.job.name}, attempt ${e.job.attempt}${e.job.error === undefined ? '' : `: ${firstLine(e.job.error)}`}; runs again in ${e.delayMs} ms`)),
      source.on('memory-exceeded', (e) => record(e.type, `job ${e.job.name} peaked at ${e.peakRssBytes} bytes (declared ${e.memory})`)),
      source.on('signal', (e) => record(e.type, `${e.signal}: ${e.action === 'drain' ? 'draining (running jobs finish, no new ones)' : 'killing running jobs'}`)),
    )
  } else if (source instanceof Cluster) {
    offs.push(
      source.on('host-up', (e) => record(e.type, `node ${e.host.name} up (${e.host.slots} slots)`)),
      source.on('host-down', (e) => record(e.type, `node ${e.host.name} down: ${e.reason}`)),
      source.on('disconnect', (e) => record(e.type, 'disconnected from NATS')),
      source.on('reconnect', (e) => record(e.type, 'reconnected to NATS')),
    )
  }
  return () => {
    for (const off of offs) off()
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : typeof error === 'object' && error !== null && 'message' in error ? String((error).message) : String(error)
  return text.split('\n')[0]!.slice(0, 300)
}
