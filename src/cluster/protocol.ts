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
 * - A task's fields (in a {@link RunBatch}'s columns, or as the TaskSpec `[id, fence, code, args,
 *   name]` of a durable {@link WorkItem}): `id` unique per client; `fence` the attempt
 *   number (1, 2, …); the client keeps only results whose fence is the task's current attempt.
 *   `code` is `['h', bundleHash, exportName, generator]` (a shipped bundle) or
 *   `['s', source, generator]` (a self-contained function); `generator` is 1 for a generator
 *   function. `args` is the argument array itself (fast path: it is serialized with its whole
 *   batch), or a {@link Payload}: the serialized argument array, or `{ o: key }` / `{ c: key }` when
 *   it was too large and travels through the Object Store / as chunk messages (see chunks.ts)
 *   published on the same subject just before.
 * - {@link RunBatch}: the tasks of one message in column form (one `v8.serialize` for the batch,
 *   no object or buffer per task): `ids[i]`, `fences[i]`, `codes[code[i]]` (`code` a number: every
 *   task's code), `args[i]`: the argument array, or a Payload when `i` is in `enc`.
 * - {@link ResultBatch}, column form too: `ids[i]`, `fences[i]`, `kinds[i]`, `values[i]`; `kinds`
 *   1 = value, 0 = serialized error, 2 = crashed (error), 3 = progress (`[done, total]`),
 *   4 = started; `values[i]` is a Payload (serialized) when `i` is in `enc` (large results,
 *   durable results), the value itself otherwise.
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

/** A task's arguments: the argument array itself, or serialized (a {@link Payload}). */
export type TaskArgs = unknown[] | Payload

export type TaskSpec = [id: number, fence: number, code: CodeRef, args: TaskArgs, name: string | undefined]

/** Tasks for one node, in column form (see the module comment). */
export interface RunBatch {
  readonly c: string
  readonly ids: number[]
  readonly fences: number[]
  readonly codes: CodeRef[]
  readonly code: number[] | number
  readonly args: TaskArgs[]
  readonly enc: number[] | undefined
}

export const OK = 1
export const FAILED = 0
export const CRASHED = 2
export const PROGRESS = 3
export const STARTED = 4

/** Results for one client, in column form (see the module comment). */
export interface ResultBatch {
  readonly n: string
  readonly ids: number[]
  readonly fences: number[]
  readonly kinds: number[]
  readonly values: unknown[]
  readonly enc: number[] | undefined
}

/**
 * Whether `value` (or an element of it, when an array) is binary data larger than `limit` bytes: a
 * batch holding it cannot fit one message, so it is not serialized as a whole first.
 */
export function holdsLarge(value: unknown, limit: number): boolean {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength > limit
  if (!Array.isArray(value)) return false
  for (const v of value as unknown[]) if ((ArrayBuffer.isView(v) || v instanceof ArrayBuffer) && v.byteLength > limit) return true
  return false
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
  /** Its `args` is the argument array, or an Object Store key (`{ o }`) when large. */
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
  /** Tasks that ended there since the node started: done, and failed (their code threw). */
  readonly completed: number
  readonly failed: number
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
