/**
 * The body every remote task runs in its node's pool worker: finds the shipped function (a cached
 * bundle's export, or a self-contained function's source), turns address markers in its arguments
 * and in the messages it receives into addresses it can `t.send` to, and runs it with the full task
 * context (receive, send, spawn, sleep, progress, signal). Sends to addresses leave through one
 * NATS connection per worker, opened on first use with the node's connection settings (passed in
 * the environment variable `TASKOS_CLUSTER_CONNECTION`, JSON, which the runner removes from the
 * worker's environment as it loads).
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import { Operation, TaskosError } from '../kernel/index.js'
import type { Addressable, TaskContext } from '../kernel/index.js'
import { defineTask } from '../pool/index.js'
import { fromWire, isMarker, toWire } from './address.js'
import type { AddressMarker } from './address.js'
import { connectNats } from './connect.js'
import type { ConnectionOptions } from './connect.js'
import { decode, encode } from './protocol.js'

type Body = (t: TaskContext, ...args: unknown[]) => unknown

/** Where the function is: `[bundle file URL, export name, generator]` or `['', source, generator]`. */
export type RunnerRef = readonly [string, string, 0 | 1]

/**
 * A client of the node: `mail`, the subject of its tasks' addresses without the task id. One object
 * per client, so a batch of its tasks posted to a worker carries it once (a structured clone writes
 * an object met again as a reference).
 */
export interface RunnerClient {
  readonly mail: string
}

const modules = new Map<string, Promise<Record<string, unknown>>>()
/** Found functions: by bundle URL ('' for source), then by export name (or source). */
const functions = new Map<string, Map<string, Body>>()

function load(ref: RunnerRef): Body | Promise<Body> {
  let byName = functions.get(ref[0])
  const cached = byName?.get(ref[1])
  if (cached !== undefined) return cached
  if (byName === undefined) functions.set(ref[0], (byName = new Map<string, Body>()))
  const found = byName
  if (ref[0] === '') {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a self-contained function shipped as source
    const fn = (new Function(`return (${ref[1]})`) as () => Body)()
    found.set(ref[1], fn)
    return fn
  }
  let mod = modules.get(ref[0])
  if (mod === undefined) {
    mod = import(ref[0]) as Promise<Record<string, unknown>>
    modules.set(ref[0], mod)
    mod.catch(() => modules.delete(ref[0]))
  }
  return mod.then((m) => {
    const fn = Object.values(m).find((v) => typeof v === 'function' && (v as { taskName?: unknown }).taskName === ref[1])
    if (fn === undefined) throw new TaskosError('ERR_INVALID_ARGUMENT', `task function '${ref[1]}' is not exported by its shipped bundle`)
    found.set(ref[1], fn as Body)
    return fn as Body
  })
}

// ---- addresses inside the worker --------------------------------------------------------------

/**
 * The node's connection settings, credentials included, taken out of this worker's environment as
 * soon as the runner loads (before any shipped code): a task's own child processes do not inherit
 * them. (A worker thread's `process.env` is its own copy; a worker process's is its own.)
 */
const CONNECTION = process.env.TASKOS_CLUSTER_CONNECTION
delete process.env.TASKOS_CLUSTER_CONNECTION

let connection: Promise<NatsConnection> | undefined
let nc: NatsConnection | undefined
let pending: [string, Uint8Array][] = []

function publish(subject: string, data: Uint8Array): void {
  if (nc !== undefined && !nc.isClosed()) return nc.publish(subject, data)
  pending.push([subject, data])
  const options = JSON.parse(CONNECTION ?? '{}') as ConnectionOptions
  connection ??= connectNats(options, `taskos-worker-${process.pid}`).then((c) => {
    nc = c
    const queued = pending
    pending = []
    for (const [s, d] of queued) c.publish(s, d)
    return c
  })
}

class WorkerAddress implements Addressable {
  readonly subject: string
  readonly id: number | string
  readonly name: string | undefined
  constructor(m: AddressMarker) {
    this.subject = m.__taskosAddress
    this.id = m.id
    this.name = m.name
  }
  send(message: unknown): boolean {
    publish(this.subject, encode(wire(message)))
    return true
  }
}

