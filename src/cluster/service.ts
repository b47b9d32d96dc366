/**
 * Remote services (pycos RPS) on the NATS micro-services protocol, implemented on nats-core (the
 * `@nats-io/services` package exists only as a prerelease bound to an older core), so standard
 * tooling sees them: `nats micro ls|info|stats <name>`.
 *
 * - endpoints: subject `<name>.<endpoint>`, queue group `q` (instances share the load); request
 *   and reply bodies are JSON (so any NATS client can call them); a handler's error is replied with
 *   the headers `Nats-Service-Error` (message) and `Nats-Service-Error-Code` (500, or the error's
 *   numeric `status`).
 * - discovery: `$SRV.{PING,INFO,STATS}`, `$SRV.<verb>.<name>` and `$SRV.<verb>.<name>.<id>` answer
 *   `io.nats.micro.v1.{ping,info,stats}_response` JSON documents.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import { TaskosError, TimeoutError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { core, uid } from './nats.js'

/** A service's endpoints: each gets the decoded JSON request and returns (or resolves to) the reply. */
export type ServiceHandlers = Record<string, (request: unknown) => unknown>

/** Options of `cluster.serve`. */
export interface ServeOptions {
  /** Semantic version reported to tooling. @default '0.0.1' */
  version?: string
  /** @default '' */
  description?: string
  /** Metadata reported to tooling. @default {} */
  metadata?: Record<string, string>
}

/** Per-endpoint counters (the micro protocol's stats). */
export interface EndpointStats {
  name: string
  subject: string
  queue_group: string
  num_requests: number
  num_errors: number
  last_error: string
  processing_time: number
  average_processing_time: number
}

const NAME = /^[A-Za-z0-9_-]+$/
const enc = new TextEncoder()
const dec = new TextDecoder()

/** A running service instance; `stop()` removes it. */
export class ServiceInstance {
  readonly name: string
  readonly id = uid()
  readonly version: string
  readonly #subs: Subscription[] = []
  readonly #stats: EndpointStats[] = []
  readonly #started = new Date().toISOString()
  readonly #description: string
  readonly #metadata: Record<string, string>

