/**
 * {@link Channel}: publish-subscribe messaging between tasks (pycos `Channel`).
 *
 * A channel keeps a set of subscribers (tasks, or other channels that forward) and copies every
 * message into each live subscriber's mailbox. It holds no messages itself: a message sent while
 * nobody is subscribed reaches nobody (`send` returns 0); `deliver` waits for subscribers first.
 * Forwarding channels form a graph without cycles (a subscription that would close one is refused),
 * so a message reaches every task at most once per path.
 * @module
 */
import type { Clock } from './clock.js'
import { TaskosError, describe as render, invalidArgument, invalidOption } from './errors.js'
import type { Operation } from './operation.js'
import { SyncOp, WaitList, checkWaitOptions, clockOf } from './sync.js'
import type { CheckedWait, SyncOptions, WaitOptions } from './sync.js'
import type { Task } from './types.js'

/** Options of `new Channel()`. */
export type ChannelOptions = SyncOptions

/** Options of `channel.deliver()`. */
export interface DeliverOptions extends WaitOptions {
  /** Wait until at least this many subscribers are subscribed, an integer >= 0. @default 1 */
  n?: number
}

/** A snapshot of a {@link Channel}; plain and JSON-safe. */
export interface ChannelStats {
  /** The channel's name, or null. */
  name: string | null
  /** Subscribers now (tasks and channels; ended tasks not yet dropped may be counted). */
  subscribers: number
  /** Messages sent so far (by `send` and `deliver`, and forwarded into this channel). */
  sent: number
  /** Copies put into mailboxes so far, through forwarding channels too. */
  received: number
  /** `deliver` calls waiting for subscribers now. */
  delivering: number
  /** Whether the channel is closed. */
  closed: boolean
}

/** What a channel can subscribe: a task (any executor's) or another channel. */
export type Subscriber<T> = Task | Channel<T>

const DEFAULTS = Object.freeze({ n: 1 })

/**
 * A broadcast channel (pycos Channel): `send` puts a copy of each message into every subscribed
 * task's mailbox; subscribed channels forward to their own subscribers.
 *
 * Tasks that have ended are dropped from the subscribers automatically (when a message finds them
 * gone, or when subscribers are counted). A channel can be registered under a name with
 * `kernel.register(name, channel)`; `t.send(name, msg)` then sends through it and returns whether
 * at least one task received the message.
 * @typeParam T - the messages the channel carries.
 * @example
 * const news = new Channel<string>('news')
 * const reader = k.spawn(function* (t) {
 *   news.subscribe(t.task)
 *   return yield* t.receive<string>()
 * })
 * news.send('hello')            // 1: one subscriber received it
 * await reader.join()           // 'hello'
 */
export class Channel<T = unknown> {
  readonly #name: string | undefined
  readonly #clock: Clock
  readonly #subscribers = new Set<Subscriber<T>>()
  readonly #pending = new WaitList<DeliverOp<T>>()
  #closed = false
  #sent = 0
  #received = 0

  /**
   * @param name - a name for messages and stats (not registered: see `kernel.register`).
   * @param options - `kernel`: whose clock runs `deliver` timeouts. @default defaultKernel()
   * @throws ERR_INVALID_ARGUMENT for a `name` that is not a string or bad `options`;
   *   ERR_INVALID_OPTION for a bad `kernel`.
   */
  constructor(name?: string, options?: ChannelOptions) {
    if (name !== undefined && typeof name !== 'string')
      throw invalidArgument('channel name', name, 'a string')
    this.#name = name
    this.#clock = clockOf(options)
  }

  /** The name given to the constructor, if any. */
  get name(): string | undefined {
    return this.#name
  }

