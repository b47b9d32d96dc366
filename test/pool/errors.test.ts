import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { TaskosError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, defineTask } from '../../src/pool/index.js'
import { add, fail, throwValue } from '../fixtures/pool-tasks.js'
import { badResult, failDeep } from '../fixtures/pool-handshake.js'
import { LIMIT, finish, rejectsWith, throwsCode, within } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/pool-tasks.ts', import.meta.url))
const HANDSHAKE = fileURLToPath(new URL('../fixtures/pool-handshake.ts', import.meta.url))

/** The rejection of `p` (fails if it resolves). */
async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await within(p, 10_000, 'the task')
  } catch (e) {
    return e
  }
  return assert.fail('expected a rejection')
}

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): errors`, () => {
    let pool: Pool
    before(() => {
      pool = new Pool({ workers: 2, isolation })
    })
    after(async () => {
      await finish(pool)
    })

    test(
      'pool: a task error keeps class name, message, own properties, stack and cause',
      { timeout: LIMIT },
      async () => {
        const task = pool.run(fail, ['/var/data'])
        const e = (await rejection(task)) as Error & { code: string; path: string }
        assert.ok(e instanceof Error)
        assert.equal(e.constructor.name, 'DiskFullError')
        assert.equal(e.message, 'disk full writing /var/data')
        assert.equal(e.code, 'ENOSPC')
        assert.equal(e.path, '/var/data')
        assert.ok(e.stack !== undefined)
        assert.match(e.stack.split('\n')[1]!, /at fail \(/)
        assert.ok(e.stack.includes(FIXTURE), `the stack points at the task module: ${e.stack}`)
        assert.ok(e.cause instanceof Error)
        assert.equal(e.cause.message, 'quota exceeded')
        assert.equal(task.status, 'failed')
        assert.equal((await task.settle()).status, 'failed')
      },
    )

    test(
      'pool: a cause chain, built-in error classes and nested properties survive',
      { timeout: LIMIT },
      async () => {
        const e = (await rejection(pool.run(failDeep, []))) as Error & { code: string; details: unknown }
        assert.equal(e.message, 'top')
        assert.equal(e.code, 'ETOP')
        assert.deepEqual(e.details, { n: 1 })
        assert.ok(e.stack!.includes(HANDSHAKE))
        const mid = e.cause as Error
        assert.equal(mid.message, 'middle')
        const root = mid.cause as Error
        assert.ok(root instanceof TypeError, 'a built-in class comes back as itself')
        assert.equal(root.message, 'root cause')
      },
    )

    test('pool: a thrown non-Error value arrives intact', { timeout: LIMIT }, async () => {
      assert.equal(await rejection(pool.run(throwValue, ['just a string'])), 'just a string')
      assert.equal(await rejection(pool.run(throwValue, [42])), 42)
      assert.deepEqual(await rejection(pool.run(throwValue, [{ code: 7, list: [1, 2] }])), {
        code: 7,
        list: [1, 2],
      })
      assert.equal(await rejection(pool.run(throwValue, [null])), null)
      assert.equal(await rejection(pool.run(throwValue, [undefined])), undefined)
    })

    test(
      'pool: an unserialisable argument gives ERR_SERIALIZATION naming its position',
      { timeout: LIMIT },
      async () => {
        const e = await rejectsWith(
          pool.run(add, [1, (() => 2) as never]),
          'ERR_SERIALIZATION',
          /argument 1 \(function/,
        )
        assert.match(e.message, /add/)
        // tasks sent in the same batch are not affected
        const batch = [
          pool.run(add, [1, 2]),
          pool.run(add, [{ f: Symbol('s') } as never, 1]),
          pool.run(add, [3, 4]),
        ]
        const settled = await within(Promise.allSettled(batch), 10_000, 'batch')
        assert.deepEqual(settled[0], { status: 'fulfilled', value: 3 })
        assert.equal(settled[1]!.status, 'rejected')
        const reason = (settled[1] as PromiseRejectedResult).reason as TaskosError
        assert.equal(reason.code, 'ERR_SERIALIZATION')
        assert.match(reason.message, /argument 0/)
        assert.deepEqual(settled[2], { status: 'fulfilled', value: 7 })
      },
    )

    test('pool: an unserialisable result gives ERR_SERIALIZATION', { timeout: LIMIT }, async () => {
      await rejectsWith(pool.run(badResult, []), 'ERR_SERIALIZATION', /result.*cannot be sent back/)
      const together = await within(
        Promise.allSettled([pool.run(badResult, []), pool.run(add, [5, 5])]),
        10_000,
        'batch',
      )
      assert.equal(together[0].status, 'rejected')
      assert.deepEqual(together[1], { status: 'fulfilled', value: 10 })
      assert.equal(await pool.run(add, [1, 1]), 2, 'the worker carries on')
    })

    test(
      'pool: an unknown module gives an error naming the module and the function',
      { timeout: LIMIT },
      async () => {
        const ghost = defineTask('/no/such/dir/tasks.js', function ghost(_t: TaskContext) {})
        const e = await rejectsWith(pool.run(ghost, []), 'ERR_INVALID_ARGUMENT')
        assert.match(e.message, /\/no\/such\/dir\/tasks\.js/)
        assert.match(e.message, /ghost/)
        assert.equal(await pool.run(add, [1, 1]), 2)
      },
    )

    test(
      'pool: an unknown export gives an error naming the export and the module',
      { timeout: LIMIT },
      async () => {
        const notThere = defineTask(FIXTURE, function notThere(_t: TaskContext) {})
        const e = await rejectsWith(pool.run(notThere, []), 'ERR_INVALID_ARGUMENT')
        assert.match(e.message, /'notThere'/)
        assert.ok(e.message.includes('pool-tasks.ts'), e.message)
      },
    )

    test('pool: a task error carries its origin (task id and worker)', { timeout: LIMIT }, async () => {
      const task = pool.run(
        defineTask(FIXTURE, function notThere(_t: TaskContext) {}),
        [],
      )
      const e = await rejectsWith(task, 'ERR_INVALID_ARGUMENT')
      assert.equal(e.origin?.task, task.id)
      assert.equal(typeof e.origin?.worker, 'number')
    })
  })
}

describe('pool: options', () => {
  test('pool: bad pool options give ERR_INVALID_OPTION naming the option', () => {
    const bad: [object, RegExp][] = [
      [{ workers: 0 }, /option workers/],
      [{ workers: 1.5 }, /option workers/],
      [{ isolation: 'fiber' }, /option isolation/],
      [{ maxQueue: -1 }, /option maxQueue/],
      [{ maxQueue: 'x' }, /option maxQueue/],
      [{ idleTimeout: 0 }, /option idleTimeout/],
      [{ recycleAfter: 0 }, /option recycleAfter/],
      [{ cancelGrace: -1 }, /option cancelGrace/],
      [{ bind: true }, /option bind/],
    ]
    for (const [options, message] of bad) throwsCode(() => new Pool(options), 'ERR_INVALID_OPTION', message)
    throwsCode(() => new Pool(3 as never), 'ERR_INVALID_OPTION', /options/)
  })

  test(
    'pool: bad run, partition and map options give ERR_INVALID_OPTION naming the option',
    { timeout: LIMIT },
    async () => {
      const pool = new Pool({ workers: 1, idleTimeout: 1000 })
      throwsCode(() => pool.run(add, [1, 2], { timeout: -1 }), 'ERR_INVALID_OPTION', /option timeout/)
      throwsCode(
        () => pool.run(add, [1, 2], { timeout: 'soon' as never }),
        'ERR_INVALID_OPTION',
        /option timeout/,
      )
      throwsCode(() => pool.run(add, [1, 2], { signal: {} as never }), 'ERR_INVALID_OPTION', /option signal/)
      throwsCode(
        () => pool.run(add, [1, 2], { transfer: 3 as never }),
        'ERR_INVALID_OPTION',
        /option transfer/,
      )
      await rejectsWith(pool.partition(add, 4, [1, 2], { parts: 0 }), 'ERR_INVALID_OPTION', /option parts/)
      await rejectsWith(
        pool.partition(add, 4, [1, 2], { partitionArgs: [2] }),
        'ERR_INVALID_OPTION',
        /option partitionArgs/,
      )
      await rejectsWith(pool.partition(add, 1.5, [1, 2]), 'ERR_INVALID_ARGUMENT', /value range/)
      await rejectsWith(
        pool.partition(add, 4, [1, 2], { partitionArgs: [0] }),
        'ERR_INVALID_ARGUMENT',
        /argument 0/,
      )
      await rejectsWith(
        pool.map(add as never, [1], { chunkSize: 0 }).next(),
        'ERR_INVALID_OPTION',
        /option chunkSize/,
      )
      await rejectsWith(
        pool.map(add as never, [1], { concurrency: -2 }).next(),
        'ERR_INVALID_OPTION',
        /option concurrency/,
      )
      await rejectsWith(pool.map(add as never, 5 as never).next(), 'ERR_INVALID_ARGUMENT', /invalid items/)
      assert.equal(pool.stats().workers, 0, 'nothing started a worker')
      await finish(pool)
    },
  )
})
