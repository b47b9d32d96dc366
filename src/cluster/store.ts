/**
 * The Object Store side of the cluster: code bundles by content hash, and arguments, results and
 * messages too large for one NATS message (they travel as a key, fetched and deleted by the reader).
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { ObjectStore } from '@nats-io/obj'
import { TaskosError } from '../kernel/index.js'
import { loadObj, uid } from './nats.js'
import type { Payload } from './protocol.js'

/** Room left in a message for the batch frame and headers. */
const FRAME_MARGIN = 16 * 1024

/**
 * Retries JetStream calls that time out: right after an R3 bucket is made (or a server of a NATS
 * cluster is lost) its stream may be electing a leader for a moment.
 */
async function retry<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f()
    } catch (error) {
      if (attempt >= 4 || !/timeout|no responders|leader/i.test((error as Error).message ?? '')) throw error
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
    }
  }
}

export class Store {
  readonly #nc: NatsConnection
  readonly #bucket: string
  readonly #replicas: number
  #store: Promise<ObjectStore> | undefined

  constructor(nc: NatsConnection, bucket: string, replicas: number) {
    this.#nc = nc
    this.#bucket = bucket
    this.#replicas = replicas
  }

  /** The largest payload sent inline. */
  get inlineLimit(): number {
    return Math.max(1024, (this.#nc.info?.max_payload ?? 1024 * 1024) - FRAME_MARGIN)
  }

  #open(): Promise<ObjectStore> {
    this.#store ??= loadObj().then(({ Objm }) => retry(() => new Objm(this.#nc).create(this.#bucket, { replicas: this.#replicas }))).catch((error: unknown) => {
      this.#store = undefined
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `the cluster needs JetStream (Object Store bucket ${this.#bucket}): ${(error as Error).message}; start nats-server with -js`,
        { cause: error },
      )
    })
    return this.#store
  }

  /** Inline bytes when small, else an Object Store key. */
  async put(bytes: Uint8Array): Promise<Payload> {
    if (bytes.byteLength <= this.inlineLimit) return bytes
    const store = await this.#open()
    const key = `data-${uid()}`
    await retry(() => store.putBlob({ name: key }, bytes))
    return { o: key }
  }

  /** Bytes of a payload; an Object Store payload is deleted once read. */
  async get(payload: Payload): Promise<Uint8Array> {
    if (payload instanceof Uint8Array) return payload
    if (!('o' in payload)) throw new TaskosError('ERR_SERIALIZATION', `large payload ${payload.c} arrived incomplete (its connection was lost)`)
    const store = await this.#open()
    const bytes = await retry(() => store.getBlob(payload.o))
    if (bytes === null) throw new TaskosError('ERR_SERIALIZATION', `large payload ${payload.o} is missing from the Object Store`)
    store.delete(payload.o).catch(() => undefined)
    return bytes
  }

  /** Stores a code bundle under its hash unless it is there already. */
  async putCode(hash: string, code: Uint8Array): Promise<void> {
    const store = await this.#open()
    const name = `code-${hash}`
    if ((await retry(() => store.info(name))) !== null) return
    await retry(() => store.putBlob({ name }, code))
  }

  async getCode(hash: string): Promise<Uint8Array> {
    const store = await this.#open()
    const bytes = await retry(() => store.getBlob(`code-${hash}`))
    if (bytes === null) throw new TaskosError('ERR_INVALID_STATE', `code bundle ${hash} is missing from the Object Store`)
    return bytes
  }
}
