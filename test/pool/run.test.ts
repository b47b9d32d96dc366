import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { TaskosError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, PoolTask, defineTask, shared } from '../../src/pool/index.js'
import { add, echo, inc, sleepy } from '../fixtures/pool-tasks.js'
import { asyncSleepReceive, genScale, parked, touchBuffer, whereAmI } from '../fixtures/pool-handshake.js'
import { LIMIT, finish, pids, rejectsWith, started, throwsCode, within } from './helpers.js'

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): run`, () => {
    let pool: Pool
    before(() => {
      pool = new Pool({ workers: 2, isolation })
    })
    after(async () => {
      await finish(pool)
    })

    test(
      'pool: run gives the task function value; the task is a PoolTask with an id',
      { timeout: LIMIT },
      async () => {
        const task = pool.run(add, [2, 3])
        assert.ok(task instanceof PoolTask)
        assert.equal(task.name, 'add')
        assert.equal(typeof task.id, 'number')
        assert.equal(task.status, 'running')
        assert.equal(await task, 5)
        assert.equal(task.status, 'done')
        assert.equal(await task.join(), 5)
        assert.deepEqual(await task.settle(), { status: 'done', value: 5 })
      },
    )

    test('pool: values of every structured-clone kind come back', { timeout: LIMIT }, async () => {
      const identity = (_t: TaskContext, v: unknown) => v
      const values: unknown[] = [
        undefined,
        null,
        0,
        -0,
        Number.NaN,
        12n,
        'text',
        [1, [2, 3]],
        { a: { b: 'c' } },
        new Map([[1, 'one']]),
        new Set([1, 2]),
        new Date(0),
        /re/g,
        new Float64Array([1.5, 2.5]),
      ]
      for (const v of values) assert.deepEqual(await pool.run(identity, [v]), v)
    })

    test('pool: the workers are threads or processes as asked', { timeout: LIMIT }, async () => {
      const where = await pool.run(whereAmI, [])
      if (isolation === 'thread') {
        assert.equal(where.pid, process.pid)
        assert.notEqual(where.threadId, 0)
        assert.deepEqual(
          pool.stats().perWorker.map((w) => w.pid),
          [undefined, undefined],
        )
      } else {
        assert.notEqual(where.pid, process.pid)
        assert.ok(pids(pool).includes(where.pid))
      }
    })

    test('pool: 20,000 tiny tasks at once all give the right value', { timeout: LIMIT }, async () => {
      // both workers up first (a process worker under tsx may still be starting): until then the
      // one that is ready rightly takes everything
      while (pool.stats().perWorker.some((w) => w.completed === 0)) {
        await within(Promise.all(Array.from({ length: 8 }, (_, i) => pool.run(inc, [i]))), 10_000, 'warm-up')
      }
      const before = pool.stats().perWorker.map((w) => w.completed)
      const n = 20_000
      const tasks: PoolTask<number>[] = []
      for (let i = 0; i < n; i++) tasks.push(pool.run(inc, [i]))
      const values = await within(Promise.all(tasks), 15_000, '20,000 tasks')
      for (let i = 0; i < n; i++) if (values[i] !== i + 1) assert.fail(`task ${i} gave ${values[i]}`)
      const s = pool.stats()
      assert.equal(s.running, 0)
      assert.equal(s.queued, 0)
      assert.ok(
        s.perWorker.every((w, i) => w.completed > before[i]!),
        'both workers took a share',
      )
    })

    test('pool: a self-contained plain function is shipped as source', { timeout: LIMIT }, async () => {
      assert.equal(await pool.run((_t, x: number) => x * 3, [5]), 15)
      assert.equal(
        await pool.run(
          function named(_t: TaskContext, s: string) {
            return s.toUpperCase()
          },
          ['abc'],
        ),
        'ABC',
      )
      assert.equal(await pool.run(async (_t, x: number) => Promise.resolve(x + 1), [1]), 2)
      const methods = {
        twice(this: void, _t: TaskContext, x: number) {
          return x * 2
        },
        async later(this: void, _t: TaskContext, x: number) {
          return Promise.resolve(x - 1)
        },
        *gen(this: void, t: TaskContext, x: number) {
          yield* t.sleep(0)
          return x
        },
      }
      assert.equal(await pool.run(methods.twice, [4]), 8, 'method shorthand')
      assert.equal(await pool.run(methods.later, [4]), 3, 'async method shorthand')
      assert.equal(await pool.run(methods.gen, [4]), 4, 'generator method shorthand')
    })

    test(
      'pool: a plain function using a free variable fails with an error naming the variable',
      { timeout: LIMIT },
      async () => {
        const factor = 3
        const error = await rejectsWith(
          pool.run((_t, x: number) => x * factor, [2]),
          'ERR_INVALID_ARGUMENT',
          /'factor'.*self-contained/,
        )
        assert.ok(error.cause instanceof ReferenceError, 'the ReferenceError is the cause')
        assert.match(error.cause.message, /factor is not defined/)
        // the pool carries on
        assert.equal(await pool.run(add, [1, 1]), 2)
      },
    )

    test('pool: a native or bound function is refused at once', { timeout: LIMIT }, () => {
      throwsCode(() => pool.run(Math.max as never, []), 'ERR_INVALID_ARGUMENT', /native or bound/)
      const bound = ((_t: TaskContext) => 1).bind(null)
      throwsCode(() => pool.run(bound, []), 'ERR_INVALID_ARGUMENT', /native or bound/)
      throwsCode(() => pool.run('add' as never, []), 'ERR_INVALID_ARGUMENT', /invalid task function/)
      throwsCode(() => pool.run(add, 3 as never), 'ERR_INVALID_ARGUMENT', /invalid args/)
    })

    test(
      'pool: a generator task function sleeps and receives messages sent with poolTask.send',
      { timeout: LIMIT },
      async () => {
        const task = pool.run(genScale, [3, 10])
        assert.equal(task.send(1), true, 'a message sent before the task starts is kept')
        await within(started(pool, task), 10_000, 'start')
        task.send(2)
        task.send(3)
        assert.deepEqual(await task, [10, 20, 30])
        assert.equal(task.send(4), false, 'an ended task takes no message')
      },
    )

    test(
      'pool: an async task function sleeps on the kernel clock and receives messages',
      { timeout: LIMIT },
      async () => {
        const task = pool.run(asyncSleepReceive, [20])
        const go = started(pool, task)
        await within(go, 10_000, 'start')
        task.send('hello')
        const { slept, message } = await task
        assert.equal(message, 'hello')
        assert.ok(slept >= 19, `slept ${slept} ms`)
        assert.equal(await pool.run(sleepy, [5]), 5)
        assert.deepEqual(await pool.run(echo, [0]), [])
      },
    )

    test(
      'pool: messages reach the right task when several wait on one worker',
      { timeout: LIMIT },
      async () => {
        const tasks = [0, 1, 2, 3].map((i) => pool.run(parked, [i]))
        await Promise.all(tasks.map((t) => within(started(pool, t), 10_000, 'start')))
        for (const [i, t] of [...tasks.entries()].reverse()) t.send(`to ${i}`)
        assert.deepEqual(
          await Promise.all(tasks),
          [0, 1, 2, 3].map((i) => ({ label: i, message: `to ${i}` })),
        )
      },
    )

    if (isolation === 'thread') {
      test(
        'pool: shared arrays are seen by both sides; transfer moves an ArrayBuffer',
        { timeout: LIMIT },
        async () => {
          const xs = shared.int32(4)
          await pool.run((_t, a: Int32Array) => void Atomics.store(a, 2, 42), [xs])
          assert.equal(xs[2], 42)
          const buf = new ArrayBuffer(16)
          assert.equal(await pool.run(touchBuffer, [buf], { transfer: [buf] }), 16)
          assert.equal(buf.byteLength, 0, 'moved, not copied')
        },
      )
    } else {
      test(
        'pool: shared arrays cannot go to a process (ERR_SERIALIZATION); buffers are copied',
        { timeout: LIMIT },
        async () => {
          await rejectsWith(
            pool.run((_t, a: Int32Array) => a.length, [shared.int32(4)]),
            'ERR_SERIALIZATION',
            /argument 0/,
          )
          const buf = new ArrayBuffer(16)
          assert.equal(await pool.run(touchBuffer, [buf], { transfer: [buf] }), 16)
          assert.equal(new Uint8Array(buf)[0], 0, 'the worker changed its own copy')
        },
      )
    }

    test(
      'pool: TypeScript task modules load in workers (these fixtures are .ts)',
      { timeout: LIMIT },
      async () => {
        assert.match(add.taskModule, /\.ts$/)
        assert.equal(await pool.run(add, [20, 22]), 42)
      },
    )
  })
}

describe('pool: defineTask', () => {
  test('pool: defineTask needs a module URL and a named function', () => {
    throwsCode(() => defineTask('', function f() {}), 'ERR_INVALID_ARGUMENT', /module's URL/)
    throwsCode(() => defineTask(import.meta.url, 3 as never), 'ERR_INVALID_ARGUMENT', /task function/)
    throwsCode(
      () =>
        defineTask(
          import.meta.url,
          (
            () => () =>
              1
          )(),
        ),
      'ERR_INVALID_ARGUMENT',
      /named function/,
    )
    const f = defineTask('/some/where.js', function f() {})
    assert.equal(f.taskModule, 'file:///some/where.js')
    assert.equal(f.taskName, 'f')
    assert.ok(!(new TaskosError('ERR_CLOSED', 'x') instanceof PoolTask))
  })
})
