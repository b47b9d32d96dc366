/**
 * The client's view of the nodes: pulses in, `host-up`/`host-down` out. A node is down when it
 * missed 3 pulses, when it said goodbye, or at once when its NATS connection is gone: a liveness
 * probe every 50 ms is published with a reply subject to the node's `alive` subject, and the server
 * answers "503 no responders" as soon as the node's subscription vanished with its connection.
 * @module
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import { core } from './nats.js'
import type { RemoteTask } from './remote-task.js'
import type { Pulse, Subjects } from './protocol.js'

/** One host as `cluster.hosts()` lists it (the PVM host list). */
export interface HostInfo {
  /** Node id (unique per node process). */
  readonly id: string
  /** Node name (`--name`), default host name and pid. */
  readonly name: string
  readonly hostname: string
  readonly pid: number
  readonly slots: number
  /** Free slots as of the last pulse. */
  readonly freeSlots: number
  /** Tasks running there as of the last pulse. */
  readonly running: number
  /** Tasks that ended there (done, and failed) since the node started, as of the last pulse. */
  readonly completed: number
  readonly failed: number
  /** CPU use (%) of the machine over the last pulse period. */
  readonly cpu: number
  /** 1, 5 and 15-minute load averages. */
  readonly load: readonly number[]
  readonly memory: { readonly total: number; readonly free: number }
  readonly disk: { readonly total: number; readonly free: number }
  readonly tags: readonly string[]
  /** Memory the node offers to tasks (bytes). */
  readonly maxMemory: number
  /** Whether its last pulse is recent (within 3 pulse periods) and its connection is up. */
  readonly responsive: boolean
  /** When its last pulse arrived (ms since the epoch). */
  readonly lastSeen: number
}

/** @internal a tracked host. */
export interface HostEntry {
  id: string
  name: string
  pulse: Pulse
  lastSeen: number
  up: boolean
  leaving: boolean
  readonly inflight: Set<RemoteTask<unknown>>
}

export const PROBE_INTERVAL = 50

export class Hosts {
  readonly map = new Map<string, HostEntry>()
  readonly #nc: NatsConnection
  readonly #s: Subjects
  readonly #client: string
  readonly #onUp: (h: HostEntry) => void
  readonly #onDown: (h: HostEntry, reason: string) => void
  readonly #probeHeaders: MsgHdrs = core().headers()
  #timer: NodeJS.Timeout | undefined

  constructor(nc: NatsConnection, s: Subjects, client: string, onUp: (h: HostEntry) => void, onDown: (h: HostEntry, reason: string) => void) {
    this.#nc = nc
    this.#s = s
    this.#client = client
    this.#onUp = onUp
    this.#onDown = onDown
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), PROBE_INTERVAL)
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  pulse(p: Pulse): void {
    let h = this.map.get(p.id)
    if (h === undefined) {
      h = { id: p.id, name: p.name, pulse: p, lastSeen: Date.now(), up: true, leaving: false, inflight: new Set() }
      this.map.set(p.id, h)
      this.#onUp(h)
      return
    }
    h.pulse = p
    h.lastSeen = Date.now()
  }

  bye(id: string): void {
    const h = this.map.get(id)
    if (h !== undefined) h.leaving = true
  }

  /** The server said no one listens on a node's alive subject: its connection is gone. */
  gone(id: string): void {
    const h = this.map.get(id)
    if (h !== undefined) this.down(h, 'its NATS connection closed')
  }

  down(h: HostEntry, reason: string): void {
    if (!h.up) return
    h.up = false
    this.map.delete(h.id)
    this.#onDown(h, reason)
  }

  #tick(): void {
    if (this.#nc.isClosed()) return
    const now = Date.now()
    for (const h of this.map.values()) {
      if (now - h.lastSeen > 3 * h.pulse.interval + PROBE_INTERVAL) {
        this.down(h, `it missed 3 pulses (${3 * h.pulse.interval} ms)`)
        continue
      }
      this.#nc.publish(this.#s.alive(h.id), undefined, { reply: `${this.#s.client(this.#client)}.probe.${h.id}`, headers: this.#probeHeaders })
    }
  }

  info(h: HostEntry): HostInfo {
    const p = h.pulse
    return {
      id: h.id,
      name: h.name,
      hostname: p.hostname,
      pid: p.pid,
      slots: p.slots,
      freeSlots: p.freeSlots,
      running: p.running,
      completed: p.completed,
      failed: p.failed,
      cpu: p.cpu,
      load: p.load,
      memory: p.memory,
      disk: p.disk,
      tags: p.tags,
      maxMemory: p.maxMemory,
      responsive: h.up && Date.now() - h.lastSeen <= 3 * p.interval,
      lastSeen: h.lastSeen,
    }
  }
}
