/**
 * Typed arrays over `SharedArrayBuffer`: passed to thread workers without a copy (both sides see
 * the same memory). To worker processes they cannot go: a process has its own memory, so there a
 * shared array fails with ERR_SERIALIZATION; use plain typed arrays (copied) or `transfer`.
 * @module
 */
import { TaskosError, describe } from '../kernel/errors.js'

function length(n: unknown): number {
  if (!Number.isInteger(n) || (n as number) < 0) {
    throw new TaskosError('ERR_INVALID_ARGUMENT', `invalid length: ${describe(n)} (expected an integer >= 0)`)
  }
  return n as number
}

/** Shared-memory typed arrays: zero-copy across worker threads. */
export const shared = Object.freeze({
  /** A shared Float64Array of `n` zeros. */
  float64(n: number): Float64Array {
    return new Float64Array(new SharedArrayBuffer(length(n) * 8))
  },
  /** A shared Float32Array of `n` zeros. */
  float32(n: number): Float32Array {
    return new Float32Array(new SharedArrayBuffer(length(n) * 4))
  },
  /** A shared Int32Array of `n` zeros (usable with Atomics). */
  int32(n: number): Int32Array {
    return new Int32Array(new SharedArrayBuffer(length(n) * 4))
  },
  /** A shared Uint8Array of `n` zeros. */
  uint8(n: number): Uint8Array {
    return new Uint8Array(new SharedArrayBuffer(length(n)))
  },
  /** A shared copy of a typed array (one copy now, none afterwards). */
  from<T extends Float64Array | Float32Array | Int32Array | Uint8Array>(source: T): T {
    const C = source.constructor as new (buffer: SharedArrayBuffer) => T
    const copy = new C(new SharedArrayBuffer(source.byteLength))
    ;(copy as unknown as { set(a: T): void }).set(source)
    return copy
  },
  /** Whether a typed array lives in shared memory. */
  isShared(array: ArrayBufferView): boolean {
    return array.buffer instanceof SharedArrayBuffer
  },
})
