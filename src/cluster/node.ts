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
import { holdsLarge } from './protocol.js'
import type { CodeRef, Control, Payload, Pulse, ResultBatch, RunBatch, Subjects, TaskArgs, WorkItem } from './protocol.js'
import { StatusSampler } from './status.js'
import { Reassembler, isChunk, toChunks } from './chunks.js'
import type { Chunk } from './chunks.js'
import { Store } from './store.js'
import { loadJetStream, uid } from './nats.js'
import { parseSize } from './size.js'
import { clusterRun, clusterRunGenerator } from './runner.js'
import type { RunnerClient, RunnerRef } from './runner.js'

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

/** A task on this node, from its start until its result is queued. */
class Running {
  task: PoolTask<unknown> | undefined = undefined
  mail: unknown[] | undefined = undefined
  cancelled: unknown = undefined
  constructor(
    readonly client: ClientTasks,
    readonly id: number,
    readonly fence: number,
    readonly msg: JsMsg | undefined,
  ) {}
}

/** Results for one client in column form (a {@link ResultBatch} without the node id). */
interface Results {
  readonly ids: number[]
  readonly fences: number[]
  readonly kinds: number[]
  readonly values: unknown[]
  /** Indexes of the results whose value is a Payload (serialized). */
  enc: number[] | undefined
}

function noResults(): Results {
  return { ids: [], fences: [], kinds: [], values: [], enc: undefined }
}

/**
 * One client's tasks here: those running (by task id), the results of this turn (sent at the next
 * flush), and the batches of results sent lately, kept as they were sent for a resync.
 */
class ClientTasks {
  readonly running = new Map<number, Running>()
  out: Results = noResults()
  /** Its result batches sent lately, oldest first (the node keeps {@link RECENT_RESULTS} in all). */
  readonly kept: Results[] = []
  /** In the node's list of clients with results to flush. */
  queued = false
  /** What the runner needs of the client: its tasks' address subject without the id. */
  readonly runner: RunnerClient
  constructor(
    readonly id: string,
    mail: string,
  ) {
    this.runner = { mail }
  }
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
  /** Clients with tasks running here or results kept, by client id. */
  readonly #clients = new Map<string, ClientTasks>()
  /** Tasks running here (all clients). */
  #active = 0
  /** Running tasks by their pool task's id (progress events name the pool task). */
  readonly #byPoolId = new Map<number, Running>()
  readonly #code = new Map<string, Promise<string>>()
  readonly #codeReady = new Map<string, string>()
  /** Clients with results to send at the next flush. */
  #outbox: ClientTasks[] = []
  readonly #chunks = new Reassembler()
  /**
   * Whose result batches are kept, oldest first (for clients that reconnect and ask again): whole
   * batches as they were sent, so keeping a result costs nothing per task.
   */
  #kept: (ClientTasks | undefined)[] = []
  #keptHead = 0
  /** Results in the kept batches. */
  #keptCount = 0
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
      const r = this.#byPoolId.get(task.id)
      if (r !== undefined) this.#emit(r.client, r.id, r.fence, PROGRESS, [done, total], 0)
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
    const running = this.#active
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
    const client = this.#client(batch.c)
    const { ids, fences, codes, code, args } = batch
    // each code of the batch looked up once
    const fns = new Array<RunnerRef | Promise<RunnerRef> | undefined>(codes.length)
    for (let i = 0; i < ids.length; i++) {
      const k = typeof code === 'number' ? code : code[i]!
      const fn = (fns[k] ??= this.#fn(codes[k]!))
      this.#start(client, ids[i]!, fences[i]!, fn, args[i]!, undefined)
    }
  }

