import assert from 'node:assert/strict'
import { Kernel, TaskosError, VirtualClock } from '../../src/kernel/index.js'
import type { ErrorCode } from '../../src/kernel/index.js'

/** A kernel on an auto-advancing virtual clock: timeouts run instantly and deterministically. */
export function setup(auto = true): { k: Kernel; clock: VirtualClock } {
  const clock = new VirtualClock({ auto })
  return { k: new Kernel({ clock }), clock }
}

/** Asserts no task is left running and no timer pending, then closes the kernel. */
export async function done(k: Kernel, clock?: VirtualClock): Promise<void> {
  assert.equal(k.stats().tasks.running, 0, 'no task left running')
  if (clock) assert.equal(clock.pending, 0, 'no timer left pending')
  await k.close()
}

/** Asserts `p` rejects with a TaskosError of `code` whose message matches `message`. */
export async function rejectsWith(
  p: PromiseLike<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<TaskosError> {
  try {
    await p
  } catch (error) {
    assert.ok(error instanceof TaskosError, `expected a TaskosError, got ${String(error)}`)
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`)
    if (message) assert.match(error.message, message)
    return error
  }
  assert.fail(`expected a rejection with ${code}`)
}

/** Asserts `fn` throws a TaskosError of `code`. */
export function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TaskosError, `expected a TaskosError, got ${String(e)}`)
    assert.equal(e.code, code)
    if (message) assert.match(e.message, message)
    return true
  })
}
