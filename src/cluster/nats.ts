/**
 * The NATS client packages, loaded on first use. Importing `taskos` (in every pool worker whose
 * task module imports it) must not pay for `@nats-io/*` (~40 ms for the transport alone): cluster
 * modules import them only as types and call these loaders on their async paths (connect, Node
 * start, Object Store, KV, JetStream). Each loader imports its package once and caches it; `core()`
 * is synchronous for code that runs only after a connection exists.
 * @module
 */
import type * as Core from '@nats-io/transport-node'
import type * as JetStream from '@nats-io/jetstream'
import type * as Kv from '@nats-io/kv'
import type * as Obj from '@nats-io/obj'
import { TaskosError } from '../kernel/index.js'
import { nodeCrypto } from '../pool/builtins.js'

let coreModule: typeof Core | undefined
let corePromise: Promise<typeof Core> | undefined
let jsPromise: Promise<typeof JetStream> | undefined
let kvPromise: Promise<typeof Kv> | undefined
let objPromise: Promise<typeof Obj> | undefined

/** `@nats-io/transport-node` (connect, headers, authenticators). */
export function loadCore(): Promise<typeof Core> {
  corePromise ??= import('@nats-io/transport-node').then((m) => (coreModule = m))
  return corePromise
}

/** The transport module once {@link loadCore} has resolved (every connection went through it). */
export function core(): typeof Core {
  if (coreModule === undefined)
    throw new TaskosError('ERR_INVALID_STATE', 'the NATS client is used before it was loaded (connect first)')
  return coreModule
}

/** `@nats-io/jetstream` (work queue). */
export function loadJetStream(): Promise<typeof JetStream> {
  jsPromise ??= import('@nats-io/jetstream')
  return jsPromise
}

/** `@nats-io/kv` (names). */
export function loadKv(): Promise<typeof Kv> {
  kvPromise ??= import('@nats-io/kv')
  return kvPromise
}

/** `@nats-io/obj` (code bundles and large payloads). */
export function loadObj(): Promise<typeof Obj> {
  objPromise ??= import('@nats-io/obj')
  return objPromise
}

// ---- unique ids --------------------------------------------------------------------------------

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const PREFIX_LENGTH = 14
const SEQUENCE_LENGTH = 8 // 62^8 < 2^53: exact in a double
const SEQUENCE_MAX = 62 ** SEQUENCE_LENGTH
let prefix = ''
let sequence = 0
let increment = 0

function randomDigits(n: number): string {
  const bytes = nodeCrypto().randomBytes(n)
  let out = ''
  for (const b of bytes) out += DIGITS[b % 62]
  return out
}

function reset(): void {
  prefix = randomDigits(PREFIX_LENGTH)
  const r = nodeCrypto().randomBytes(8)
  sequence = r.readUIntBE(0, 6) % (SEQUENCE_MAX / 2) // a random start in the lower half
  increment = 33 + (r.readUInt16BE(6) % 300)
}

/**
 * A unique id (22 letters and digits, usable in subjects and bucket keys), like NATS's nuid: a
 * random prefix and a sequence with a random start and step, so ids are cheap and never repeat.
 * Replaces `nuid` so that making ids needs no NATS package.
 */
export function uid(): string {
  sequence += increment
  if (prefix === '' || sequence >= SEQUENCE_MAX) reset()
  let n = sequence
  let tail = ''
  for (let i = 0; i < SEQUENCE_LENGTH; i++) {
    tail = DIGITS[n % 62]! + tail
    n = Math.floor(n / 62)
  }
  return prefix + tail
}
