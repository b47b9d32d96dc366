import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HOLD_MS, SHORT_WAIT_MS, SPIN_MS, SPIN_WORK_MS, Spinner } from '../../src/pool/spin.js'
import type { SpinClock } from '../../src/pool/spin.js'

/** A clock that moves `step` ms at every read, and holds the after-turn callbacks until `turn()`. */
function fakeClock(
  step: number,
): SpinClock & { t: number; reads: number; turns: (() => void)[]; turn(): void } {
  const clock = {
    t: 0,
    reads: 0,
    turns: [] as (() => void)[],
    now(): number {
      clock.reads++
      return (clock.t += step)
    },
    afterTurn(fn: () => void): void {
      clock.turns.push(fn)
    },
    turn(): void {
      for (const fn of clock.turns.splice(0)) fn()
    },
  }
  return clock
}

test('pool spin: a worker out of short work polls the doorbell for at most SPIN_MS, then stops spinning', () => {
  const clock = fakeClock(0.001)
  const bell = new Int32Array(1)
  let taken = 0
  const s = new Spinner(bell, () => taken++, clock)
  const t0 = clock.t
  s.idle(0.01)
  assert.equal(taken, 0)
  assert.ok(clock.t - t0 >= SPIN_MS && clock.t - t0 <= SPIN_MS + 0.01, `spun ${clock.t - t0} ms`)
  // it found nothing: the next idle period does not spin
  const reads = clock.reads
  s.woken() // work came late (no time passed in between here: clock reads are the only time)
  clock.t += 10 * SHORT_WAIT_MS
  s.idle(0.01)
  assert.ok(clock.reads - reads <= 3, 'no spin after a miss')
  // work that comes soon after the worker ran out of it turns spinning on again
  clock.t += SHORT_WAIT_MS / 4
  s.woken()
  clock.turn()
  Atomics.add(bell, 0, 1)
  s.idle(0.01)
  assert.equal(taken, 1, 'spins again after a short wait')
})

test('pool spin: a bumped doorbell is answered by taking the messages at once', () => {
  const clock = fakeClock(0.0001)
  const bell = new Int32Array(1)
  let taken = 0
  const s = new Spinner(bell, () => taken++, clock)
  Atomics.add(bell, 0, 1)
  const t0 = clock.t
  s.idle(0)
  assert.equal(taken, 1)
  assert.ok(clock.t - t0 < SPIN_MS / 10, 'took them without waiting')
  // the same doorbell value is not taken twice
  s.idle(0)
  assert.equal(taken, 1)
})

test('pool spin: no spin after work longer than SPIN_WORK_MS', () => {
  const clock = fakeClock(0.001)
  const bell = new Int32Array(1)
  let taken = 0
  const s = new Spinner(bell, () => taken++, clock)
  Atomics.add(bell, 0, 1)
  s.idle(SPIN_WORK_MS * 2)
  assert.equal(taken, 0)
  assert.equal(clock.reads, 1)
})

test('pool spin: work that keeps coming holds the event loop for at most HOLD_MS', () => {
  const clock = fakeClock(0.002)
  const bell = new Int32Array(1)
  let taken = 0
  // every take runs a task and ends idle again with the next message already waiting: the real
  // worker's chain (take → run → flush → idle) without an event-loop turn in between
  const s: Spinner = new Spinner(
    bell,
    () => {
      taken++
      Atomics.add(bell, 0, 1)
      s.idle(0.01)
    },
    clock,
  )
  Atomics.add(bell, 0, 1)
  const t0 = clock.t
  s.idle(0.01)
  const held = clock.t - t0
  assert.ok(taken > 10, `took ${taken}`)
  assert.ok(held >= HOLD_MS && held <= HOLD_MS + SPIN_MS, `held the loop ${held} ms`)
  assert.equal(clock.turns.length, 1, 'asked to hear of the next turn')
  // until the loop turned, no more spinning; then it spins again
  const before = taken
  s.idle(0.01)
  assert.equal(taken, before)
  clock.turn()
  s.idle(0.01)
  assert.ok(taken > before)
})
