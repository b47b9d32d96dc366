/**
 * The cluster's wire protocol: subjects and message shapes. Every payload is a V8 structured-clone
 * serialization (`v8.serialize`), so typed arrays, Maps, Sets, Dates, BigInts and errors' plain
 * fields cross machines as they cross threads.
 *
 * Subjects (prefix `P` = `taskos.<cluster name>`):
 * - `P.pulse.<node>`        node → all:  {@link Pulse} every `pulseInterval` ms (and on start)
 * - `P.bye.<node>`          node → all:  the node stops (graceful)
 * - `P.discover`            client → nodes (request, many replies): each node answers a {@link Pulse}
 * - `P.node.<node>.run`     client → node: {@link RunBatch} (the fast path)
 * - `P.node.<node>.ctl`     client → node: {@link Control} (cancel, mail; resync is a request:
 *                            the node sends again the results it still holds of the listed tasks
 *                            and replies `{ missing: ids }`, the ones neither running nor held)
 * - `P.node.<node>.alive`   client → node: liveness probe; the server answers "503 no responders"
 *                            as soon as the node's connection is gone (the node never replies)
 * - `P.client.<client>.r`   node → client: {@link ResultBatch} (results, progress, starts)
 * - `P.client.<client>.mail.<task>` anyone → client: a message for one of its tasks (forwarded to
 *                            the node running it): this subject is the task's address
 * - `P.work`                client → JetStream work queue: one {@link WorkItem} per durable task
 *
 * Field by field:
 * - TaskSpec `[id, fence, code, args, name, retries]`: `id` unique per client; `fence` the attempt
 *   number (1, 2, …); the client keeps only results whose fence is the task's current attempt.
 *   `code` is `['h', bundleHash, exportName, generator]` (a shipped bundle) or
 *   `['s', source, generator]` (a self-contained function); `generator` is 1 for a generator function. `args` is the serialized argument array, or `{ o: key }` /
 *   `{ c: key }` when it was too large and travels through the Object Store / as chunk messages
 *   (see chunks.ts) published on the same subject just before.
 * - Result `[id, fence, ok, payload]`: `ok` 1 = value, 0 = serialized error, 2 = crashed (error),
 *   3 = progress (`payload` = [done, total]), 4 = started.
 * @module
 */
import { deserialize, serialize } from 'node:v8'

/**
 * A code reference: a shipped bundle and export name, or a self-contained function's source; the
 * last field is 1 for a generator function (its body needs a generator task on the node).
 */
export type CodeRef = readonly ['h', string, string, 0 | 1] | readonly ['s', string, 0 | 1]

/**
 * Serialized bytes; or, when too large for one message, a key of the Object Store bucket holding
 * them (`o`, the durable path) or of the chunk messages sent just before (`c`, the fast path).
 */
export type Payload = Uint8Array | { readonly o: string } | { readonly c: string }

export type TaskSpec = [id: number, fence: number, code: CodeRef, args: Payload, name: string | undefined]

export interface RunBatch {
  readonly c: string
  readonly tasks: TaskSpec[]
}

export const OK = 1
export const FAILED = 0
export const CRASHED = 2
export const PROGRESS = 3
export const STARTED = 4

export type ResultSpec = [id: number, fence: number, kind: number, payload: Payload | [number, number | undefined] | undefined]

export interface ResultBatch {
  readonly n: string
  readonly results: ResultSpec[]
}

export type Control =
  | { readonly k: 'cancel'; readonly c: string; readonly id: number; readonly reason: string }
  | { readonly k: 'mail'; readonly c: string; readonly id: number; readonly data: Payload }
  /** After a reconnect: results of these tasks may have been lost; the reply lists the unknown ones. */
  | { readonly k: 'resync'; readonly c: string; readonly id: number; readonly ids: readonly number[] }

/** One durable task on the JetStream work queue. */
export interface WorkItem {
  readonly c: string
  readonly retries: number
  readonly task: TaskSpec
}

/** A node's status pulse. */
export interface Pulse {
  readonly id: string
  readonly name: string
  readonly hostname: string
  readonly pid: number
  readonly slots: number
  readonly freeSlots: number
  readonly running: number
  readonly cpu: number
  readonly load: readonly number[]
  readonly memory: { readonly total: number; readonly free: number }
  readonly disk: { readonly total: number; readonly free: number }
  readonly tags: readonly string[]
  readonly maxMemory: number
  readonly started: number
  readonly interval: number
}

export function subjects(prefix: string) {
  return {
    pulse: (node: string) => `${prefix}.pulse.${node}`,
    pulses: `${prefix}.pulse.*`,
    bye: (node: string) => `${prefix}.bye.${node}`,
    byes: `${prefix}.bye.*`,
    discover: `${prefix}.discover`,
    run: (node: string) => `${prefix}.node.${node}.run`,
    ctl: (node: string) => `${prefix}.node.${node}.ctl`,
    alive: (node: string) => `${prefix}.node.${node}.alive`,
    client: (client: string) => `${prefix}.client.${client}`,
    results: (client: string) => `${prefix}.client.${client}.r`,
    mail: (client: string, task: number) => `${prefix}.client.${client}.mail.${task}`,
    work: `${prefix}.work`,
  }
}

export type Subjects = ReturnType<typeof subjects>

export function encode(value: unknown): Uint8Array {
  return serialize(value)
}

export function decode<T>(bytes: Uint8Array): T {
  return deserialize(bytes) as T
}

/** Names usable in subjects and bucket names: letters, digits, `-` and `_`. */
export function safeName(value: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(value)
}
