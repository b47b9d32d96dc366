/**
 * The cluster client: connects to NATS, tracks the nodes, places remote tasks and collects their
 * results. An Executor, so `kernel.setExecutor(cluster)` runs `dispatch` and `t.offload` on it.
 *
 * Two paths to a node:
 * - fast (default): tasks go in batches by core NATS to the chosen node; results come back in
 *   batches to one shared subscription of this client (no per-request inbox or timer). The client
 *   keeps every task it sent until its result arrives; a node found dead (connection closed, or 3
 *   missed pulses) has its tasks sent elsewhere with the next attempt number.
 * - durable (`durable: true`): each task is a message on a JetStream work queue; nodes pull as slots
 *   free, ack after the result is sent and send in-progress acks from their main thread while the
 *   task runs; a killed node's tasks are redelivered (after the 2 s ack wait) to another node.
 * Either way a task settles once: results carry the attempt number (fence) and stale ones are dropped.
 * @module
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node'
import type { JetStreamManager } from '@nats-io/jetstream'
import {
  CancelledError,
  Emitter,
  HostLostError,
  TaskosError,
  TimeoutError,
  realClock,
} from '../kernel/index.js'
import type { Addressable, BodyResult, Clock, Executor, ExecutorRunOptions, Listener, Task, TaskContext } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { isTaskFunction } from '../pool/index.js'
import { deserializeError } from '../pool/serialize-error.js'
import type { SerializedError } from '../pool/protocol.js'
import { RemoteAddress, fromWire, toWire } from './address.js'
import type { AddressMarker } from './address.js'
import { bundleModule } from './bundle.js'
import { Reassembler, isChunk, toChunks } from './chunks.js'
import type { Chunk } from './chunks.js'
import { CONNECTION_DEFAULTS, connectNats, validateConnection } from './connect.js'
import type { ConnectionOptions } from './connect.js'
import { Hosts } from './hosts.js'
import { loadJetStream, uid } from './nats.js'
import type { HostEntry, HostInfo } from './hosts.js'
import { ensureWorkQueue, workQueueNames } from './node.js'
import { CRASHED, FAILED, OK, PROGRESS, STARTED, decode, encode, holdsLarge, subjects } from './protocol.js'
import type { CodeRef, Control, Payload, Pulse, ResultBatch, RunBatch, Subjects, TaskArgs, TaskSpec, WorkItem } from './protocol.js'
import { RemoteTask } from './remote-task.js'
import { parseSize } from './size.js'
import { Store } from './store.js'
import { Names } from './names.js'
import { ClusterChannel } from './channel.js'
import { ServiceClient, ServiceInstance } from './service.js'
import type { ServeOptions, ServiceHandlers } from './service.js'

/** Options of {@link Cluster.connect}. */
export interface ClusterOptions extends ConnectionOptions {
  /** Run tasks on the durable JetStream path by default. @default false (the fast path) */
  durable?: boolean
  /** Default re-runs of a task whose node was lost. @default 2 */
  retries?: number
  /**
   * Tasks sent ahead to a node per slot (the node's pool queues them). Deep pipelines keep tiny
   * tasks streaming (about 2.5x the throughput of 32 here); use 1 for long tasks, so a task waits
   * at the client for a free slot (COS) and a node that joins later gets its share. @default 256
   */
  pipeline?: number
  /** JetStream replicas of the work queue and Object Store bucket (3 on a 3-server cluster). @default 1 */
  replicas?: number
  /** Clock for task timeouts. @default realClock */
  clock?: Clock
}

/** Options of `cluster.spawn` / `cluster.run`. */
export interface RemoteRunOptions extends ExecutorRunOptions {
  /** Run on this host (node id or name). */
  host?: string
  /** Run only on nodes having every one of these tags. */
  tags?: readonly string[]
  /** Run only on nodes offering at least this much memory (bytes or '4GiB'). */
  memory?: number | string
  /** Re-runs allowed when the node running it is lost. @default the cluster's `retries` (2) */
  retries?: number
  /** Take the durable path (JetStream work queue). @default the cluster's `durable` (false) */
  durable?: boolean
  /** A name for the task. @default the function's name */
  name?: string
}

/** Counters of a cluster client. */
export interface ClusterStats {
  id: string
  hosts: number
  slots: number
  freeSlots: number
  queued: number
  inflight: number
  completed: number
  failed: number
  crashed: number
  cancelled: number
  retried: number
}

/** Events of a cluster client. */
export type ClusterEvent =
  | { readonly type: 'host-up'; readonly host: HostInfo }
  | { readonly type: 'host-down'; readonly host: HostInfo; readonly reason: string }
  | { readonly type: 'progress'; readonly task: RemoteTask<unknown>; readonly done: number; readonly total: number | undefined }
  | { readonly type: 'reconnect' }
  | { readonly type: 'disconnect' }

const DEFAULTS = Object.freeze({ durable: false, retries: 2, pipeline: 256, replicas: 1 })

const NO_OPTIONS: RemoteRunOptions = Object.freeze({})

/** The placement of a task with no host, tags or memory: any node. */
const ANYWHERE = Object.freeze({})

const ACK_TEXT = new TextDecoder()

/** The stream sequence in a JetStream publish acknowledgement (`{"stream":…,"seq":N}`). */
function workSeq(ack: string): number | undefined {
  const m = /"seq":(\d+)/.exec(ack)
  return m === null ? undefined : Number(m[1])
}

/** A node dead before the ack wait ends: redelivered messages must wait for it (node.ts uses 2 s). */
const ACK_WAIT = 2000

/**
 * A connection to a taskos cluster: the PVM virtual machine. Create with {@link Cluster.connect}.
 * @example
 * const cluster = await Cluster.connect({ servers: 'nats://127.0.0.1:4222' })
 * const task = await cluster.spawn(square, [7])
 * console.log(await task.join())     // 49, computed on a node
 * await cluster.close()
 */