  /** `channel 'name'` or `channel`, for messages. */
  get label(): string {
    return this.#name === undefined ? 'channel' : `channel ${render(this.#name)}`
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** The number of live subscribers (tasks and channels); drops ended tasks and closed channels. */
  get subscribers(): number {
    this.#prune()
    return this.#subscribers.size
  }

  /**
   * Subscribes a task (its mailbox receives every message sent from now on) or a channel (which
   * forwards every message to its own subscribers). Subscribing twice is a no-op.
   * @returns true if added; false if it was subscribed already.
   * @throws ERR_CLOSED when this channel is closed; ERR_INVALID_ARGUMENT for something that is not a
   *   task or channel, or a channel that forwards (directly or not) to this one (a cycle);
   *   ERR_INVALID_STATE for a task that has ended or a channel that is closed.
   * @example
   * news.subscribe(t.task)
   * allNews.subscribe(sportsNews)   // messages sent to allNews reach sportsNews's subscribers too
   */
  subscribe(subscriber: Subscriber<T>): boolean {
    this.#checkOpen('subscribe')
    if (subscriber instanceof Channel) {
      if (subscriber.#closed) {
        throw new TaskosError('ERR_INVALID_STATE', `${subscriber.label} is closed: it cannot subscribe`)
      }
      if (subscriber === this || subscriber.#reaches(this)) {
        throw new TaskosError(
          'ERR_INVALID_ARGUMENT',
          `${this.label}: subscribing ${subscriber === this ? 'itself' : subscriber.label} would make a ` +
            'forwarding cycle',
        )
      }
    } else if (!isTask(subscriber)) {
      throw invalidArgument('subscriber', subscriber, 'a task or a channel')
    } else if (subscriber.status !== 'running') {
      throw new TaskosError(
        'ERR_INVALID_STATE',
        `${taskLabel(subscriber)} has ended (${subscriber.status}): it cannot subscribe`,
      )
    }
    if (this.#subscribers.has(subscriber)) return false
    this.#subscribers.add(subscriber)
    if (this.#pending.length > 0) this.#wakeDeliveries()
    return true
  }

  /**
   * Removes a subscriber; messages sent later do not reach it.
   * @returns whether it was subscribed.
   * @example
   * news.unsubscribe(t.task)
   */
  unsubscribe(subscriber: Subscriber<T>): boolean {
    return this.#subscribers.delete(subscriber)
  }

  /**
   * Sends a message to every subscriber now: into each subscribed task's mailbox, and through each
   * subscribed channel to its subscribers. Never waits; with no subscribers the message is lost.
   * @returns how many task mailboxes received it (through forwarding channels too).
   * @throws ERR_CLOSED when the channel is closed.
   * @example
   * const n = news.send('extra!')
   */
  send(message: T): number {
    this.#checkOpen('send')
    return this.#forward(message)
  }

  /**
   * Sends a message once at least `n` subscribers are subscribed (pycos deliver), at once if
   * they are. Awaitable, and `yield*`-able in generator tasks.
   * @param options - `n` (@default 1), `timeout` (ms, @default none), `signal` (@default none).
   * @returns an operation giving how many task mailboxes received the message (it may differ from
   *   `n`: forwarding channels count their own subscribers).
   * @throws ERR_INVALID_OPTION for a bad `n`, `timeout` or `signal`; as a rejection: ERR_CLOSED when
   *   the channel is or gets closed, ERR_TIMEOUT when `timeout` expires first (the message is then
   *   not sent), the signal's reason, the task's cancellation error.
   * @example
   * const received = yield* jobs.deliver({ job: 1 }, { n: 3, timeout: 5000 })
   */
  deliver(message: T, options?: DeliverOptions): Operation<number> {
    const checked = checkWaitOptions(options)
    const n = options?.n ?? DEFAULTS.n
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw invalidOption('n', n, 'an integer >= 0')
    }
    return new DeliverOp<T>(this, message, n, this.#clock, checked)
  }

  /**
   * Closes the channel: it drops its subscribers, pending `deliver` calls reject with ERR_CLOSED,
   * and later `send`, `deliver` and `subscribe` fail with ERR_CLOSED. Channels that forward to it
   * drop it. A name registered for it stays registered until `kernel.unregister`. Idempotent.
   * @example
   * news.close()
   */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#subscribers.clear()
    const error = new TaskosError('ERR_CLOSED', `${this.label} was closed`)
    for (const op of this.#pending.drain()) op.reject(error)
  }

  /** `using channel = new Channel()`: closes it. */
  [Symbol.dispose](): void {
    this.close()
  }

  /**
   * Counters: name, subscribers, messages sent, copies received, pending deliveries, closed. Cheap
   * (does not drop ended subscribers).
   * @example
   * news.stats()   // { name: 'news', subscribers: 2, sent: 10, received: 20, delivering: 0, closed: false }
   */
  stats(): ChannelStats {
    return {
      name: this.#name ?? null,
      subscribers: this.#subscribers.size,
      sent: this.#sent,
      received: this.#received,
      delivering: this.#pending.length,
      closed: this.#closed,
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new TaskosError('ERR_CLOSED', `${this.label} is closed: cannot ${what}`)
  }

  /** Sends to every subscriber, dropping ended tasks and closed channels; counts the recipients. */
  #forward(message: T): number {
    this.#sent++
    let count = 0
    for (const sub of this.#subscribers) {
      if (sub instanceof Channel) {
        if (sub.#closed) this.#subscribers.delete(sub)
        else count += sub.#forward(message)
      } else if (sub.send(message)) count++
      else this.#subscribers.delete(sub) // the task has ended
    }
    this.#received += count
    return count
  }

  /** Drops ended tasks and closed channels. */
  #prune(): void {
    for (const sub of this.#subscribers) {
      if (sub instanceof Channel ? sub.#closed : sub.status !== 'running') this.#subscribers.delete(sub)
    }
  }

  /** Whether a message sent here reaches `target` (depth-first through forwarding channels). */
  #reaches(target: Channel<T>): boolean {
    for (const sub of this.#subscribers) {
      if (sub instanceof Channel && (sub === target || sub.#reaches(target))) return true
    }
    return false
  }

  /** Completes the pending deliveries that now have enough subscribers, oldest first. */
  #wakeDeliveries(): void {
    for (const op of [...this.#pending]) {
      if (this.subscribers >= op.n) {
        this.#pending.remove(op)
        op.resolve(this.#forward(op.message))
      }
    }
  }

  /** @internal a deliver starts: send now, or park. */
  _deliver(op: DeliverOp<T>): void {
    this.#checkOpen('deliver')
    if (this.subscribers >= op.n) op.resolve(this.#forward(op.message))
    else this.#pending.push(op)
  }

  /** @internal */
  _withdraw(op: DeliverOp<T>): void {
    this.#pending.remove(op)
  }
}

/** `channel.deliver()`. */
class DeliverOp<T> extends SyncOp<number> {
  readonly #channel: Channel<T>
  readonly message: T
  readonly n: number
  constructor(channel: Channel<T>, message: T, n: number, clock: Clock, options: CheckedWait) {
    super(clock, options)
    this.#channel = channel
    this.message = message
    this.n = n
  }
  protected attempt(): void {
    this.#channel._deliver(this)
  }
  protected withdraw(): void {
    this.#channel._withdraw(this)
  }
  protected describe(): string {
    const c = this.#channel
    return `deliver on ${c.label} (waiting for ${this.n} subscribers, ${c.stats().subscribers} now)`
  }
}

function isTask(value: unknown): value is Task {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Task).send === 'function' &&
    typeof (value as Task).status === 'string'
  )
}

function taskLabel(task: Task): string {
  const label = (task as { label?: unknown }).label
  return typeof label === 'string' ? label : `task #${task.id}`
}