  /** @internal */
  constructor(nc: NatsConnection, name: string, handlers: ServiceHandlers, o: ServeOptions) {
    if (!NAME.test(name)) throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid service name: ${describe(name)} (expected letters, digits, '-' or '_')`)
    const entries = Object.entries(handlers ?? {})
    if (entries.length === 0 || entries.some(([k, h]) => !NAME.test(k) || typeof h !== 'function')) {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid service handlers for ${name}: expected { endpoint: (request) => reply, … } with names of letters, digits, '-' or '_'`)
    }
    this.name = name
    this.version = o.version ?? '0.0.1'
    this.#description = o.description ?? ''
    this.#metadata = o.metadata ?? {}
    for (const [endpoint, handler] of entries) {
      const stats: EndpointStats = { name: endpoint, subject: `${name}.${endpoint}`, queue_group: 'q', num_requests: 0, num_errors: 0, last_error: '', processing_time: 0, average_processing_time: 0 }
      this.#stats.push(stats)
      this.#subs.push(nc.subscribe(stats.subject, { queue: 'q', callback: (err, msg) => void (err === null && this.#handle(msg, handler, stats)) }))
    }
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${name}`, `$SRV.${verb}.${name}.${this.id}`]) {
        this.#subs.push(nc.subscribe(subject, { callback: (err, msg) => void (err === null && msg.respond(enc.encode(JSON.stringify(this.#discovery(verb))))) }))
      }
    }
  }

  #handle(msg: Msg, handler: (request: unknown) => unknown, stats: EndpointStats): void {
    const t0 = process.hrtime.bigint()
    stats.num_requests++
    const fail = (error: unknown): void => {
      stats.num_errors++
      stats.last_error = error instanceof Error ? error.message : String(error)
      const h = core().headers()
      h.set('Nats-Service-Error', stats.last_error)
      const status = (error as { status?: unknown } | null)?.status
      h.set('Nats-Service-Error-Code', String(typeof status === 'number' ? status : 500))
      msg.respond(undefined, { headers: h })
    }
    const done = (): void => {
      stats.processing_time += Number(process.hrtime.bigint() - t0)
      stats.average_processing_time = Math.round(stats.processing_time / stats.num_requests)
    }
    let request: unknown
    try {
      request = msg.data.length === 0 ? undefined : JSON.parse(dec.decode(msg.data))
    } catch {
      request = dec.decode(msg.data) // not JSON: the text as it is
    }
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (reply) => {
          done()
          msg.respond(enc.encode(JSON.stringify(reply ?? null)))
        },
        (error: unknown) => {
          done()
          fail(error)
        },
      )
  }

  #discovery(verb: 'PING' | 'INFO' | 'STATS'): Record<string, unknown> {
    const base = { name: this.name, id: this.id, version: this.version, metadata: this.#metadata }
    if (verb === 'PING') return { type: 'io.nats.micro.v1.ping_response', ...base }
    if (verb === 'INFO') {
      return {
        type: 'io.nats.micro.v1.info_response',
        ...base,
        description: this.#description,
        endpoints: this.#stats.map((s) => ({ name: s.name, subject: s.subject, queue_group: s.queue_group, metadata: {} })),
      }
    }
    return { type: 'io.nats.micro.v1.stats_response', ...base, started: this.#started, endpoints: this.stats() }
  }

  /** Per-endpoint counters. */
  stats(): EndpointStats[] {
    return this.#stats.map((s) => ({ ...s }))
  }

  /** Stops serving (requests in progress still get their reply). */
  stop(): void {
    for (const s of this.#subs) s.unsubscribe()
  }
}

/** A client of a named service: `call(endpoint, request)` → the reply of one of its instances. */
export class ServiceClient {
  readonly name: string
  readonly #nc: NatsConnection
  readonly #timeout: number

  /** @internal */
  constructor(nc: NatsConnection, name: string, timeout: number) {
    if (!NAME.test(name)) throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid service name: ${describe(name)} (expected letters, digits, '-' or '_')`)
    this.#nc = nc
    this.name = name
    this.#timeout = timeout
  }

  /**
   * Calls an endpoint with a JSON-able request.
   * @throws ERR_TASK_FAILED with the service's error message (and `status`); ERR_UNKNOWN_NAME when
   *   no instance serves it; ERR_TIMEOUT after `timeout` ms.
   */
  async call<R = unknown>(endpoint: string, request?: unknown, options: { timeout?: number } = {}): Promise<R> {
    const timeout = options.timeout ?? this.#timeout
    let reply: Msg
    try {
      reply = await this.#nc.request(`${this.name}.${endpoint}`, enc.encode(JSON.stringify(request ?? null)), { timeout })
    } catch (error) {
      const message = (error as Error).message
      if (/no responders/i.test(message) || (error as { isNoResponders?: () => boolean }).isNoResponders?.() === true) {
        throw new TaskosError('ERR_UNKNOWN_NAME', `no instance of service ${this.name} serves ${endpoint}`, { cause: error })
      }
      if (/timeout/i.test(message)) throw new TimeoutError(`service ${this.name}.${endpoint} did not answer within ${timeout} ms`, timeout, { cause: error })
      throw error
    }
    const failure = reply.headers?.get('Nats-Service-Error')
    if (failure) {
      const error = new TaskosError('ERR_TASK_FAILED', `service ${this.name}.${endpoint} failed: ${failure}`)
      Object.defineProperty(error, 'status', { value: Number(reply.headers?.get('Nats-Service-Error-Code') ?? 500), enumerable: true })
      throw error
    }
    return (reply.data.length === 0 ? undefined : JSON.parse(dec.decode(reply.data))) as R
  }

  /** Instances answering a ping now (ids and versions). */
  async ping(wait = 200): Promise<{ id: string; version: string }[]> {
    const inbox = `_INBOX.${uid()}`
    const found: { id: string; version: string }[] = []
    const sub = this.#nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err === null) found.push(JSON.parse(dec.decode(msg.data)) as { id: string; version: string })
      },
    })
    this.#nc.publish(`$SRV.PING.${this.name}`, undefined, { reply: inbox })
    await new Promise((r) => setTimeout(r, wait))
    sub.unsubscribe()
    return found.map((p) => ({ id: p.id, version: p.version }))
  }
}