export class Cluster implements Executor {
  /** This client's id (unique per connection). */
  readonly id: string
  /** The cluster name. */
  readonly name: string
  readonly #nc: NatsConnection
  readonly #s: Subjects
  readonly #store: Store
  readonly #hosts: Hosts
  readonly #events = new Emitter<ClusterEvent>()
  readonly #tasks = new Map<number, RemoteTask<unknown>>()
  readonly #queue: RemoteTask<unknown>[] = []
  #head = 0
  #constrained: RemoteTask<unknown>[] = []
  readonly #batches = new Map<HostEntry, RemoteTask<unknown>[]>()
  readonly #codes = new Map<string, Promise<CodeRef>>()
  readonly #codeReady = new Map<string, CodeRef>()
  /** Code references by function, once known (no source or module key to build per task). */
  readonly #codeByFn = new WeakMap<object, CodeRef>()
  readonly #chunks = new Reassembler()
  readonly #locals = new Map<number, Addressable>()
  readonly #channels = new Map<string, ClusterChannel<unknown>>()
  readonly #services = new Set<ServiceInstance>()
  readonly #names: Names
  readonly #localIds = new WeakMap<object, number>()
  #nextLocal = 1
  readonly #o: Required<Omit<ClusterOptions, keyof ConnectionOptions>>
  #sub: Subscription | undefined
  #queueReady: Promise<void> | undefined
  #jsm: Promise<JetStreamManager> | undefined
  /** Durable tasks cancelled before the stream acknowledged them (their message is deleted then). */
  readonly #dropOnAck = new Set<number>()
  #nextId = 1
  #flushScheduled = false
  #pumpScheduled = false
  #closed = false
  #closing: Promise<void> | undefined
  #rr = 0
  #stats = { completed: 0, failed: 0, crashed: 0, cancelled: 0, retried: 0 }

