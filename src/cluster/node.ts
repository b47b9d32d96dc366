/**
 * A cluster node: runs remote tasks in its own taskos Pool (one slot = one worker), announces
 * itself and publishes a status pulse from its main thread, and serves the fast path (core NATS
 * batches) and the durable path (the JetStream work queue, with in-progress acks while tasks run).
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, hostname } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { CancelledError, Emitter, HostLostError, TaskosError } from '../kernel/index.js'
import type { Listener } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { Pool } from '../pool/index.js'
import type { PoolTask } from '../pool/index.js'
import { serializeError } from '../pool/serialize-error.js'
import { connectNats, validateConnection } from './connect.js'
import type { ConnectionOptions } from './connect.js'
import { CRASHED, FAILED, OK, PROGRESS, STARTED, decode, encode, subjects } from './protocol.js'
import { holdsLarge, resultBatch, runSpecs } from './protocol.js'
import type { CodeRef, Control, Payload, Pulse, ResultSpec, RunBatch, Subjects, TaskSpec, WorkItem } from './protocol.js'
import { StatusSampler } from './status.js'
import { Reassembler, isChunk, toChunks } from './chunks.js'
import type { Chunk } from './chunks.js'
import { Store } from './store.js'
import { loadJetStream, uid } from './nats.js'
import { parseSize } from './size.js'
import { clusterRun, clusterRunGenerator } from './runner.js'
import type { RunnerRef } from './runner.js'
import type { AddressMarker } from './address.js'

/** Options of {@link Node.start}. */
export interface NodeOptions extends ConnectionOptions {
  /** Worker slots (one slot = one pool worker). @default os.availableParallelism() */
  slots?: number
  /** This node's name in `cluster.hosts()`. @default the host name and process id */
  nodeName?: string
  /** Tags a spawn can require (`{ tags: ['gpu'] }`). @default [] */
  tags?: readonly string[]
  /** Memory this node offers (bytes or '16GiB'); spawns asking for more skip it. @default os.totalmem() */
  memory?: number | string
  /** Status pulse period in ms; a node missing 3 pulses is down. @default 1000 */
  pulseInterval?: number
  /** Where code bundles are cached. @default ./node_modules/.cache/taskos-cluster when ./node_modules exists, else a temp dir */
  cacheDir?: string
  /** Pool workers: threads (shared process) or processes (crash isolation). @default 'thread' */
  isolation?: 'thread' | 'process'
  /** Take durable tasks from the JetStream work queue too. @default true */
  durable?: boolean
  /** JetStream replicas of the work queue and Object Store bucket (3 on a 3-server cluster). @default 1 */
  replicas?: number
}

/** A snapshot of a node's counters. */
export interface NodeStats {
  id: string
  name: string
  slots: number
  running: number
  completed: number
  failed: number
  durable: number
}

/** Events of a node. */
export type NodeEvent =
  | { readonly type: 'task-start'; readonly client: string; readonly id: number }
  | { readonly type: 'task-end'; readonly client: string; readonly id: number; readonly ok: boolean }
  | { readonly type: 'error'; readonly error: unknown }

const DEFAULTS = Object.freeze({
  pulseInterval: 1000,
  isolation: 'thread' as const,
  durable: true,
  replicas: 1,
  ackWait: 2000,
})

/** How long (ms) a stopping node still takes tasks after its goodbye (batches already sent to it). */
const BYE_GRACE = 100

/** Durable tasks a node asks for in one pull, per slot. */
const DURABLE_AHEAD = 64

/** Results kept for clients that reconnect (the most recent ones, all clients together). */
const RECENT_RESULTS = 20_000

interface Running {
  readonly client: string
  readonly id: number
  readonly fence: number
  task: PoolTask<unknown> | undefined
  mail: unknown[] | undefined
  cancelled: unknown
  readonly msg: JsMsg | undefined
}

/** Stream and consumer names of a cluster's durable work queue. */
export function workQueueNames(name: string): { stream: string; consumer: string; bucket: string } {
  return { stream: `TASKOS_${name}_WORK`, consumer: 'nodes', bucket: `taskos_${name}` }
}

