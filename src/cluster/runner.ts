/**
 * The body every remote task runs in its node's pool worker: finds the shipped function (a cached
 * bundle's export, or a self-contained function's source), turns address markers in its arguments
 * and in the messages it receives into addresses it can `t.send` to, and runs it with the full task
 * context (receive, send, spawn, sleep, progress, signal). Sends to addresses leave through one
 * NATS connection per worker, opened on first use with the node's connection settings (passed in
 * the environment variable `TASKOS_CLUSTER_CONNECTION`, JSON).
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

const modules = new Map<string, Promise<Record<string, unknown>>>()
const functions = new Map<string, Body>()

function load(ref: RunnerRef): Body | Promise<Body> {
  const key = `${ref[0]}#${ref[1]}`
  const cached = functions.get(key)
  if (cached !== undefined) return cached
  if (ref[0] === '') {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a self-contained function shipped as source
    const fn = (new Function(`return (${ref[1]})`) as () => Body)()
    functions.set(key, fn)
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
    functions.set(key, fn as Body)
    return fn as Body
  })
}

// ---- addresses inside the worker --------------------------------------------------------------

let connection: Promise<NatsConnection> | undefined
let nc: NatsConnection | undefined
let pending: [string, Uint8Array][] = []

function publish(subject: string, data: Uint8Array): void {
  if (nc !== undefined && !nc.isClosed()) return nc.publish(subject, data)
  pending.push([subject, data])
  const options = JSON.parse(process.env.TASKOS_CLUSTER_CONNECTION ?? '{}') as ConnectionOptions
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

/** `t` with addresses revived in received messages and markers accepted by `send`. */
function context(t: TaskContext, self: AddressMarker | undefined, generator: boolean): TaskContext {
  return new Proxy(t, {
    get(target, prop) {
      if (prop === 'receive') {
        // a generator task waits with yield*, an async one with await: revive the message either way
        if (generator) {
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
      if (prop === 'address') return self === undefined ? undefined : new WorkerAddress(self)
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Generator).next === 'function' && typeof (value as Generator).throw === 'function'
}

/** The arguments: the array itself, or serialized (large ones, and durable tasks). */
function argsOf(args: unknown[] | Uint8Array): unknown[] {
  return revive(args instanceof Uint8Array ? decode<unknown[]>(args) : args) as unknown[]
}

/**
 * Runs a shipped plain or async task function (see the module comment). Its arguments arrive as
 * values (copied by the pool), or serialized when they were large; its result leaves as a value
 * with tasks replaced by address markers (the node serializes it with its batch).
 */
export const clusterRun = defineTask(import.meta.url, async function clusterRun(
  t: TaskContext,
  ref: RunnerRef,
  args: unknown[] | Uint8Array,
  self: AddressMarker | undefined,
): Promise<unknown> {
  const found = load(ref)
  const fn = typeof found === 'function' ? found : await found
  return wire(await fn(context(t, self, false), ...argsOf(args)))
})

/** Runs a shipped generator task function (the task must be a generator task to drive it). */
export const clusterRunGenerator = defineTask(import.meta.url, function* clusterRunGenerator(
  t: TaskContext,
  ref: RunnerRef,
  args: unknown[] | Uint8Array,
  self: AddressMarker | undefined,
): Generator<unknown, unknown, unknown> {
  const found = load(ref)
  const fn = typeof found === 'function' ? found : ((yield found) as Body)
  const body = fn(context(t, self, true), ...argsOf(args))
  const value = isGenerator(body) ? yield* body : body
  return wire(value)
})
