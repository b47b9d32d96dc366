/**
 * Names across machines (pycos naming): a KV bucket `taskos_<cluster>_names` maps a name to a task
 * address. `register` refuses a taken name; `locate` waits for the name to appear when given a
 * timeout. A name stays until `unregister` (or until the task registered through this client ends).
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { KV } from '@nats-io/kv'
import { TaskosError, TimeoutError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import type { AddressMarker } from './address.js'
import { loadKv } from './nats.js'
import { decode, encode } from './protocol.js'

const NAME = /^[A-Za-z0-9_=-][A-Za-z0-9_=.-]{0,127}$/

export class Names {
  readonly #nc: NatsConnection
  readonly #bucket: string
  readonly #replicas: number
  #kv: Promise<KV> | undefined

  constructor(nc: NatsConnection, bucket: string, replicas: number) {
    this.#nc = nc
    this.#bucket = bucket
    this.#replicas = replicas
  }

  #open(): Promise<KV> {
    this.#kv ??= loadKv().then(({ Kvm }) => new Kvm(this.#nc).create(this.#bucket, { history: 1, replicas: this.#replicas })).catch((error: unknown) => {
      this.#kv = undefined
      throw new TaskosError('ERR_INVALID_STATE', `names need JetStream (KV bucket ${this.#bucket}): ${(error as Error).message}`, { cause: error })
    })
    return this.#kv
  }

  static check(name: unknown): string {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid name: ${describe(name)} (expected letters, digits, '-', '_', '=' or '.')`)
    }
    return name
  }

  async register(name: string, marker: AddressMarker): Promise<void> {
    const kv = await this.#open()
    try {
      await kv.create(name, encode(marker))
    } catch (error) {
      if (/exists|wrong last sequence/i.test((error as Error).message)) {
        throw new TaskosError('ERR_NAME_TAKEN', `the name '${name}' is registered already in this cluster`, { cause: error })
      }
      throw error
    }
  }

  async unregister(name: string): Promise<boolean> {
    const kv = await this.#open()
    const entry = await kv.get(name)
    if (entry === null || entry.operation !== 'PUT') return false
    await kv.delete(name)
    return true
  }

  async locate(name: string, timeout: number | undefined): Promise<AddressMarker> {
    const kv = await this.#open()
    const entry = await kv.get(name)
    if (entry !== null && entry.operation === 'PUT') return decode<AddressMarker>(entry.value)
    if (timeout === undefined || timeout <= 0) throw new TaskosError('ERR_UNKNOWN_NAME', `no task is registered as '${name}' in this cluster`)
    const watch = await kv.watch({ key: name })
    const timer = setTimeout(() => watch.stop(), timeout)
    try {
      for await (const e of watch) {
        if (e.operation === 'PUT') return decode<AddressMarker>(e.value)
      }
    } finally {
      clearTimeout(timer)
      watch.stop()
    }
    throw new TimeoutError(`no task was registered as '${name}' within ${timeout} ms`, timeout)
  }
}