/**
 * Creates the durable work queue stream and its shared consumer when missing. Retries a few times:
 * right after a NATS cluster starts (or loses a server) JetStream may time out while it elects leaders.
 */
export async function ensureWorkQueue(nc: NatsConnection, name: string, replicas: number, ackWait: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createWorkQueue(nc, name, replicas, ackWait)
    } catch (error) {
      if (attempt >= 4 || nc.isClosed()) throw error
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt))
    }
  }
}

async function createWorkQueue(nc: NatsConnection, name: string, replicas: number, ackWait: number): Promise<void> {
  const { AckPolicy, RetentionPolicy, jetstreamManager } = await loadJetStream()
  const jsm = await jetstreamManager(nc)
  const { stream, consumer } = workQueueNames(name)
  const s = subjects(`taskos.${name}`)
  try {
    await jsm.streams.info(stream)
  } catch {
    await jsm.streams.add({ name: stream, subjects: [s.work], retention: RetentionPolicy.Workqueue, num_replicas: replicas })
  }
  try {
    await jsm.consumers.info(stream, consumer)
  } catch {
    await jsm.consumers.add(stream, {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWait * 1_000_000,
      max_deliver: -1,
      max_ack_pending: 100_000,
    })
  }
}


/**
 * A cluster node. Start one per machine with `taskos node --servers nats://…`, or in code.
 * @example
 * const node = await Node.start({ servers: 'nats://127.0.0.1:4222', slots: 4 })
 * // … later
 * await node.close()     // drains running tasks, then leaves
 */
export class Node {
  readonly id: string
  readonly name: string
  readonly #nc: NatsConnection
  readonly #s: Subjects
  readonly #pool: Pool
  readonly #store: Store
  readonly #slots: number
  readonly #tags: readonly string[]
  readonly #memory: number
  readonly #interval: number
  readonly #cacheDir: string
  readonly #sampler: StatusSampler
  readonly #events = new Emitter<NodeEvent>()
  readonly #running = new Map<string, Running>()
  readonly #byTask = new Map<PoolTask<unknown>, Running>()
  readonly #code = new Map<string, Promise<string>>()
  readonly #codeReady = new Map<string, string>()
  readonly #outbox = new Map<string, ResultSpec[]>()
  readonly #chunks = new Reassembler()
  readonly #recent = new Map<string, ResultSpec>()
  #acks: JsMsg[] = []
  #idle: (() => void) | undefined
  readonly #subs: Subscription[] = []
  readonly #started = Date.now()
  #flushScheduled = false
  #pulseTimer: NodeJS.Timeout | undefined
  #ackTimer: NodeJS.Timeout | undefined
  #consumer: ConsumerMessages | undefined
  #status: ReturnType<StatusSampler['sample']>
  #closing: Promise<void> | undefined
  #completed = 0
  #failed = 0
  #durableCount = 0

