import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Emitter, Kernel, VirtualClock, realClock } from '../../src/kernel/index.js'
import { done, throwsCode } from './helpers.js'

test('virtual clock: timers fire in time order, ties in the order they were set', async () => {
  const clock = new VirtualClock({ start: 1000 })
  const fired: string[] = []
  clock.setTimer(20, () => fired.push(`b@${clock.now()}`))
  clock.setTimer(10, () => fired.push(`a@${clock.now()}`))
  clock.setTimer(20, () => fired.push(`c@${clock.now()}`))
  const cleared = clock.setTimer(15, () => fired.push('never'))
  clock.clearTimer(cleared)
  assert.equal(clock.pending, 3)
  await clock.advance(25)
  assert.deepEqual(fired, ['a@1010', 'b@1020', 'c@1020'])
  assert.equal(clock.now(), 1025)
  assert.equal(clock.pending, 0)
})

test('virtual clock: timers set while advancing fire inside the same window', async () => {
  const clock = new VirtualClock()
  const fired: number[] = []
  clock.setTimer(10, () => {
    fired.push(clock.now())
    clock.setTimer(5, () => fired.push(clock.now()))
  })
  await clock.advance(15)
  assert.deepEqual(fired, [10, 15])
})

test('virtual clock: runAll fires everything and reports the count; bad input is refused', async () => {
  const clock = new VirtualClock()
  let n = 0
  for (let i = 0; i < 5; i++) clock.setTimer(i * 100, () => n++)
  assert.equal(await clock.runAll(), 5)
  assert.equal(n, 5)
  assert.equal(clock.now(), 400)
  await assert.rejects(clock.advance(-1), /invalid ms: -1/)
  throwsCode(() => new VirtualClock({ start: NaN }), 'ERR_INVALID_OPTION', /start/)
})

test('virtual clock: auto-advance waits while a kernel has runnable work', async () => {
  const clock = new VirtualClock({ auto: true })
  const k = new Kernel({ clock })
  const order: string[] = []
  const busy = k.spawn(function* (t) {
    for (let i = 0; i < 2000; i++) yield* t.yield() // stays runnable for many turns
    order.push(`busy done @${clock.now()}`)
  })
  const sleeper = k.spawn(function* (t) {
    yield* t.sleep(1)
    order.push(`sleeper @${clock.now()}`)
  })
  await Promise.all([busy.join(), sleeper.join()])
  assert.deepEqual(order, ['busy done @0', 'sleeper @1'])
  await done(k, clock)
})

test('real clock: timers fire and can be cleared', async () => {
  let fired = false
  const h = realClock.setTimer(1, () => (fired = true))
  realClock.clearTimer(h)
  await new Promise((r) => setTimeout(r, 5))
  assert.equal(fired, false)
  assert.ok(realClock.now() > 0)
})

test('emitter: typed listeners in order, off, listening', () => {
  type E = { type: 'a'; n: number } | { type: 'b' }
  const em = new Emitter<E>()
  const got: number[] = []
  const off = em.on('a', (e) => got.push(e.n))
  em.on('a', (e) => got.push(e.n * 10))
  assert.equal(em.emit({ type: 'a', n: 1 }), true)
  off()
  em.emit({ type: 'a', n: 2 })
  assert.deepEqual(got, [1, 10, 20])
  assert.equal(em.emit({ type: 'b' }), false)
  assert.equal(em.listening('b'), false)
})