  private constructor(nc: NatsConnection, options: ClusterOptions, id: string) {
    this.#nc = nc
    this.id = id
    this.name = options.name ?? CONNECTION_DEFAULTS.name
    this.#s = subjects(`taskos.${this.name}`)
    this.#o = {
      durable: options.durable ?? DEFAULTS.durable,
      retries: options.retries ?? DEFAULTS.retries,
      pipeline: options.pipeline ?? DEFAULTS.pipeline,
      replicas: options.replicas ?? DEFAULTS.replicas,
      clock: options.clock ?? realClock,
    }
    this.#store = new Store(nc, workQueueNames(this.name).bucket, this.#o.replicas)
    this.#names = new Names(nc, `taskos_${this.name}_names`, this.#o.replicas)
    this.#hosts = new Hosts(
      nc,
      this.#s,
      id,
      (h) => {
        this.#events.emit({ type: 'host-up', host: this.#hosts.info(h) })
        this.#pump()
      },
      (h, reason) => this.#hostDown(h, reason),
    )
  }

  /**
   * Connects to the cluster's NATS servers and discovers its nodes.
   * @throws ERR_INVALID_OPTION for a bad option; ERR_AUTH ({@link AuthError}) when NATS refuses
   *   the credentials; ERR_CONNECT ({@link ConnectError}) when no server answers within `timeout`
   *   (default 5000 ms) or the TLS handshake fails.
   */
  static async connect(options: ClusterOptions = {}): Promise<Cluster> {
    validateConnection(options)
    for (const key of ['retries', 'pipeline', 'replicas'] as const) {
      const v = options[key]
      if (v !== undefined && (!Number.isSafeInteger(v) || v < (key === 'retries' ? 0 : 1))) {
        throw new TaskosError('ERR_INVALID_OPTION', `invalid option ${key}: ${describe(v)} (expected an integer >= ${key === 'retries' ? 0 : 1})`)
      }
    }
    const id = uid()
    const nc = await connectNats(options, `taskos-client-${id}`)
    const cluster = new Cluster(nc, options, id)
    await cluster.#start()
    return cluster
  }

  async #start(): Promise<void> {
    const s = this.#s
    const prefix = s.client(this.id)
    this.#sub = this.#nc.subscribe(`${prefix}.>`, { callback: (err, msg) => void (err === null && this.#onInbox(msg, prefix.length + 1)) })
    this.#nc.subscribe(s.pulses, { callback: (err, msg) => void (err === null && this.#onPulse(msg)) })
    this.#nc.subscribe(s.byes, { callback: (err, msg) => void (err === null && this.#hosts.bye(msg.subject.slice(s.byes.length - 1))) })
    // discover the nodes that are up now (each answers with its pulse)
    const replies = this.#nc.subscribe(`${prefix}.discover`, { callback: (err, msg) => void (err === null && this.#onPulse(msg)) })
    this.#nc.publish(s.discover, undefined, { reply: `${prefix}.discover` })
    await this.#nc.flush()
    setTimeout(() => replies.unsubscribe(), 2000).unref()
    this.#hosts.start()
    void this.#watchStatus()
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') this.#events.emit({ type: 'disconnect' })
      if (status.type === 'reconnect') {
        this.#events.emit({ type: 'reconnect' })
        void this.#resync()
      }
    }
  }

  /**
   * After a reconnect, results sent while this client was away are lost: ask each node for the
   * results of the tasks it ran for us (it keeps recent ones); fast-path tasks a node does not know
   * (their run batch was lost) are sent again.
   */
  async #resync(): Promise<void> {
    const byHost = new Map<HostEntry, RemoteTask<unknown>[]>()
    for (const task of this.#tasks.values()) {
      if (task._outcome !== undefined) continue
      const hosts = task._host !== undefined ? [task._host as HostEntry] : task._durable ? [...this.#hosts.map.values()] : []
      for (const h of hosts) {
        let list = byHost.get(h)
        if (list === undefined) byHost.set(h, (list = []))
        list.push(task)
      }
    }
    await Promise.all(
      [...byHost].map(async ([host, tasks]) => {
        const c: Control = { k: 'resync', c: this.id, id: 0, ids: tasks.map((t) => t.id) }
        let missing: number[]
        try {
          missing = decode<{ missing: number[] }>((await this.#nc.request(this.#s.ctl(host.id), encode(c), { timeout: 2000 })).data).missing
        } catch {
          return // the node is gone: host-down re-runs its tasks
        }
        for (const id of missing) {
          const task = this.#tasks.get(id)
          if (task === undefined || task._outcome !== undefined || task._durable || task._host !== host) continue
          host.inflight.delete(task)
          task._host = undefined
          this.#stats.retried++
          this.#queue.push(task)
        }
      }),
    )
    this.#pump()
  }

  #onPulse(msg: Msg): void {
    try {
      this.#hosts.pulse(decode<Pulse>(msg.data))
    } catch {
      // not a pulse: ignore
    }
  }

  #onInbox(msg: Msg, cut: number): void {
    const kind = msg.subject.slice(cut)
    if (kind === 'r') return this.#onResults(msg)
    if (kind.startsWith('probe.')) {
      if (msg.headers?.code === 503) this.#hosts.gone(kind.slice(6))
      return
    }
    if (kind.startsWith('ack.')) return this.#onPubAck(msg, Number(kind.slice(4)))
    if (kind.startsWith('mail.')) {
      const task = this.#tasks.get(Number(kind.slice(5)))
      if (task !== undefined) this.#forwardMail(task, msg.data)
      return
    }
    if (kind.startsWith('local.')) {
      const target = this.#locals.get(Number(kind.slice(6)))
      if (target === undefined) return
      try {
        target.send(this._revive(decode(msg.data)))
      } catch {
        // undecodable mail is dropped (it came from a foreign publisher)
      }
    }
  }

  // ---- hosts -----------------------------------------------------------------------------------

  /** The hosts (nodes) seen now: the PVM host list. */
  hosts(): HostInfo[] {
    return [...this.#hosts.map.values()].map((h) => this.#hosts.info(h))
  }

  /** Total slots of the hosts up now. */
  slots(): number {
    let n = 0
    for (const h of this.#hosts.map.values()) n += h.pulse.slots
    return n
  }

  /** Slots not running a task of this client, and free at their node's last pulse. */
  freeSlots(): number {
    let n = 0
    for (const h of this.#hosts.map.values()) n += Math.max(0, Math.min(h.pulse.freeSlots, h.pulse.slots - h.inflight.size))
    return n
  }

  /**
   * Waits until at least `n` hosts are up.
   * @throws ERR_TIMEOUT after `timeout` ms (default 10000).
   */
  async waitForHosts(n: number, timeout = 10_000): Promise<HostInfo[]> {
    if (this.#hosts.map.size >= n) return this.hosts()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new TimeoutError(`waitForHosts: ${this.#hosts.map.size} of ${n} hosts up after ${timeout} ms`, timeout))
      }, timeout)
      const off = this.on('host-up', () => {
        if (this.#hosts.map.size < n) return
        clearTimeout(timer)
        off()
        resolve(this.hosts())
      })
    })
  }

  #hostDown(h: HostEntry, reason: string): void {
    this.#events.emit({ type: 'host-down', host: this.#hosts.info(h), reason })
    this.#batches.delete(h)
    const lost = [...h.inflight]
    h.inflight.clear()
    for (const task of lost) {
      task._host = undefined
      if (task._outcome !== undefined) continue
      if (task._fence > task._retries) {
        this.#stats.crashed++
        task._settle({
          status: 'crashed',
          error: new HostLostError(`remote task #${task.id} (${task.name ?? 'anonymous'}) lost its host ${h.name}: ${reason}; ran ${task._fence} time(s), retries: ${task._retries}`, {
            origin: { task: task.id, host: h.name },
          }),
        })
        continue
      }
      this.#stats.retried++
      this.#queue.push(task)
    }
    this.#pump()
  }

  // ---- running tasks ---------------------------------------------------------------------------

  /**
   * Starts `fn(t, ...args)` on a node; resolves once the task was handed to a node (or the durable
   * queue). With no free slot anywhere, waits for one (COS), bounded by `timeout`/`signal`.
   * `fn` is a `defineTask` function (its module is bundled with its local imports and shipped) or
   * a self-contained function (shipped as source).
   * @throws ERR_INVALID_OPTION for a bad option; ERR_CLOSED after close.
   * @example
   * const task = await cluster.spawn(square, [7], { tags: ['fast'] })
   * await task.join()   // 49
   */
  async spawn<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options: RemoteRunOptions = {},
  ): Promise<RemoteTask<BodyResult<X>>> {
    const task = this.run(fn, args, options)
    await task._whenPlaced()
    return task
  }

  /**
   * Starts `fn(t, ...args)` on the cluster and gives its task at once (the Executor interface).
   * @throws ERR_INVALID_OPTION for a bad option; ERR_CLOSED after close.
   */
  run<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options: RemoteRunOptions = NO_OPTIONS,
  ): RemoteTask<BodyResult<X>> {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', 'the cluster connection is closed')
    const o = options === NO_OPTIONS ? options : checkRunOptions(options)
    const durable = o.durable ?? this.#o.durable
    const anywhere = o.host === undefined && o.tags === undefined && o.memory === undefined
    if (durable && !anywhere) {
      throw new TaskosError('ERR_INVALID_OPTION', 'invalid option durable: durable tasks are taken by any node (host, tags and memory apply to the fast path only)')
    }
    if (!Array.isArray(args)) throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid args: ${describe(args)} (expected an array)`)
    const code = this.#codeOf(fn)
    const want = anywhere
      ? ANYWHERE
      : {
          ...(o.host === undefined ? {} : { host: o.host }),
          ...(o.tags === undefined ? {} : { tags: o.tags }),
          ...(o.memory === undefined ? {} : { memory: parseSize(o.memory, 'memory') }),
        }
    const task = new RemoteTask<BodyResult<X>>(this, this.#nextId++, o.name ?? (fn.name || undefined), durable, o.retries ?? this.#o.retries, want)
    const t = task as RemoteTask<unknown>
    this.#tasks.set(task.id, t)
    this.#arm(t, o)
    // the arguments are serialized with their batch (fast path) or work item (durable path): a
    // copy of the array now, so elements replaced later do not travel. Large arguments: chunk
    // messages on the fast path (at flush), the Object Store on the durable one (at submit)
    const w = this._wire(args) as unknown[]
    t._args = w === args ? args.slice() : w
    if (!(code instanceof Promise)) this.#ready(t, code)
    else {
      code.then(
        (ref) => this.#ready(t, ref),
        (error: unknown) => {
          if (t._settle({ status: 'failed', error })) this.#stats.failed++
        },
      )
    }
    return task
  }

  /** A task's code is known (a bundle is stored first): it joins the queue, or the work queue. */
  #ready(t: RemoteTask<unknown>, ref: CodeRef): void {
    if (t._outcome !== undefined) return
    t._code = ref
    if (t._durable) void this.#submitDurable(t)
    else {
      this.#queue.push(t)
      this.#schedulePump()
    }
  }

  #failArgs(t: RemoteTask<unknown>, error: unknown): void {
    t._host?.inflight.delete(t)
    const e = new TaskosError('ERR_SERIALIZATION', `the arguments of ${t.name ?? 'the task'} cannot be sent to a node: ${(error as Error).message}`, { cause: error })
    if (t._settle({ status: 'failed', error: e })) this.#stats.failed++
  }

  #arm(t: RemoteTask<unknown>, o: RemoteRunOptions): void {
    if (o.timeout === undefined && o.signal === undefined) return
    const cleanups: (() => void)[] = []
    if (o.timeout !== undefined) {
      const clock = this.#o.clock
      const handle = clock.setTimer(o.timeout, () =>
        this._cancel(t, new TimeoutError(`remote task #${t.id} (${t.name ?? 'anonymous'}) timed out after ${o.timeout} ms`, o.timeout!)),
      )
      cleanups.push(() => clock.clearTimer(handle))
    }
    const signal = o.signal
    if (signal !== undefined) {
      const onAbort = (): void => void this._cancel(t, signal.reason)
      if (signal.aborted) queueMicrotask(onAbort)
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        cleanups.push(() => signal.removeEventListener('abort', onAbort))
      }
    }
    t._cleanup = () => {
      for (const c of cleanups) c()
    }
  }

  /** @internal a task ended: forget it. */
  _ended(task: RemoteTask<unknown>): void {
    this.#tasks.delete(task.id)
  }

  /** One pump per microtask for every task queued in this turn. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  #codeOf(fn: unknown): CodeRef | Promise<CodeRef> {
    if (typeof fn !== 'function') {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid task function: ${describe(fn)} (expected a defineTask function or a self-contained function)`)
    }
    const known = this.#codeByFn.get(fn)
    if (known !== undefined) return known
    if (!isTaskFunction(fn)) {
      const source = fn.toString()
      if (/\[native code\]\s*\}$/.test(source)) {
        throw new TaskosError('ERR_INVALID_ARGUMENT', `${fn.name || 'this function'} is a native or bound function: it cannot be shipped to a node`)
      }
      const ref: CodeRef = ['s', shippable(source), isGeneratorFunction(fn)]
      this.#codeByFn.set(fn, ref)
      return ref
    }
    const key = `${fn.taskModule}#${fn.taskName}`
    const ready = this.#codeReady.get(key)
    if (ready !== undefined) {
      this.#codeByFn.set(fn, ready)
      return ready
    }
    let pending = this.#codes.get(key)
    if (pending === undefined) {
      pending = bundleModule(fn.taskModule).then(async (b) => {
        await this.#store.putCode(b.hash, b.code)
        const ref: CodeRef = ['h', b.hash, fn.taskName, isGeneratorFunction(fn)]
        this.#codeReady.set(key, ref)
        return ref
      })
      pending.catch(() => this.#codes.delete(key))
      this.#codes.set(key, pending)
    }
    return pending
  }

  /**
   * Hands queued fast-path tasks to nodes with room, most free first, round robin among equals.
   * Tasks with constraints (host, tags, memory) that fit nowhere wait in `#constrained`; the main
   * queue is consumed from its head and stops at the first task that fits nowhere.
   */
  #pump(): void {
    if (this.#closed || (this.#queue.length === this.#head && this.#constrained.length === 0)) return
    const hosts: HostEntry[] = []
    for (const h of this.#hosts.map.values()) {
      if (!h.up || h.leaving) continue
      // a host whose slots are all busy is refilled once a quarter of its pipeline is free, then
      // up to the full pipeline: batches (NATS messages, pool posts, result messages) stay large
      // instead of shrinking to a task or two, and its slots still have work queued meanwhile
      const cap = h.pulse.slots * this.#o.pipeline
      if (h.inflight.size >= h.pulse.slots && cap - h.inflight.size < cap >> 2) continue
      hosts.push(h)
    }
    if (hosts.length === 0) return
    if (this.#constrained.length > 0) {
      const waiting = this.#constrained
      this.#constrained = []
      for (const task of waiting) {
        if (task._outcome !== undefined) continue
        const host = this.#choose(hosts, task)
        if (host !== undefined) this.#place(task, host)
        else this.#constrained.push(task)
      }
    }
    const queue = this.#queue
    while (this.#head < queue.length) {
      const task = queue[this.#head]!
      if (task._outcome !== undefined) {
        this.#head++
        continue
      }
      const host = this.#choose(hosts, task)
      if (host !== undefined) this.#place(task, host)
      else {
        const w = task._want
        if (w.host === undefined && w.tags === undefined && w.memory === undefined) break
        this.#constrained.push(task)
      }
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      queue.splice(0, this.#head)
      this.#head = 0
    }
  }

  #choose(hosts: HostEntry[], task: RemoteTask<unknown>): HostEntry | undefined {
    const w = task._want
    let best: HostEntry | undefined
    let bestFree = -Infinity
    const n = hosts.length
    const start = this.#rr++ % n
    for (let i = 0; i < n; i++) {
      const h = hosts[(start + i) % n]!
      const p = h.pulse
      if (w.host !== undefined && w.host !== h.id && w.host !== h.name) continue
      if (w.tags !== undefined && !w.tags.every((tag) => p.tags.includes(tag))) continue
      if (w.memory !== undefined && p.maxMemory < w.memory) continue
      if (h.inflight.size >= p.slots * this.#o.pipeline) continue
      const free = (p.slots - h.inflight.size) / p.slots
      if (free > bestFree) {
        best = h
        bestFree = free
      }
    }
    return best
  }

  #place(task: RemoteTask<unknown>, host: HostEntry): void {
    task._fence++
    task._host = host
    host.inflight.add(task)
    let batch = this.#batches.get(host)
    if (batch === undefined) this.#batches.set(host, (batch = []))
    batch.push(task)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    for (const [host, placed] of this.#batches) this.#sendBatch(host, placed)
    this.#batches.clear()
  }

  /**
   * Sends the tasks placed on a host in this turn. (Per batch: the loops over its tasks are in small
   * functions of their own, so that the JIT compiles those, not this one with the NATS client's
   * publish inlined into it.)
   */
  #sendBatch(host: HostEntry, placed: RemoteTask<unknown>[]): void {
    // tasks that ended (cancelled) or moved on (their host went) since they were placed stay here
    const tasks = placed.filter((t) => t._outcome === undefined && t._host === host)
    if (tasks.length === 0) return
    const subject = this.#s.run(host.id)
    const limit = this.#store.inlineLimit
    // every task of the batch in one serialization
    let bytes: Uint8Array | undefined
    try {
      bytes = tasks.some((t) => holdsLarge(t._args, limit)) ? undefined : encode(this.#runBatch(tasks))
    } catch {
      bytes = undefined
    }
    if (bytes !== undefined && bytes.byteLength <= limit) this.#nc.publish(subject, bytes)
    else this.#publishOneByOne(subject, tasks, limit)
    this.#sent(tasks)
  }

  /** Tasks that left for their node: `spawn` may resolve, and mail sent meanwhile follows them. */
  #sent(tasks: readonly RemoteTask<unknown>[]): void {
    for (const task of tasks) {
      task._markPlaced()
      if (task._mail !== undefined) {
        const mail = task._mail
        task._mail = undefined
        for (const m of mail) this._send(task, m)
      }
    }
  }

  /** The column form of tasks for one node (see protocol.ts). */
  #runBatch(tasks: readonly RemoteTask<unknown>[]): RunBatch {
    const n = tasks.length
    const ids = new Array<number>(n)
    const fences = new Array<number>(n)
    const args = new Array<TaskArgs>(n)
    const codes: CodeRef[] = []
    const code = new Array<number>(n)
    let sameCode = true
    let enc: number[] | undefined
    for (let i = 0; i < n; i++) {
      const t = tasks[i]!
      ids[i] = t.id
      fences[i] = t._fence
      const a = (args[i] = t._args!)
      if (!Array.isArray(a)) (enc ??= []).push(i)
      // code references are shared per function (#codeOf): most batches have one
      const c = t._code!
      let k = codes.indexOf(c)
      if (k < 0) k = codes.push(c) - 1
      code[i] = k
      if (k !== 0) sameCode = false
    }
    return { c: this.id, ids, fences, codes, code: sameCode ? 0 : code, args, enc }
  }

  /**
   * Tasks too large together, or with an argument V8 cannot serialize: each task's arguments
   * serialized on their own (a task whose arguments fail fails with ERR_SERIALIZATION), large ones
   * as chunk messages published just before, one message per task.
   */
  #publishOneByOne(subject: string, tasks: readonly RemoteTask<unknown>[], limit: number): void {
    for (const task of tasks) {
      let args = task._args!
      if (Array.isArray(args)) {
        try {
          args = encode(args)
        } catch (error) {
          this.#failArgs(task, error)
          continue
        }
      }
      if (args instanceof Uint8Array && args.byteLength > limit) {
        const { key, messages } = toChunks(args, limit)
        for (const m of messages) this.#nc.publish(subject, m)
        args = { c: key }
      }
      const batch: RunBatch = { c: this.id, ids: [task.id], fences: [task._fence], codes: [task._code!], code: 0, args: [args], enc: [0] }
      this.#nc.publish(subject, encode(batch))
    }
  }

  /**
   * Publishes a durable task to the work queue. The stream's acknowledgement comes back to this
   * client's shared subscription (`….ack.<task>`), so there is no request (inbox, timer) per task.
   */
  async #submitDurable(task: RemoteTask<unknown>): Promise<void> {
    try {
      if (this.#queueReady === undefined) {
        this.#queueReady = ensureWorkQueue(this.#nc, this.name, this.#o.replicas, ACK_WAIT)
        this.#queueReady.catch(() => (this.#queueReady = undefined))
      }
      await this.#queueReady
    } catch (error) {
      if (task._settle({ status: 'failed', error: new TaskosError('ERR_INVALID_STATE', `cannot queue durable task #${task.id}: ${(error as Error).message}`, { cause: error }) })) this.#stats.failed++
      return
    }
    if (task._outcome !== undefined) return
    const spec: TaskSpec = [task.id, 0, task._code!, task._args!, task.name]
    // one serialization: the work item with the arguments in it
    let bytes: Uint8Array
    try {
      bytes = encode({ c: this.id, retries: task._retries, task: spec } satisfies WorkItem)
    } catch (error) {
      return this.#failArgs(task, error)
    }
    if (bytes.byteLength > this.#store.inlineLimit && Array.isArray(spec[3])) {
      // large arguments go through the Object Store; the work item holds their key
      try {
        const payload = await this.#store.put(encode(spec[3]))
        if (task._outcome !== undefined) return
        bytes = encode({ c: this.id, retries: task._retries, task: [spec[0], spec[1], spec[2], payload, spec[4]] } satisfies WorkItem)
      } catch (error) {
        if (task._settle({ status: 'failed', error })) this.#stats.failed++
        return
      }
    }
    this.#nc.publish(this.#s.work, bytes, { reply: `${this.#s.client(this.id)}.ack.${task.id}` })
    task._seq = 0 // published; its sequence comes with the stream's acknowledgement
  }

  /** The work queue stored (or refused) a durable task. */
  #onPubAck(msg: Msg, id: number): void {
    const task = this.#tasks.get(id)
    if (task === undefined || task._outcome !== undefined) {
      // cancelled while its acknowledgement was on its way: remove it from the queue now
      if (this.#dropOnAck.delete(id)) {
        const seq = workSeq(ACK_TEXT.decode(msg.data))
        if (seq !== undefined) this.#deleteWork(seq)
      }
      return
    }
    let problem: string | undefined
    let text = ''
    if (msg.headers?.code === 503) problem = 'no JetStream stream answered (is JetStream enabled?)'
    else {
      try {
        // `{"stream":…,"seq":…}` when stored: parsed only when it reports an error
        text = ACK_TEXT.decode(msg.data)
        if (!text.startsWith('{') || text.includes('"error"')) {
          const ack = JSON.parse(text) as { error?: { description?: string } }
          if (ack.error !== undefined) problem = ack.error.description ?? 'refused'
        }
      } catch {
        problem = 'an unreadable acknowledgement'
      }
    }
    if (problem === undefined) {
      task._seq = workSeq(text)
      return task._markPlaced()
    }
    if (task._settle({ status: 'failed', error: new TaskosError('ERR_INVALID_STATE', `cannot queue durable task #${id}: ${problem}`) })) this.#stats.failed++
  }

  /**
   * Removes a cancelled durable task's message from the work queue, so no node runs it later. A node
   * that received it already runs it (its result is discarded); best effort: a message gone already
   * (taken and acknowledged) is no error.
   */
  #deleteWork(seq: number): void {
    if (this.#nc.isClosed()) return
    this.#jsm ??= loadJetStream().then(({ jetstreamManager }) => jetstreamManager(this.#nc))
    this.#jsm.catch(() => (this.#jsm = undefined))
    void this.#jsm.then((jsm) => jsm.streams.deleteMessage(workQueueNames(this.name).stream, seq, false)).catch(() => undefined)
  }

  #onResults(msg: Msg): void {
    let batch: ResultBatch | Chunk
    try {
      batch = decode<ResultBatch | Chunk>(msg.data)
    } catch {
      return
    }
    if (isChunk(batch)) return this.#chunks.add(batch)
    const host = this.#hosts.map.get(batch.n)
    const from = host?.name ?? batch.n
    const { ids, fences, kinds, values } = batch
    const enc = batch.enc === undefined ? undefined : new Set(batch.enc)
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      const fence = fences[i]!
      const kind = kinds[i]!
      const payload = values[i]
      const task = this.#tasks.get(id)
      if (task === undefined) continue
      if (task._durable) {
        if (fence < task._fence) continue
        task._fence = fence
        if (kind === STARTED) {
          task._host = host
          if (task._mail !== undefined && host !== undefined) {
            const mail = task._mail
            task._mail = undefined
            for (const m of mail) this._send(task, m)
          }
          continue
        }
      } else if (fence !== task._fence) continue // a stale attempt (its node was presumed dead)
      if (kind === PROGRESS) {
        const [done, total] = payload as [number, number | undefined]
        this.#events.emit({ type: 'progress', task, done, total })
        continue
      }
      task._host?.inflight.delete(task)
      if (enc?.has(i) !== true) {
        this.#settleResult(task, kind, payload, undefined, from)
        continue
      }
      const p = payload as Payload
      const whole = p instanceof Uint8Array ? p : 'c' in p ? this.#chunks.take(p.c) : undefined
      if (whole !== undefined) this.#settleResult(task, kind, undefined, whole, from)
      else {
        this.#store.get(p).then(
          (bytes) => this.#settleResult(task, kind, undefined, bytes, from),
          (error: unknown) => task._settle({ status: 'failed', error }),
        )
      }
    }
    this.#pump()
  }

  /** Settles a task with its result: `value` itself, or decoded from `bytes`; `from` names its node. */
  #settleResult(task: RemoteTask<unknown>, kind: number, value: unknown, bytes: Uint8Array | undefined, from: string): void {
    try {
      if (bytes !== undefined) value = decode<unknown>(bytes)
      if (kind === OK) value = this._revive(value)
    } catch (error) {
      if (task._settle({ status: 'failed', error: new TaskosError('ERR_SERIALIZATION', `cannot decode the result of remote task #${task.id}`, { cause: error }) })) this.#stats.failed++
      return
    }
    if (kind === OK) {
      if (task._settle({ status: 'done', value })) this.#stats.completed++
      return
    }
    const origin = { task: task.id, host: from }
    const error = deserializeError(value as SerializedError, origin)
    if (error instanceof Error && !(error instanceof TaskosError)) {
      Object.defineProperty(error, 'origin', { value: origin, writable: true, configurable: true })
    }
    const status = kind === CRASHED ? 'crashed' : kind === FAILED && error instanceof CancelledError ? 'cancelled' : 'failed'
    if (task._settle({ status, error })) this.#stats[status === 'crashed' ? 'crashed' : status === 'cancelled' ? 'cancelled' : 'failed']++
  }

  // ---- names, channels, services ----------------------------------------------------------------

  /**
   * Registers a task (remote, local or an address) under a name every client of the cluster can
   * `locate`. A task of this client is unregistered when it ends.
   * @throws ERR_NAME_TAKEN when the name is registered already; ERR_INVALID_ARGUMENT for a bad
   *   name or a value that is not a task.
   * @example
   * await cluster.register('logger', await cluster.spawn(logTask, []))
   */
  async register(name: string, task: Task | Addressable): Promise<void> {
    Names.check(name)
    const marker = this.#marker(task)
    if (marker === undefined) throw new TaskosError('ERR_INVALID_ARGUMENT', `cluster.register('${name}'): ${describe(task)} is not a task or an address`)
    await this.#names.register(name, marker)
    const settle = (task as Partial<Task>).settle
    if (typeof settle === 'function') {
      void Promise.resolve(settle.call(task)).then(() => this.#names.unregister(name).catch(() => undefined))
    }
  }

  /** Removes a name. @returns false if it was not registered. */
  async unregister(name: string): Promise<boolean> {
    return this.#names.unregister(Names.check(name))
  }

  /**
   * The task registered under `name`, as an address (`send` works from anywhere); waits up to
   * `timeout` ms for the name to appear.
   * @throws ERR_UNKNOWN_NAME (no timeout given) or ERR_TIMEOUT when the name is not registered.
   */
  async locate(name: string, options: { timeout?: number } = {}): Promise<Addressable> {
    return this.address(await this.#names.locate(Names.check(name), options.timeout))
  }

  /**
   * A channel across machines: local subscribers get every message any client sends on `name`.
   * The same object for the same name.
   */
  channel<T = unknown>(name: string): ClusterChannel<T> {
    Names.check(name)
    let channel = this.#channels.get(name)
    if (channel === undefined) {
      channel = new ClusterChannel<unknown>(this.#nc, name, `taskos.${this.name}.chan.${name}`, (v) => this._wire(v), (v) => this._revive(v))
      this.#channels.set(name, channel)
    }
    return channel as ClusterChannel<T>
  }

  /**
   * Serves `handlers` as the NATS micro-service `name` (requests and replies in JSON); visible to
   * `nats micro ls`. Several instances of one name share the requests.
   * @throws ERR_INVALID_ARGUMENT for a bad name or handlers.
   * @example
   * cluster.serve('math', { add: ({ a, b }: { a: number; b: number }) => a + b })
   * await cluster.service('math').call('add', { a: 1, b: 2 })   // 3
   */
  serve(name: string, handlers: ServiceHandlers, options: ServeOptions = {}): ServiceInstance {
    const instance = new ServiceInstance(this.#nc, name, handlers, options)
    this.#services.add(instance)
    return instance
  }

  /** A client of the micro-service `name` (`call(endpoint, request)`). */
  service(name: string, options: { timeout?: number } = {}): ServiceClient {
    return new ServiceClient(this.#nc, name, options.timeout ?? 5000)
  }

  // ---- addresses ---------------------------------------------------------------------------------

  /** @internal replaces tasks in a value by address markers (local tasks get a route here). */
  _wire(value: unknown): unknown {
    return toWire(value, (object) => this.#marker(object))
  }

  /** @internal replaces address markers by addresses (this client's own tasks by themselves). */
  _revive(value: unknown): unknown {
    return fromWire(value, (m) => this.address(m))
  }

  #marker(object: object): AddressMarker | undefined {
    if (object instanceof RemoteAddress) return object.toMarker()
    if (object instanceof RemoteTask) {
      return { __taskosAddress: this.#s.mail(this.id, object.id), id: object.id, name: object.name }
    }
    const task = object as Partial<Task>
    if (typeof task.send !== 'function' || (typeof task.id !== 'number' && typeof task.id !== 'string')) return undefined
    let n = this.#localIds.get(object)
    if (n === undefined) {
      n = this.#nextLocal++
      this.#localIds.set(object, n)
      this.#locals.set(n, object as Addressable)
      // forget the route when a task ends
      const settle = (object as Partial<Task>).settle
      if (typeof settle === 'function') {
        const id = n
        void Promise.resolve(settle.call(object)).then(() => this.#locals.delete(id), () => this.#locals.delete(id))
      }
    }
    return { __taskosAddress: `${this.#s.client(this.id)}.local.${n}`, id: task.id, name: task.name }
  }

  /**
   * The address of a task from its wire marker: this client's own tasks come back as themselves,
   * anything else as a {@link RemoteAddress}.
   */
  address(marker: AddressMarker): Addressable {
    const prefix = `${this.#s.client(this.id)}.`
    if (marker.__taskosAddress.startsWith(prefix)) {
      const rest = marker.__taskosAddress.slice(prefix.length)
      if (rest.startsWith('mail.')) {
        const task = this.#tasks.get(Number(rest.slice(5)))
        if (task !== undefined) return task
      } else if (rest.startsWith('local.')) {
        const local = this.#locals.get(Number(rest.slice(6)))
        if (local !== undefined) return local
      }
    }
    return new RemoteAddress(this.#nc, marker, (v) => this._wire(v))
  }

  // ---- messages and cancellation (RemoteTaskOwner) ---------------------------------------------

  /** @internal */
  _send(task: RemoteTask<unknown>, message: unknown): boolean {
    if (task._outcome !== undefined) return false
    const host = task._host
    if (host === undefined || (task._fence === 0 && !task._durable)) {
      ;(task._mail ??= []).push(message)
      return true
    }
    let data: Uint8Array
    try {
      data = encode(this._wire(message))
    } catch (error) {
      throw new TaskosError('ERR_SERIALIZATION', `the message to remote task #${task.id} cannot be sent: ${(error as Error).message}`, { cause: error })
    }
    void this.#store.put(data).then((payload) => {
      const c: Control = { k: 'mail', c: this.id, id: task.id, data: payload }
      this.#nc.publish(this.#s.ctl(host.id), encode(c))
    })
    return true
  }

  #forwardMail(task: RemoteTask<unknown>, data: Uint8Array): void {
    try {
      this._send(task, this._revive(decode(data)))
    } catch {
      // undecodable mail is dropped (it came from a foreign publisher)
    }
  }

  /** @internal */
  _cancel(task: RemoteTask<unknown>, reason: unknown): boolean {
    if (task._outcome !== undefined) return false
    const error = reason instanceof TimeoutError || reason instanceof CancelledError
      ? reason
      : new CancelledError(`remote task #${task.id} (${task.name ?? 'anonymous'}) was cancelled`, { cause: reason })
    const host = task._host
    if (host !== undefined) {
      host.inflight.delete(task)
      const c: Control = { k: 'cancel', c: this.id, id: task.id, reason: error.message }
      if (!this.#nc.isClosed()) this.#nc.publish(this.#s.ctl(host.id), encode(c))
    } else if (task._durable && task._seq !== undefined) {
      // queued on the work queue, not started anywhere: take it out (its ack may still be coming)
      if (task._seq > 0) this.#deleteWork(task._seq)
      else this.#dropOnAck.add(task.id)
    }
    this.#stats.cancelled++
    task._settle({ status: 'cancelled', error })
    this.#pump()
    return true
  }

  // ---- observation and lifecycle -----------------------------------------------------------------

  /** Subscribes to cluster events (`host-up`, `host-down`, `progress`, `disconnect`, `reconnect`). */
  on<K extends ClusterEvent['type']>(type: K, listener: Listener<ClusterEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Counters of this client. */
  stats(): ClusterStats {
    let inflight = 0
    for (const h of this.#hosts.map.values()) inflight += h.inflight.size
    return { id: this.id, hosts: this.#hosts.map.size, slots: this.slots(), freeSlots: this.freeSlots(), queued: this.#queue.length - this.#head + this.#constrained.length, inflight, ...this.#stats }
  }

  /** The underlying NATS connection (for services, KV and custom subjects). */
  get connection(): NatsConnection {
    return this.#nc
  }

  /** Waits for every task of this client to end, then disconnects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#tasks.values()].map((t) => t.settle()))
      await this.#shutdown()
    })()
    return this.#closing
  }

  /** Cancels every task of this client and disconnects now. */
  destroy(): Promise<void> {
    for (const t of [...this.#tasks.values()]) this._cancel(t, new CancelledError('the cluster connection was destroyed'))
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    for (const s of this.#services) s.stop()
    for (const c of this.#channels.values()) c.close()
    this.#hosts.stop()
    this.#sub?.unsubscribe()
    if (!this.#nc.isClosed()) await this.#nc.drain().catch(() => undefined)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function checkRunOptions(o: RemoteRunOptions): RemoteRunOptions {
  if (o === null || typeof o !== 'object') throw new TaskosError('ERR_INVALID_OPTION', `invalid options: ${describe(o)} (expected an object)`)
  if (o.timeout !== undefined && !(typeof o.timeout === 'number' && o.timeout >= 0)) throw new TaskosError('ERR_INVALID_OPTION', `invalid option timeout: ${describe(o.timeout)} (expected ms >= 0)`)
  if (o.retries !== undefined && !(Number.isSafeInteger(o.retries) && o.retries >= 0)) throw new TaskosError('ERR_INVALID_OPTION', `invalid option retries: ${describe(o.retries)} (expected an integer >= 0)`)
  if (o.host !== undefined && typeof o.host !== 'string') throw new TaskosError('ERR_INVALID_OPTION', `invalid option host: ${describe(o.host)} (expected a node id or name)`)
  if (o.tags !== undefined && (!Array.isArray(o.tags) || o.tags.some((t) => typeof t !== 'string'))) throw new TaskosError('ERR_INVALID_OPTION', `invalid option tags: ${describe(o.tags)} (expected an array of strings)`)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TaskosError('ERR_INVALID_OPTION', `invalid option signal: ${describe(o.signal)} (expected an AbortSignal)`)
  return o
}

function isGeneratorFunction(fn: unknown): 0 | 1 {
  const name = (fn as { constructor?: { name?: string } }).constructor?.name
  return name === 'GeneratorFunction' || name === 'AsyncGeneratorFunction' ? 1 : 0
}

/** Source that evaluates to the function: functions and arrows as they are, methods made functions. */
function shippable(source: string): string {
  if (/^(async\s*)?(function\b|\(|[\w$]+\s*=>)/.test(source)) return source
  const async = /^async\s+(?=[*\w$])/.exec(source)
  if (async !== null) return `async function ${source.slice(async[0].length)}`
  return `function ${source}`
}