  /** The tasks of client `id` here (made on its first task). */
  #client(id: string): ClientTasks {
    let c = this.#clients.get(id)
    if (c === undefined) this.#clients.set(id, (c = new ClientTasks(id, this.#s.mail(id, 0).slice(0, -1))))
    return c
  }

  #start(client: ClientTasks, id: number, fence: number, fn: RunnerRef | Promise<RunnerRef>, args: TaskArgs, msg: JsMsg | undefined): void {
    const previous = client.running.get(id)
    if (previous !== undefined) {
      if (previous.fence >= fence) return // a duplicate delivery of an attempt that runs here
      previous.task?.cancel(new CancelledError('superseded by a newer attempt'))
    } else this.#active++
    const r = new Running(client, id, fence, msg)
    client.running.set(id, r)
    if (this.#events.listening('task-start')) this.#events.emit({ type: 'task-start', client: client.id, id })
    if (msg !== undefined) this.#emit(client, id, fence, STARTED, undefined, 0)
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
  #args(args: TaskArgs): unknown[] | Uint8Array | Promise<Uint8Array> {
    if (Array.isArray(args)) return args
    // a copy: decoded from a batch, the bytes are a view of the whole socket read buffer, which
    // the pool would otherwise clone in full for every task it posts to a worker
    if (args instanceof Uint8Array) return args.slice()
    const payload = args as Payload
    return ('c' in payload ? this.#chunks.take(payload.c) : undefined) ?? this.#store.get(payload)
  }

  #run(r: Running, ref: RunnerRef, args: unknown[] | Uint8Array): void {
    if (r.client.running.get(r.id) !== r) return
    if (r.cancelled !== undefined) return this.#end(r, FAILED, serializeError(r.cancelled))
    let task: PoolTask<unknown>
    try {
      task = this.#pool.run(ref[2] === 1 ? clusterRunGenerator : clusterRun, [ref, args, r.client.runner, r.id])
    } catch (error) {
      return this.#end(r, FAILED, serializeError(error))
    }
    r.task = task
    this.#byPoolId.set(task.id, r)
    if (r.mail !== undefined) for (const m of r.mail) task.send(m)
    r.mail = undefined
    task.then(
      (value) => this.#end(r, OK, value),
      (error: unknown) => this.#end(r, task.status === 'crashed' ? CRASHED : FAILED, serializeError(error)),
    )
  }

  #end(r: Running, kind: number, value: unknown): void {
    const client = r.client
    if (client.running.get(r.id) === r) {
      client.running.delete(r.id)
      this.#active--
    }
    if (this.#active === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      queueMicrotask(idle) // after this result is queued for its client
    }
    if (r.task !== undefined) this.#byPoolId.delete(r.task.id)
    if (kind === OK) this.#completed++
    else this.#failed++
    if (this.#events.listening('task-end')) this.#events.emit({ type: 'task-end', client: client.id, id: r.id, ok: kind === OK })
    // fast path: the value goes in its batch (large ones leave as chunk messages, at flush)
    if (r.msg === undefined) return this.#result(r, kind, value, 0)
    // durable path: serialized now, through the Object Store when large
    let bytes: Uint8Array
    try {
      bytes = encode(value)
    } catch (error) {
      kind = FAILED
      bytes = encode(serializeError(unsendable(r.id, error)))
    }
    if (bytes.byteLength <= this.#store.inlineLimit) this.#result(r, kind, bytes, 1)
    else {
      this.#store.put(bytes).then(
        (payload) => this.#result(r, kind, payload, 1),
        (error: unknown) => this.#result(r, kind, encode(serializeError(new TaskosError('ERR_SERIALIZATION', `cannot store the large result of task ${r.id}: ${(error as Error).message}`))), 1),
      )
    }
  }

  /** A task's result: queued for its client, and kept a while for a resync. */
  #result(r: Running, kind: number, payload: unknown, encoded: 0 | 1): void {
    this.#emit(r.client, r.id, r.fence, kind, payload, encoded)
    // acked right after its result is published (in #flush): one connection keeps the order, so
    // the server has the result before the ack; a node dying earlier leaves it for redelivery
    if (r.msg !== undefined) this.#acks.push(r.msg)
  }

  /**
   * Keeps a batch of results sent to a client, for a resync after it lost its connection; drops the
   * oldest batches beyond the last {@link RECENT_RESULTS} results.
   */
  #keep(client: ClientTasks, results: Results): void {
    client.kept.push(results)
    this.#kept.push(client)
    this.#keptCount += results.ids.length
    const kept = this.#kept
    while (this.#keptHead < kept.length) {
      const old = kept[this.#keptHead]!
      const oldest = old.kept[0]!
      if (this.#keptCount - oldest.ids.length < RECENT_RESULTS) break
      kept[this.#keptHead++] = undefined
      old.kept.shift()
      this.#keptCount -= oldest.ids.length
      if (old.kept.length === 0 && old.running.size === 0 && !old.queued) this.#clients.delete(old.id)
    }
    if (this.#keptHead > 1024 && this.#keptHead * 2 > kept.length) {
      this.#kept = kept.slice(this.#keptHead)
      this.#keptHead = 0
    }
  }

  /** Queues a result for its client; every result of this turn goes out in one message per client. */
  #emit(client: ClientTasks, id: number, fence: number, kind: number, value: unknown, encoded: 0 | 1): void {
    const out = client.out
    if (encoded === 1) (out.enc ??= []).push(out.ids.length)
    out.ids.push(id)
    out.fences.push(fence)
    out.kinds.push(kind)
    out.values.push(value)
    if (!client.queued) {
      client.queued = true
      this.#outbox.push(client)
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      // with tasks still running, after this loop turn's I/O: results the pool's workers reported
      // in several messages of this turn leave together; with none, there is nothing to wait for
      if (this.#active === 0) queueMicrotask(() => this.#flush())
      else setImmediate(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    const outbox = this.#outbox
    this.#outbox = []
    const closed = this.#nc.isClosed()
    const limit = this.#store.inlineLimit
    for (const c of outbox) {
      const out = c.out
      c.out = noResults()
      c.queued = false
      this.#keep(c, out)
      if (closed) continue
      const subject = this.#s.results(c.id)
      const { ids, fences, kinds, values, enc } = out
      // every result of the batch in one serialization
      let bytes: Uint8Array | undefined
      try {
        // (serialized values, durable results, are never large: larger ones go through the store)
        bytes = values.some((v) => holdsLarge(v, limit)) ? undefined : encode({ n: this.id, ids, fences, kinds, values, enc } satisfies ResultBatch)
      } catch {
        bytes = undefined
      }
      if (bytes !== undefined && bytes.byteLength <= limit) this.#nc.publish(subject, bytes)
      else this.#publishOneByOne(out, subject, limit)
    }
    const acks = this.#acks
    this.#acks = []
    for (const m of acks) m.ack()
  }

  /**
   * Results too large together, or a value V8 cannot serialize: one message per result, each value
   * serialized on its own, large ones as chunk messages published just before.
   */
  #publishOneByOne(c: Results, subject: string, limit: number): void {
    const enc = c.enc === undefined ? undefined : new Set(c.enc)
    for (let i = 0; i < c.ids.length; i++) {
      const id = c.ids[i]!
      let kind = c.kinds[i]!
      let payload = c.values[i]
      if (enc?.has(i) !== true) {
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
      this.#nc.publish(subject, encode({ n: this.id, ids: [id], fences: [c.fences[i]!], kinds: [kind], values: [payload], enc: [0] } satisfies ResultBatch))
    }
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
      const client = this.#clients.get(c.c)
      const missing: number[] = []
      const found = client === undefined ? new Map<number, [Results, number]>() : results(client, new Set(c.ids))
      for (const id of c.ids) {
        if (client?.running.has(id) === true) continue
        const at = found.get(id)
        if (at === undefined) missing.push(id)
        else {
          const [r, i] = at
          this.#emit(client!, id, r.fences[i]!, r.kinds[i]!, r.values[i], r.enc?.includes(i) === true ? 1 : 0)
        }
      }
      msg.respond(encode({ missing }))
      return
    }
    const r = this.#clients.get(c.c)?.running.get(c.id)
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
      for (const c of this.#clients.values()) for (const r of c.running.values()) r.msg?.working()
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
    const [id, , code, args] = item.task
    const client = this.#client(item.c)
    if (attempt > item.retries + 1) {
      const error = new HostLostError(`task ${id} was lost with its node ${attempt - 1} time(s) (retries: ${item.retries})`)
      this.#emit(client, id, attempt, CRASHED, serializeError(error), 0)
      this.#nc.flush().then(() => m.term('retries exhausted'), () => undefined) // rare: a flush is fine
      return
    }
    this.#start(client, id, attempt, this.#fn(code), args, m)
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Subscribes to node events. */
  on<K extends NodeEvent['type']>(type: K, listener: Listener<NodeEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Counters of this node. */
  stats(): NodeStats {
    return { id: this.id, name: this.name, slots: this.#slots, running: this.#active, completed: this.#completed, failed: this.#failed, durable: this.#durableCount }
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
      while (this.#active > 0) await new Promise<void>((resolve) => (this.#idle = resolve))
      await this.#pool.close()
    } else {
      for (const c of this.#clients.values()) for (const r of c.running.values()) r.msg?.nak()
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

/** Where the latest results of tasks `ids` are among a client's kept and outgoing results. */
function results(client: ClientTasks, ids: ReadonlySet<number>): Map<number, [Results, number]> {
  const found = new Map<number, [Results, number]>()
  for (const r of [...client.kept, client.out]) {
    for (let i = 0; i < r.ids.length; i++) {
      // results only (not progress or start notices); a later one replaces an earlier one
      if (r.kinds[i]! <= CRASHED && ids.has(r.ids[i]!)) found.set(r.ids[i]!, [r, i])
    }
  }
  return found
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
