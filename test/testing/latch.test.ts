import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kernel, TaskosError } from '../../src/index.js'
import { Latch } from '../../src/testing/index.js'

test('latch: wait resolves after count countDowns, not before', async () => {
  const latch = new Latch(2)
  let opened = false
  const waiting = latch.wait().then(() => (opened = true))
  latch.countDown()
  await Promise.resolve()
  assert.equal(latch.count, 1)
  assert.equal(latch.tryWait(), false)
  assert.equal(opened, false)
  latch.countDown()
  await waiting
  assert.equal(opened, true)
  assert.equal(latch.count, 0)
  assert.equal(latch.tryWait(), true)
})

test('latch: a latch of 0 is open; counting down past zero is a no-op', async () => {
  const latch = new Latch(0)
  await latch.wait()
  latch.countDown()
  assert.equal(latch.count, 0)
})

test('latch: every waiter is released at zero', async () => {
  const latch = new Latch(1)
  const all = Promise.all([latch.wait(), latch.wait(), latch.wait()])
  latch.countDown()
  assert.deepEqual(await all, [undefined, undefined, undefined])
})

test('latch: a bad count throws ERR_INVALID_ARGUMENT', () => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    assert.throws(
      () => new Latch(bad),
      (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_ARGUMENT',
    )
  }
})

test('latch: orders a test after n tasks parked in receive, without sleeping', async () => {
  const k = new Kernel()
  const parked = new Latch(3)
  const tasks = [1, 2, 3].map((n) =>
    k.spawn(async (t) => {
      parked.countDown()
      return n * (await t.receive<number>())
    }),
  )
  await parked.wait()
  tasks.forEach((task) => task.send(10))
  assert.deepEqual(await Promise.all(tasks.map((task) => task.join())), [10, 20, 30])
  await k.close()
})

test('latch: a generator task can wait on it by yielding the promise', async () => {
  const k = new Kernel()
  const go = new Latch(1)
  const task = k.spawn(function* () {
    yield go.wait()
    return 'released'
  })
  assert.equal(task.status, 'running')
  go.countDown()
  assert.equal(await task.join(), 'released')
  await k.close()
})