  private constructor(nc: NatsConnection, o: NodeOptions & { slots: number }, id: string) {
    this.#nc = nc
    this.id = id
    this.name = o.nodeName ?? `${hostname()}-${process.pid}`
    const clusterName = o.name ?? 'default'
    this.#s = subjects(`taskos.${clusterName}`)
    this.#slots = o.slots
    this.#tags = o.tags ?? []
    this.#memory = o.memory === undefined ? Number.MAX_SAFE_INTEGER : parseSize(o.memory, 'memory')
    this.#interval = o.pulseInterval ?? DEFAULTS.pulseInterval
    this.#cacheDir = o.cacheDir ?? defaultCacheDir()
    mkdirSync(this.#cacheDir, { recursive: true })
    this.#sampler = new StatusSampler(this.#cacheDir)
    this.#status = this.#sampler.sample()
    // the pool's workers connect with the same settings when a task sends to an address
    process.env.TASKOS_CLUSTER_CONNECTION = JSON.stringify(workerConnection(o))
    this.#pool = new Pool({ workers: o.slots, isolation: o.isolation ?? DEFAULTS.isolation })
    this.#store = new Store(nc, workQueueNames(clusterName).bucket, o.replicas ?? DEFAULTS.replicas)
    this.#pool.on('progress', ({ task, done, total }) => {
      const r = this.#byTask.get(task)
      if (r !== undefined) this.#emit(r.client, [r.id, r.fence, PROGRESS, [done, total], 0])
    })
  }

  /**
   * Connects to NATS and starts serving: the node is in `cluster.hosts()` once its first pulse is seen.
   * @throws ERR_INVALID_OPTION for a bad option; ERR_AUTH when NATS refuses the credentials;
   *   ERR_CONNECT when no server answers or the TLS handshake fails.
   */
  static async start(options: NodeOptions = {}): Promise<Node> {
    validateConnection(options)
    const slots = options.slots ?? availableParallelism()
    if (!Number.isSafeInteger(slots) || slots < 1) throw new TaskosError('ERR_INVALID_OPTION', `invalid option slots: ${describe(slots)} (expected an integer >= 1)`)
    if (options.pulseInterval !== undefined && !(typeof options.pulseInterval === 'number' && options.pulseInterval >= 10)) {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid option pulseInterval: ${describe(options.pulseInterval)} (expected ms >= 10)`)
    }
    if (options.tags !== undefined && (!Array.isArray(options.tags) || options.tags.some((t) => typeof t !== 'string'))) {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid option tags: ${describe(options.tags)} (expected an array of strings)`)
    }
    if (options.memory !== undefined) parseSize(options.memory, 'memory')
    const id = uid()
    const nc = await connectNats(options, `taskos-node-${id}`)
    const node = new Node(nc, { ...options, slots }, id)
    try {
      await node.#serve(options)
    } catch (error) {
      await node.destroy()
      throw error
    }
    return node
  }

  async #serve(o: NodeOptions): Promise<void> {
    const s = this.#s
    this.#subs.push(this.#nc.subscribe(s.run(this.id), { callback: (err, msg) => void (err === null && this.#onRun(msg)) }))
    this.#subs.push(this.#nc.subscribe(s.ctl(this.id), { callback: (err, msg) => void (err === null && this.#onControl(msg)) }))
    this.#subs.push(this.#nc.subscribe(s.alive(this.id), { callback: () => undefined }))
    this.#subs.push(this.#nc.subscribe(s.discover, { callback: (err, msg) => void (err === null && msg.respond(encode(this.#pulse()))) }))
    await this.#nc.flush()
    if (o.durable ?? DEFAULTS.durable) await this.#consumeDurable(o.name ?? 'default', o.replicas ?? DEFAULTS.replicas)
    this.#publishPulse()
    this.#pulseTimer = setInterval(() => this.#publishPulse(), this.#interval)
  }

  // ---- pulses ----------------------------------------------------------------------------------

  #pulse(): Pulse {
    const running = this.#running.size
    return {
      id: this.id,
      name: this.name,
      hostname: hostname(),
      pid: process.pid,
      slots: this.#slots,
      freeSlots: Math.max(0, this.#slots - running),
      running,
      completed: this.#completed,
      failed: this.#failed,
      ...this.#status,
      tags: this.#tags,
      maxMemory: this.#memory,
      started: this.#started,
      interval: this.#interval,
    }
  }

  #publishPulse(): void {
    this.#status = this.#sampler.sample()
    if (!this.#nc.isClosed()) this.#nc.publish(this.#s.pulse(this.id), encode(this.#pulse()))
  }

  // ---- running tasks ---------------------------------------------------------------------------

  #onRun(msg: Msg): void {
    if (this.#closing !== undefined && this.#nc.isClosed()) return
    let batch: RunBatch | Chunk
    try {
      batch = decode<RunBatch | Chunk>(msg.data)
    } catch (error) {
      this.#events.emit({ type: 'error', error })
      return
    }
    if (isChunk(batch)) return this.#chunks.add(batch)
    for (const spec of runSpecs(batch)) this.#start(batch.c, spec, undefined)
  }

  #start(client: string, spec: TaskSpec, msg: JsMsg | undefined): void {
    const [id, fence, code, args] = spec
    const key = `${client}:${id}`
    const previous = this.#running.get(key)
    if (previous !== undefined) {
      if (previous.fence >= fence) return // a duplicate delivery of an attempt that runs here
      previous.task?.cancel(new CancelledError('superseded by a newer attempt'))
    }
    const r: Running = { client, id, fence, task: undefined, mail: undefined, cancelled: undefined, msg }
    this.#running.set(key, r)
    this.#events.emit({ type: 'task-start', client, id })
    if (msg !== undefined) this.#emit(client, [id, fence, STARTED, undefined, 0])
    const fn = this.#fn(code)
    const a = this.#args(args)
    if (!(fn instanceof Promise) && !(a instanceof Promise)) this.#run(r, fn, a)
    else {
      Promise.all([fn, a]).then(
        ([f, a]) => this.#run(r, f, a),
        (error: unknown) => this.#end(r, FAILED, serializeError(error)),
      )
    }
  }

  /** A task's arguments as the pool's worker takes them: the array itself, or serialized bytes. */
  #args(args: TaskSpec[3]): unknown[] | Uint8Array | Promise<Uint8Array> {
    if (Array.isArray(args)) return args
    // a copy: decoded from a batch, the bytes are a view of the whole socket read buffer, which
    // the pool would otherwise clone in full for every task it posts to a worker
    if (args instanceof Uint8Array) return args.slice()
    const payload = args as Payload
    return ('c' in payload ? this.#chunks.take(payload.c) : undefined) ?? this.#store.get(payload)
  }

  #run(r: Running, ref: RunnerRef, args: unknown[] | Uint8Array): void {
    if (this.#running.get(`${r.client}:${r.id}`) !== r) return
    if (r.cancelled !== undefined) return this.#end(r, FAILED, serializeError(r.cancelled))
    let task: PoolTask<unknown>
    try {
      const self: AddressMarker = { __taskosAddress: this.#s.mail(r.client, r.id), id: r.id, name: undefined }
      task = ref[2] === 1 ? this.#pool.run(clusterRunGenerator, [ref, args, self]) : this.#pool.run(clusterRun, [ref, args, self])
    } catch (error) {
      return this.#end(r, FAILED, serializeError(error))
    }
    r.task = task
    this.#byTask.set(task, r)
    if (r.mail !== undefined) for (const m of r.mail) task.send(m)
    r.mail = undefined
    task.then(
      (value) => this.#end(r, OK, value),
      (error: unknown) => {
        const crashed = task.status === 'crashed'
        this.#end(r, crashed ? CRASHED : FAILED, serializeError(error))
      },
    )
  }

  #end(r: Running, kind: number, value: unknown): void {
    const key = `${r.client}:${r.id}`
    if (this.#running.get(key) === r) this.#running.delete(key)
    if (this.#running.size === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      queueMicrotask(idle) // after this result is queued for its client
    }
    if (r.task !== undefined) this.#byTask.delete(r.task)
    if (kind === OK) this.#completed++
    else this.#failed++
    this.#events.emit({ type: 'task-end', client: r.client, id: r.id, ok: kind === OK })
    const send = (payload: unknown, encoded: 0 | 1): void => {
      this.#emit(r.client, [r.id, r.fence, kind, payload, encoded])
      // kept a while: a client that lost its connection asks for it again (resync)
      this.#recent.set(key, [r.id, r.fence, kind, payload, encoded])
      if (this.#recent.size > RECENT_RESULTS) this.#recent.delete(this.#recent.keys().next().value!)
      // acked right after its result is published (in #flush): one connection keeps the order, so
      // the server has the result before the ack; a node dying earlier leaves it for redelivery
      if (r.msg !== undefined) this.#acks.push(r.msg)
    }
    // fast path: the value goes in its batch (large ones leave as chunk messages, at flush)
    if (r.msg === undefined) return send(value, 0)
    // durable path: serialized now, through the Object Store when large
    let bytes: Uint8Array
    try {
      bytes = encode(value)
    } catch (error) {
      kind = FAILED
      bytes = encode(serializeError(unsendable(r.id, error)))
    }
    if (bytes.byteLength <= this.#store.inlineLimit) send(bytes, 1)
    else {
      this.#store.put(bytes).then(
        (payload) => send(payload, 1),
        (error: unknown) => send(encode(serializeError(new TaskosError('ERR_SERIALIZATION', `cannot store the large result of task ${r.id}: ${(error as Error).message}`))), 1),
      )
    }
  }

  /** Queues a result for its client; every result of this turn goes out in one message per client. */
  #emit(client: string, result: ResultSpec): void {
    let list = this.#outbox.get(client)
    if (list === undefined) this.#outbox.set(client, (list = []))
    list.push(result)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      // with tasks still running, after this loop turn's I/O: results the pool's workers reported
      // in several messages of this turn leave together; with none, there is nothing to wait for
      if (this.#running.size === 0) queueMicrotask(() => this.#flush())
      else setImmediate(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    if (this.#nc.isClosed()) return
    const limit = this.#store.inlineLimit
    for (const [client, results] of this.#outbox) {
      const subject = this.#s.results(client)
      // every result of the batch in one serialization
      let bytes: Uint8Array | undefined
      try {
        bytes = results.some((r) => r[4] === 0 && holdsLarge(r[3], limit)) ? undefined : encode(resultBatch(this.id, results))
      } catch {
        bytes = undefined
      }
      if (bytes !== undefined && bytes.byteLength <= limit) {
        this.#nc.publish(subject, bytes)
        continue
      }
      // too large together, or a value V8 cannot serialize: one message per result, each value
      // serialized on its own, large ones as chunk messages published just before
      for (const result of results) {
        const [id, fence] = result
        let kind = result[2]
        let payload = result[3]
        if (result[4] === 0) {
          try {
            payload = encode(payload)
          } catch (error) {
            kind = FAILED
            payload = encode(serializeError(unsendable(id, error)))
          }
        }
        if (payload instanceof Uint8Array && payload.byteLength > limit) {
          const { key, messages } = toChunks(payload, limit)
          for (const m of messages) this.#nc.publish(subject, m)
          payload = { c: key }
        }
        this.#nc.publish(subject, encode(resultBatch(this.id, [[id, fence, kind, payload, 1]])))
      }
    }
    this.#outbox.clear()
    const acks = this.#acks
    this.#acks = []
    for (const m of acks) m.ack()
  }

  #fn(code: CodeRef): RunnerRef | Promise<RunnerRef> {
    if (code[0] === 's') return ['', code[1], code[2]]
    const [, hash, exportName, generator] = code
    let url = this.#code.get(hash)
    if (url === undefined) {
      url = this.#bundleFile(hash)
      url.catch(() => this.#code.delete(hash))
      this.#code.set(hash, url)
    }
    const ready = this.#codeReady.get(hash)
    if (ready !== undefined) return [ready, exportName, generator]
    return url.then((u) => {
      this.#codeReady.set(hash, u)
      return [u, exportName, generator] as const
    })
  }

  async #bundleFile(hash: string): Promise<string> {
    const file = join(this.#cacheDir, `${hash}.mjs`)
    if (!existsSync(file)) {
      const code = await this.#store.getCode(hash)
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, code)
      const { renameSync } = await import('node:fs')
      renameSync(tmp, file)
    }
    return pathToFileURL(file).href
  }

  #onControl(msg: Msg): void {
    let c: Control
    try {
      c = decode<Control>(msg.data)
    } catch {
      return
    }
    if (c.k === 'resync') {
      const missing: number[] = []
      for (const id of c.ids) {
        const key = `${c.c}:${id}`
        if (this.#running.has(key)) continue
        const kept = this.#recent.get(key)
        if (kept === undefined) missing.push(id)
        else this.#emit(c.c, [...kept])
      }
      msg.respond(encode({ missing }))
      return
    }
    const r = this.#running.get(`${c.c}:${c.id}`)
    if (r === undefined) return
    if (c.k === 'cancel') {
      const reason = new CancelledError(c.reason)
      if (r.task !== undefined) r.task.cancel(reason)
      else r.cancelled = reason
    } else {
      const data = c.data
      void (data instanceof Uint8Array ? Promise.resolve(data) : this.#store.get(data)).then((bytes) => {
        const message = decode<unknown>(bytes)
        if (r.task !== undefined) r.task.send(message)
        else (r.mail ??= []).push(message)
      })
    }
  }

  // ---- the durable path ------------------------------------------------------------------------

  async #consumeDurable(name: string, replicas: number): Promise<void> {
    await ensureWorkQueue(this.#nc, name, replicas, DEFAULTS.ackWait)
    const js = (await loadJetStream()).jetstream(this.#nc)
    const { stream, consumer } = workQueueNames(name)
    const c = await js.consumers.get(stream, consumer)
    // pulls of up to 64 tasks per slot: tiny tasks arrive in large batches (4 per slot gave about
    // half the jobs/s). The consumer pulls again as messages are delivered, so a node holds the
    // tasks it received until they end (their in-progress acks keep them), whatever the pull size
    const messages = await c.consume({ max_messages: this.#slots * DURABLE_AHEAD, callback: (m) => this.#onWork(m) })
    this.#consumer = messages
    // in-progress acks from this (main) thread while tasks run on the pool: a blocked task
    // does not look dead; a killed node stops acking and its messages are redelivered
    this.#ackTimer = setInterval(() => {
      for (const r of this.#running.values()) r.msg?.working()
    }, DEFAULTS.ackWait / 3)
  }

  #onWork(m: JsMsg): void {
    let item: WorkItem
    try {
      item = decode<WorkItem>(m.data)
    } catch {
      m.term('undecodable')
      return
    }
    this.#durableCount++
    const attempt = m.info.deliveryCount
    const spec: TaskSpec = [item.task[0], attempt, item.task[2], item.task[3], item.task[4]]
    if (attempt > item.retries + 1) {
      const error = new HostLostError(`task ${spec[0]} was lost with its node ${attempt - 1} time(s) (retries: ${item.retries})`)
      this.#emit(item.c, [spec[0], attempt, CRASHED, serializeError(error), 0])
      this.#nc.flush().then(() => m.term('retries exhausted'), () => undefined) // rare: a flush is fine
      return
    }
    this.#start(item.c, spec, m)
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Subscribes to node events. */
  on<K extends NodeEvent['type']>(type: K, listener: Listener<NodeEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Counters of this node. */
  stats(): NodeStats {
    return { id: this.id, name: this.name, slots: this.#slots, running: this.#running.size, completed: this.#completed, failed: this.#failed, durable: this.#durableCount }
  }

  /** Stops taking work, finishes running tasks, says goodbye, then disconnects. */
  close(): Promise<void> {
    this.#closing ??= this.#stop(true)
    return this.#closing
  }

  /** Stops now: running tasks are cancelled (durable ones will run again elsewhere). */
  destroy(): Promise<void> {
    this.#closing ??= this.#stop(false)
    return this.#closing
  }

  async #stop(drain: boolean): Promise<void> {
    clearInterval(this.#pulseTimer)
    await this.#consumer?.close().catch(() => undefined)
    if (!this.#nc.isClosed()) this.#nc.publish(this.#s.bye(this.id), encode({ id: this.id, drain }))
    if (drain) {
      // clients stop placing work here once they see the goodbye; batches already on their way
      // still run. Tasks arriving later are re-run elsewhere (the client sees this node go).
      await new Promise((resolve) => setTimeout(resolve, BYE_GRACE))
      this.#subs[0]?.unsubscribe()
      while (this.#running.size > 0) await new Promise<void>((resolve) => (this.#idle = resolve))
      await this.#pool.close()
    } else {
      for (const r of this.#running.values()) r.msg?.nak()
      await this.#pool.destroy()
    }
    clearInterval(this.#ackTimer)
    this.#flush()
    if (!this.#nc.isClosed()) await this.#nc.drain().catch(() => undefined)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function unsendable(id: number, error: unknown): TaskosError {
  return new TaskosError('ERR_SERIALIZATION', `the result of task ${id} cannot be sent back: ${(error as Error).message}`, { cause: error })
}

function workerConnection(o: NodeOptions): ConnectionOptions {
  const keys = ['servers', 'name', 'timeout', 'token', 'user', 'pass', 'nkeySeed', 'credsFile', 'tls'] as const
  const out: Record<string, unknown> = {}
  for (const key of keys) if (o[key] !== undefined) out[key] = o[key]
  return out
}

function defaultCacheDir(): string {
  const local = join(process.cwd(), 'node_modules')
  if (existsSync(local)) return join(local, '.cache', 'taskos-cluster')
  return join(process.env.TMPDIR ?? '/tmp', 'taskos-cluster-cache')
}