const markerOf = (value: object): AddressMarker | undefined =>
  value instanceof WorkerAddress ? { __taskosAddress: value.subject, id: value.id, name: value.name } : undefined
const wire = (value: unknown): unknown => toWire(value, markerOf)
const revive = (value: unknown): unknown => fromWire(value, (m) => new WorkerAddress(m))

/** `t` with addresses revived in received messages and markers accepted by `send`; `t.address` is its own. */
class ContextHandler implements ProxyHandler<TaskContext> {
  readonly #client: RunnerClient
  readonly #id: number
  readonly #generator: boolean
  constructor(client: RunnerClient, id: number, generator: boolean) {
    this.#client = client
    this.#id = id
    this.#generator = generator
  }
  get(target: TaskContext, prop: string | symbol): unknown {
    if (prop === 'receive') {
      // a generator task waits with yield*, an async one with await: revive the message either way
      if (this.#generator) {
        return (...a: Parameters<TaskContext['receive']>) => {
          const op = target.receive(...a)
          return {
            *[Symbol.iterator](): Generator<unknown, unknown, unknown> {
              return revive(yield* op)
            },
          }
        }
      }
      return (...a: Parameters<TaskContext['receive']>) => Operation.from(target.receive(...a).then(revive), 't.receive()')
    }
    if (prop === 'send') {
      return (to: unknown, message: unknown) => {
        const dest = isMarker(to) ? new WorkerAddress(to) : to
        return target.send(dest as Addressable, message)
      }
    }
    if (prop === 'address') return new WorkerAddress({ __taskosAddress: `${this.#client.mail}${this.#id}`, id: this.#id, name: undefined })
    const value = Reflect.get(target, prop, target) as unknown
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
  }
}

function context(t: TaskContext, client: RunnerClient, id: number, generator: boolean): TaskContext {
  return new Proxy(t, new ContextHandler(client, id, generator))
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Generator).next === 'function' && typeof (value as Generator).throw === 'function'
}

/** The arguments: the array itself, or serialized (large ones, and durable tasks). */
function argsOf(args: unknown[] | Uint8Array): unknown[] {
  return revive(args instanceof Uint8Array ? decode<unknown[]>(args) : args) as unknown[]
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}

/** The result as it leaves the worker: a value at once (a plain function), or a promise of it. */
function leave(result: unknown): unknown {
  return isThenable(result) ? Promise.resolve(result).then(wire) : wire(result)
}

/**
 * Runs a shipped plain or async task function (see the module comment). Its arguments arrive as
 * values (copied by the pool), or serialized when they were large; its result leaves as a value
 * with tasks replaced by address markers (the node serializes it with its batch). `client` and
 * `id` (the task's id at its client) make `t.address`. Not async itself: a plain function that
 * returns a value ends its pool task in the same turn (no promise per task), so the pool's worker
 * reports it with the rest of the batch.
 */
export const clusterRun = defineTask(import.meta.url, function clusterRun(
  t: TaskContext,
  ref: RunnerRef,
  args: unknown[] | Uint8Array,
  client: RunnerClient,
  id: number,
): unknown {
  const found = load(ref)
  if (typeof found === 'function') return leave(found(context(t, client, id, false), ...argsOf(args)))
  return found.then((fn) => leave(fn(context(t, client, id, false), ...argsOf(args))))
})

/** Runs a shipped generator task function (the task must be a generator task to drive it). */
export const clusterRunGenerator = defineTask(import.meta.url, function* clusterRunGenerator(
  t: TaskContext,
  ref: RunnerRef,
  args: unknown[] | Uint8Array,
  client: RunnerClient,
  id: number,
): Generator<unknown, unknown, unknown> {
  const found = load(ref)
  const fn = typeof found === 'function' ? found : ((yield found) as Body)
  const body = fn(context(t, client, id, true), ...argsOf(args))
  const value = isGenerator(body) ? yield* body : body
  return wire(value)
})
