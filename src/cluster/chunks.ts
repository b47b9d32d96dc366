/**
 * Payloads above the server's max payload on the fast path: split into chunk messages published on
 * the same subject just before the message that refers to them (`{ c: key }`). NATS keeps the order
 * of one publisher's messages to one subscriber, so every chunk is there when the reference
 * arrives. (The durable path uses the Object Store instead: chunks do not survive a restart.)
 *
 * Chunk message: `{ ck: key, i: index, n: count, d: bytes }`.
 * @module
 */
import { uid } from './nats.js'
import { encode } from './protocol.js'

export interface Chunk {
  readonly ck: string
  readonly i: number
  readonly n: number
  readonly d: Uint8Array
}

/** Room for the chunk frame. */
const FRAME = 256

/** Encoded chunk messages of `bytes`, each at most `limit` bytes, and their key. */
export function toChunks(bytes: Uint8Array, limit: number): { key: string; messages: Uint8Array[] } {
  const key = uid()
  const size = Math.max(1024, limit - FRAME)
  const n = Math.ceil(bytes.byteLength / size)
  const messages: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const d = bytes.slice(i * size, Math.min(bytes.byteLength, (i + 1) * size))
    messages.push(encode({ ck: key, i, n, d } satisfies Chunk))
  }
  return { key, messages }
}

export function isChunk(value: unknown): value is Chunk {
  return typeof value === 'object' && value !== null && typeof (value as Chunk).ck === 'string'
}

/** Collects chunks until the message referring to them takes the whole payload. */
export class Reassembler {
  readonly #parts = new Map<string, { n: number; got: number; parts: Uint8Array[]; at: number }>()

  add(chunk: Chunk): void {
    let entry = this.#parts.get(chunk.ck)
    if (entry === undefined) {
      entry = { n: chunk.n, got: 0, parts: new Array<Uint8Array>(chunk.n), at: Date.now() }
      this.#parts.set(chunk.ck, entry)
      if (this.#parts.size > 64) this.#expire()
    }
    if (entry.parts[chunk.i] === undefined) entry.got++
    entry.parts[chunk.i] = chunk.d
  }

  /** The whole payload of `key`, or undefined when its chunks are missing (a lost connection). */
  take(key: string): Uint8Array | undefined {
    const entry = this.#parts.get(key)
    this.#parts.delete(key)
    if (entry === undefined || entry.got !== entry.n) return undefined
    const total = entry.parts.reduce((s, p) => s + p.byteLength, 0)
    const out = new Uint8Array(total)
    let at = 0
    for (const p of entry.parts) {
      out.set(p, at)
      at += p.byteLength
    }
    return out
  }

  /** Drops payloads nobody took within a minute (their reference was lost). */
  #expire(): void {
    const old = Date.now() - 60_000
    for (const [key, entry] of this.#parts) if (entry.at < old) this.#parts.delete(key)
  }
}
