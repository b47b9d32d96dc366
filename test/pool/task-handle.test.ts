import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CancelledError, TaskosError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, defineTask } from '../../src/pool/index.js'
import type { PoolTask } from '../../src/pool/index.js'
import { add, echo, fail, inc } from '../fixtures/pool-tasks.js'
import { parked } from '../fixtures/pool-handshake.js'
import { LIMIT, allStarted, finish, rejectsWith, takeUnhandled, within, withPool } from './helpers.js'

// The task handle is awaitable without a promise of its own; these pin down that it behaves as a
// promise would, and that batches of mixed tasks (the column-form wire format) come back right.
describe('pool: the task handle', () => {
  let pool: Pool
  before(() => {
    pool = new Pool({ workers: 2 })
  })
  after(async () => {
    await finish(pool)
  })

  test('pool: then chains, and a throwing callback rejects the chained promise', { timeout: LIMIT }, async () => {
    const task = pool.run(add, [2, 3])
    const chained = task.then((v) => v * 10).then((v) => `${v}!`)
    assert.equal(await within(chained, 10_000, 'chain'), '50!')
    const thrown = task.then(() => {
      throw new Error('in the callback')
    })
    await assert.rejects(thrown, /in the callback/)
    assert.equal(await task.catch(() => 0), 5, 'catch passes a value through')
  })

  test('pool: several awaiters, before and after the end, all get the value', { timeout: LIMIT }, async () => {
    const task = pool.run(inc, [41])
    const early = [task.then((v) => v), task.then((v) => v + 1), Promise.resolve(task)]
    assert.deepEqual(await within(Promise.all(early), 10_000, 'awaiters'), [42, 43, 42])
    assert.equal(task.status, 'done')
    // after the end: each a fresh microtask later, as with a promise
    const order: string[] = []
    const late = task.then((v) => order.push(`then ${v}`))
    order.push('sync')
    await late
    assert.deepEqual(order, ['sync', 'then 42'])
    let finallyRan = false
    assert.equal(await task.finally(() => (finallyRan = true)), 42)
    assert.ok(finallyRan)
    assert.equal(await task.join(), 42)
    assert.deepEqual(await task.settle(), { status: 'done', value: 42 })
  })

  test('pool: a failure reaches then, catch, join and settle alike', { timeout: LIMIT }, async () => {
    const task = pool.run(fail, ['/full'])
    const [a, b] = await Promise.all([
      task.then(
        () => 'value',
        (e: unknown) => (e as Error).message,
      ),
      task.catch((e: unknown) => (e as Error).constructor.name),
    ])
    assert.equal(a, 'disk full writing /full')
    assert.equal(b, 'DiskFullError')
    await assert.rejects(task.join(), /disk full/)
    const outcome = await task.settle()
    assert.equal(outcome.status, 'failed')
  })

  test('pool: cancelled tasks nobody awaits (destroy, cancel) are not unhandled rejections', { timeout: LIMIT }, async () => {
    const other = new Pool({ workers: 1 })
    const [running] = await allStarted(other, () => [other.run(parked, ['x'])])
    const queued: PoolTask<number>[] = []
    for (let i = 0; i < 100; i++) queued.push(other.run(inc, [i]))
    const dropped = other.run(inc, [0])
    dropped.cancel()
    await within(other.destroy(), 10_000, 'destroy')
    assert.equal(running.status, 'cancelled')
    assert.ok(queued.every((t) => t.status === 'cancelled'))
    assert.deepEqual(await takeUnhandled(), [], 'nothing reported')
    // and whoever awaits them later gets the reason
    await rejectsWith(queued[0]!, 'ERR_CLOSED')
    const e = await dropped.then(
      () => undefined,
      (error: unknown) => error,
    )
    assert.ok(e instanceof CancelledError)
  })

  test('pool: one batch of mixed tasks: functions, argument counts, failures, a cancelled one', { timeout: LIMIT }, async () => {
    const triple = (_t: TaskContext, x: number) => x * 3
    const tasks: PromiseLike<unknown>[] = []
    const expected: unknown[] = []
    for (let i = 0; i < 300; i++) {
      switch (i % 6) {
        case 0:
          tasks.push(pool.run(inc, [i]))
          expected.push(i + 1)
          break
        case 1:
          tasks.push(pool.run(add, [i, 1000]))
          expected.push(i + 1000)
          break
        case 2:
          tasks.push(pool.run(triple, [i]))
          expected.push(i * 3)
          break
        case 3: {
          // a fresh closure with the same source each time: found by its source
          tasks.push(pool.run((_t: TaskContext, ...xs: number[]) => xs.length, [1, 2, 3].slice(0, i % 4)))
          expected.push(i % 4)
          break
        }
        case 4: {
          const task = pool.run(fail, [`/p${i}`])
          tasks.push(task.then(undefined, (e: unknown) => (e as Error).message))
          expected.push(`disk full writing /p${i}`)
          break
        }
        case 5: {
          const task = pool.run(inc, [i])
          task.cancel() // a gap in the ids of the batch
          tasks.push(task.then(undefined, (e: unknown) => (e as TaskosError).code))
          expected.push('ERR_CANCELLED')
          break
        }
      }
    }
    assert.deepEqual(await within(Promise.all(tasks), 10_000, 'the batch'), expected)
  })

  test('pool: messages sent before a task starts reach it after the batch', { timeout: LIMIT }, async () => {
    const tasks = [pool.run(echo, [2]), pool.run(inc, [1]), pool.run(echo, [1])]
    tasks[0]!.send('a')
    tasks[0]!.send('b')
    tasks[2]!.send('c')
    assert.deepEqual(await within(Promise.all(tasks), 10_000, 'echo'), [['a', 'b'], 2, ['c']])
  })
})

// A starting thread worker is told of the first queued task's function before it is ready, and loads
// its module at once: a module that fails there fails the task, as it would later, and nothing else.
test('pool: a new pool whose first tasks cannot be found: each fails naming why, the pool carries on', { timeout: LIMIT }, async () => {
  await withPool({ workers: 2 }, async (pool) => {
    const ghost = defineTask('/no/such/dir/first.js', function ghost(_t: TaskContext) {})
    const e = await rejectsWith(pool.run(ghost, []), 'ERR_INVALID_ARGUMENT', /\/no\/such\/dir\/first\.js/)
    assert.match(e.message, /ghost/)
    assert.equal(await pool.run(add, [1, 1]), 2)
  })
  await withPool({ workers: 2 }, async (pool) => {
    const fixture = new URL('../fixtures/pool-tasks.ts', import.meta.url).href
    const notThere = defineTask(fixture, function notThere(_t: TaskContext) {})
    const both = await Promise.all([
      rejectsWith(pool.run(notThere, []), 'ERR_INVALID_ARGUMENT', /'notThere'/),
      pool.run(inc, [1]),
    ])
    assert.equal(both[1], 2)
  })
  assert.deepEqual(await takeUnhandled(), [], 'the early loads left no rejection behind')
})
