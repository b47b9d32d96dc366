/**
 * Location transparency: a task (local, pooled or remote) put into a message or an argument
 * travels as an address marker `{ __taskosAddress: subject, id, name }` and comes out on the other
 * side as a {@link RemoteAddress} whose `send(message)` publishes to that subject. Each client
 * routes `P.client.<client>.mail.<task>` to its remote task wherever it runs now, and
 * `P.client.<client>.local.<n>` to a local task it handed out.
 *
 * Only arrays and plain objects are walked (typed arrays, Maps and class instances are left as
 * they are), up to 8 levels deep.
 * @module
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { Addressable } from '../kernel/index.js'
import { encode } from './protocol.js'

/** The wire form of a task address. */
export interface AddressMarker {
  readonly __taskosAddress: string
  readonly id: number | string
  readonly name: string | undefined
}

/**
 * A task on another machine (or in another client): an address you can `send` to, from anywhere
 * (`t.send(address, m)` too). Comparable by `subject`.
 */
export class RemoteAddress implements Addressable {
  /** The NATS subject its messages go to. */
  readonly subject: string
  /** The task's id where it lives. */
  readonly id: number | string
  readonly name: string | undefined
  readonly #nc: NatsConnection
  readonly #wire: (value: unknown) => unknown

  /** @internal */
  constructor(nc: NatsConnection, marker: AddressMarker, wire: (value: unknown) => unknown) {
    this.#nc = nc
    this.subject = marker.__taskosAddress
    this.id = marker.id
    this.name = marker.name
    this.#wire = wire
  }

  /**
   * Sends a message to the task (fire and forget, like a task's mailbox).
   * @returns false when the connection is closed.
   * @throws ERR_SERIALIZATION when the message cannot be serialized.
   */
  send(message: unknown): boolean {
    if (this.#nc.isClosed()) return false
    this.#nc.publish(this.subject, encode(this.#wire(message)))
    return true
  }

  /** @internal */
  toMarker(): AddressMarker {
    return { __taskosAddress: this.subject, id: this.id, name: this.name }
  }
}

export function isMarker(value: unknown): value is AddressMarker {
  return typeof value === 'object' && value !== null && typeof (value as AddressMarker).__taskosAddress === 'string'
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Replaces addressable tasks in `value` by markers (`mark` gives one, or undefined for an object
 * that is not a task). Returns `value` itself when nothing changed.
 */
export function toWire(value: unknown, mark: (value: object) => AddressMarker | undefined, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 8 || ArrayBuffer.isView(value)) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const w = toWire(v, mark, depth + 1)
      if (w !== v) (out ??= value.slice())[i] = w
    }
    return out ?? value
  }
  if (!isPlain(value)) return mark(value) ?? value
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key]
    const w = toWire(v, mark, depth + 1)
    if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[key] = w
  }
  return out ?? value
}

/** Replaces markers in `value` by addresses. Returns `value` itself when nothing changed. */
export function fromWire(value: unknown, revive: (marker: AddressMarker) => unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 8 || ArrayBuffer.isView(value)) return value
  if (isMarker(value)) return revive(value)
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const w = fromWire(v, revive, depth + 1)
      if (w !== v) (out ??= value.slice())[i] = w
    }
    return out ?? value
  }
  if (!isPlain(value)) return value
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key]
    const w = fromWire(v, revive, depth + 1)
    if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[key] = w
  }
  return out ?? value
}
