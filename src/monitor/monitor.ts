/**
 * `Monitor`: watches kernels, pools, batch runs and cluster clients through their `stats()` and
 * events, keeps a history of samples (throughput over time) and the notable events, and serves
 * them over HTTP: a dashboard, a JSON API, a Server-Sent Events stream and `/metrics` for
 * Prometheus. It binds to 127.0.0.1 unless told otherwise, and every route is read-only.
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TaskosError, realClock } from '../kernel/index.js'
import type { Clock, TimerHandle } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { DASHBOARD_HTML, DASHBOARD_JS } from './dashboard.js'
import type { MonitorMetrics } from './metrics.js'
import { kindOf, snapshot, watchEvents } from './sources.js'
import type { MonitorEventRecord, MonitorSource, SourceKind, SourceSnapshot, SourceSummary } from './sources.js'

/** Options of {@link Monitor}. */
export interface MonitorOptions {
  /** Address to bind. Anything but loopback exposes the stats to the network. @default '127.0.0.1' */
  host?: string
  /** TCP port; 0 picks a free one (read `url` after `listen()`). @default 0 */
  port?: number
  /** Sampling period (ms) of the history and the live stream. @default 1000 */
  interval?: number
  /** Samples kept (the dashboard's throughput chart spans `history × interval`). @default 300 */
  history?: number
  /** Notable events kept for `/api/events`. @default 200 */
  events?: number
  /** Include the monitoring process's own metrics (CPU, memory, event loop lag, GC) in `/metrics`. @default true */
  processMetrics?: boolean
  /** The clock of the sampler (a `VirtualClock` in tests). @default realClock */
  clock?: Clock
}

/** One source in one sample: its summary numbers and its throughput since the previous sample. */
export interface SourceSample extends SourceSummary {
  /** Tasks (jobs) ended per second since the previous sample (or since the source was added). */
  readonly rate: number
}

/** A sample of every source. */
export interface MonitorSample {
  /** ms since the epoch. */
  readonly time: number
  readonly sources: Readonly<Record<string, SourceSample>>
}

/** Every source now: what `/api/snapshot` serves. */
export interface MonitorSnapshot {
  /** ms since the epoch. */
  readonly time: number
  readonly sources: Readonly<Record<string, SourceSnapshot>>
}

/** The monitor's own counters. */
export interface MonitorStats {
  readonly sources: number
  readonly samples: number
  readonly events: number
  /** Clients of the live stream now. */
  readonly streams: number
  /** HTTP requests served. */
  readonly requests: number
  readonly listening: boolean
}

const DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  interval: 1000,
  history: 300,
  events: 200,
  processMetrics: true,
})

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

interface Watched {
  readonly source: MonitorSource
  readonly kind: SourceKind
  readonly unwatch: () => void
  /** Ended tasks at the last sample (or when added), and the clock then (for the rate). */
  lastEnded: number
  lastAt: number
}

function positiveInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option ${name}: ${describe(value)} (expected an integer >= ${min})`)
  }
  return value
}

/**
 * Watches task sources and serves a dashboard, a JSON API and Prometheus metrics.
 *
 * Routes (all `GET`): `/` the dashboard; `/api/snapshot` every source now (its summary, its own
 * `stats()`, a cluster's hosts); `/api/history` the samples kept; `/api/events` the notable events
 * kept; `/api/stream` Server-Sent Events (`sample` each interval, `event` as they happen);
 * `/metrics` Prometheus text; `/healthz`.
 * @example
 * const monitor = new Monitor({ pool, batch: boss }, { port: 8642 })
 * console.log(await monitor.listen())   // http://127.0.0.1:8642/
 * …
 * await monitor.close()
 */
export class Monitor {
  readonly #o: Required<Omit<MonitorOptions, 'clock'>>
  readonly #clock: Clock
  readonly #sources = new Map<string, Watched>()
  readonly #samples: MonitorSample[] = []
  readonly #events: MonitorEventRecord[] = []
  readonly #streams = new Set<ServerResponse>()
  /** prom-client and the registry, loaded on the first scrape (importing taskos stays light). */
  #metrics: Promise<MonitorMetrics> | undefined
  #server: Server | undefined
  #url: string | undefined
  #timer: TimerHandle | undefined
  #requests = 0
  #closed = false

  /**
   * @param sources sources by name (letters, digits, `_`, `.`, `-`): each a `Kernel`, `Pool`,
   *   `Boss` or `Cluster`. More can be added with {@link Monitor.add}.
   * @throws ERR_INVALID_OPTION for a bad option; ERR_INVALID_ARGUMENT for a bad name or source.
   */
  constructor(sources: Readonly<Record<string, MonitorSource>> = {}, options: MonitorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid options: ${describe(options)} (expected an object)`)
    }
    const o = { ...DEFAULTS, ...options }
    if (typeof o.host !== 'string' || o.host === '') throw new TaskosError('ERR_INVALID_OPTION', `invalid option host: ${describe(o.host)} (expected an address)`)
    if (typeof o.port !== 'number' || !Number.isSafeInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid option port: ${describe(o.port)} (expected an integer 0..65535)`)
    }
    positiveInteger('interval', o.interval, 10)
    positiveInteger('history', o.history, 2)
    positiveInteger('events', o.events, 1)
    if (typeof o.processMetrics !== 'boolean') throw new TaskosError('ERR_INVALID_OPTION', `invalid option processMetrics: ${describe(o.processMetrics)} (expected a boolean)`)
    this.#o = { host: o.host, port: o.port, interval: o.interval, history: o.history, events: o.events, processMetrics: o.processMetrics }
    this.#clock = options.clock ?? realClock
    for (const [name, source] of Object.entries(sources)) this.add(name, source)
    this.#schedule()
  }

  /**
   * Watches one more source.
   * @throws ERR_INVALID_ARGUMENT for a bad name or a value that is not a source; ERR_NAME_TAKEN when
   *   the name is in use; ERR_CLOSED after `close()`.
   */
  add(name: string, source: MonitorSource): this {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', 'the monitor is closed')
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid source name: ${describe(name)} (expected letters, digits, '_', '.' or '-', at most 64)`)
    }
    if (this.#sources.has(name)) throw new TaskosError('ERR_NAME_TAKEN', `a source named ${name} is watched already`)
    const kind = kindOf(source, name)
    const unwatch = watchEvents(name, source, (record) => this.#onEvent(record))
    const s = snapshot(source).summary
    // the first sample's rate counts what ended after this, not the source's whole past
    this.#sources.set(name, { source, kind, unwatch, lastEnded: s.done + s.failed + s.crashed + s.cancelled, lastAt: this.#clock.now() })
    return this
  }

  /** Stops watching a source (its samples stay in the history). Gives whether it was watched. */
  remove(name: string): boolean {
    const watched = this.#sources.get(name)
    if (watched === undefined) return false
    watched.unwatch()
    this.#sources.delete(name)
    return true
  }

  /** The dashboard's URL once listening, e.g. `http://127.0.0.1:8642/`. */
  get url(): string | undefined {
    return this.#url
  }

  /**
   * Starts serving; resolves to the URL. Calling it again gives the same URL.
   * @throws ERR_CLOSED after `close()`; the server's error (EADDRINUSE, …) as a TaskosError
   *   `ERR_INVALID_STATE` naming the address.
   */
  async listen(): Promise<string> {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', 'the monitor is closed')
    if (this.#url !== undefined) return this.#url
    const { createServer } = await import('node:http') // loaded by the monitor only when it serves
    const server = createServer((req, res) => this.#handle(req, res))
    server.keepAliveTimeout = 5000
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new TaskosError('ERR_INVALID_STATE', `the monitor cannot listen on ${this.#o.host}:${this.#o.port}: ${error.message}`, { cause: error })),
      )
      server.listen(this.#o.port, this.#o.host, () => resolve())
    })
    this.#server = server
    const { address, port } = server.address() as AddressInfo
    this.#url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/`
    return this.#url
  }

  /** Every source now. */
  snapshot(): MonitorSnapshot {
    const sources: Record<string, SourceSnapshot> = {}
    for (const [name, w] of this.#sources) sources[name] = snapshot(w.source)
    return { time: Date.now(), sources }
  }

  /** The samples kept, oldest first. */
  history(): readonly MonitorSample[] {
    return [...this.#samples]
  }

  /** The notable events kept, oldest first. */
  events(): readonly MonitorEventRecord[] {
    return [...this.#events]
  }

  /** The Prometheus exposition text (what `/metrics` serves). */
  async metrics(): Promise<string> {
    return (await this.#registry()).registry.metrics()
  }

  #registry(): Promise<MonitorMetrics> {
    return (this.#metrics ??= import('./metrics.js').then((m) => m.createMetrics(() => this.snapshot(), this.#o.processMetrics)))
  }

  /** The monitor's own counters. */
  stats(): MonitorStats {
    return {
      sources: this.#sources.size,
      samples: this.#samples.length,
      events: this.#events.length,
      streams: this.#streams.size,
      requests: this.#requests,
      listening: this.#server !== undefined,
    }
  }

  /** Takes a sample now (the sampler does this every `interval`). */
  sample(): MonitorSample {
    const now = this.#clock.now()
    const sources: Record<string, SourceSample> = {}
    for (const [name, w] of this.#sources) {
      const s = snapshot(w.source).summary
      const ended = s.done + s.failed + s.crashed + s.cancelled
      const seconds = (now - w.lastAt) / 1000
      const rate = seconds <= 0 ? 0 : Math.max(0, ended - w.lastEnded) / seconds
      w.lastEnded = ended
      w.lastAt = now
      sources[name] = { ...s, rate }
    }
    const sample: MonitorSample = { time: Date.now(), sources }
    this.#samples.push(sample)
    if (this.#samples.length > this.#o.history) this.#samples.splice(0, this.#samples.length - this.#o.history)
    this.#broadcast('sample', sample)
    return sample
  }

  /** Stops sampling, ends the live streams and stops serving. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
    for (const w of this.#sources.values()) w.unwatch()
    for (const res of this.#streams) res.end()
    this.#streams.clear()
    const server = this.#server
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
    }
  }

  /** The same as `close()`: nothing the monitor holds needs draining. */
  async destroy(): Promise<void> {
    const server = this.#server
    const closing = this.close()
    server?.closeAllConnections()
    await closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #schedule(): void {
    if (this.#closed) return
    this.#timer = this.#clock.setTimer(this.#o.interval, () => {
      this.#timer = undefined
      if (this.#closed) return
      this.sample()
      this.#schedule()
    })
    // the sampler alone does not keep the process alive (a listening server does)
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  #onEvent(record: MonitorEventRecord): void {
    this.#events.push(record)
    if (this.#events.length > this.#o.events) this.#events.shift()
    this.#broadcast('event', record)
  }

  #broadcast(type: 'sample' | 'event', data: unknown): void {
    if (this.#streams.size === 0) return
    const frame = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`
    for (const res of this.#streams) res.write(frame)
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#requests++
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: `method ${req.method ?? ''} not allowed: the monitor is read-only` }))
      return
    }
    const path = new URL(req.url ?? '/', 'http://monitor').pathname
    switch (path) {
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML)
      case '/dashboard.js':
        return send(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS)
      case '/api/snapshot':
        return json(res, this.snapshot())
      case '/api/history':
        return json(res, { interval: this.#o.interval, samples: this.#samples })
      case '/api/events':
        return json(res, { events: this.#events })
      case '/api/stream':
        return this.#stream(res)
      case '/metrics':
        this.#registry().then(
          async ({ registry }) => send(res, 200, registry.contentType, await registry.metrics()),
          (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${(error as Error).message}\n`),
        )
        return
      case '/favicon.ico':
        res.writeHead(204, SECURITY_HEADERS)
        res.end()
        return
      case '/healthz':
        return send(res, 200, 'text/plain; charset=utf-8', 'ok\n')
      default:
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: `no route ${path}` }))
    }
  }

  #stream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.write(`retry: ${this.#o.interval}\n\n`)
    this.#streams.add(res)
    res.on('close', () => this.#streams.delete(res))
  }
}

const SECURITY_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'cache-control': 'no-store',
})

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function json(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(value))
}
