/**
 * `cluster.channel(name)`: a kernel {@link Channel} whose messages go to every client of the
 * cluster that opened the same channel name (subject `P.chan.<name>`). Subscribers are local
 * (tasks or channels of this process, subscribed as with the kernel's Channel); `send` publishes to
 * every machine, this one included.
 * @module
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node'
import { Channel, TaskosError } from '../kernel/index.js'
import type { Subscriber } from '../kernel/index.js'
import { decode, encode } from './protocol.js'

/** Counters of a cluster channel. */
export interface ClusterChannelStats {
  name: string
  subscribers: number
  sent: number
  received: number
}

/** A channel spanning machines; see the module comment. */
export class ClusterChannel<T = unknown> {
  readonly name: string
  readonly #local: Channel<T>
  readonly #nc: NatsConnection
  readonly #subject: string
  readonly #wire: (v: unknown) => unknown
  readonly #revive: (v: unknown) => unknown
  #sub: Subscription | undefined
  #sent = 0
  #received = 0
  #closed = false

  /** @internal */
  constructor(nc: NatsConnection, name: string, subject: string, wire: (v: unknown) => unknown, revive: (v: unknown) => unknown) {
    this.name = name
    this.#nc = nc
    this.#subject = subject
    this.#wire = wire
    this.#revive = revive
    this.#local = new Channel<T>(name)
  }

  /**
   * Subscribes a local task or channel: it receives every message sent on this channel by any
   * machine. @returns false if it was subscribed already.
   */
  subscribe(subscriber: Subscriber<T>): boolean {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', `cluster channel ${this.name} is closed`)
    this.#sub ??= this.#nc.subscribe(this.#subject, {
      callback: (err, msg) => {
        if (err !== null) return
        try {
          this.#received++
          this.#local.send(this.#revive(decode(msg.data)) as T)
        } catch {
          // a message that cannot be decoded here is dropped
        }
      },
    })
    return this.#local.subscribe(subscriber)
  }

  /** Unsubscribes a local subscriber. */
  unsubscribe(subscriber: Subscriber<T>): boolean {
    return this.#local.unsubscribe(subscriber)
  }

  /**
   * Sends to every subscriber on every machine.
   * @returns 1 when published (receivers on other machines are not counted), 0 when closed.
   * @throws ERR_SERIALIZATION when the message cannot be serialized.
   */
  send(message: T): number {
    if (this.#closed || this.#nc.isClosed()) return 0
    this.#nc.publish(this.#subject, encode(this.#wire(message)))
    this.#sent++
    return 1
  }

  /** Waits until every message sent so far reached the server. */
  async flush(): Promise<void> {
    await this.#nc.flush()
  }

  /** Stops receiving; local subscribers are dropped. */
  close(): void {
    this.#closed = true
    this.#sub?.unsubscribe()
    this.#local.close()
  }

  stats(): ClusterChannelStats {
    return { name: this.name, subscribers: this.#local.stats().subscribers, sent: this.#sent, received: this.#received }
  }
}
