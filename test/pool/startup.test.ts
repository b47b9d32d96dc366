// A starting worker: the pool names the first task's module to a starting thread worker (`load`), which
// imports it as soon as it runs; messages sent to a task meanwhile arrive, in order; a JavaScript
// module that throws on import fails its tasks every time.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Pool, defineTask } from '../../src/pool/index.js'
import { collect, evaluations } from '../fixtures/pool-js-tasks.mjs'
import { LIMIT, finish, rejectsWith, within } from './helpers.js'

const BROKEN = new URL('../fixtures/pool-js-broken.mjs', import.meta.url).href

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): start-up`, { timeout: LIMIT }, () => {
    test(`pool (${isolation}): a JavaScript task module loads once per worker, though the pool names it before the first task`, async () => {
      const pool = new Pool({ workers: 2, isolation })
      const counts = await within(
        Promise.all(Array.from({ length: 8 }, () => pool.run(evaluations, []))),
        10_000,
        'the first tasks',
      )
      assert.deepEqual(counts, Array(8).fill(1), 'each worker evaluated the module once')
      await finish(pool)
    })

    test(`pool (${isolation}): messages to a task of a starting worker arrive, in order`, async () => {
      const pool = new Pool({ workers: 1, isolation })
      const task = pool.run(collect, [3])
      for (const m of ['a', 'b', 'c']) task.send(m)
      assert.deepEqual(await within(task, 10_000, 'collect'), ['a', 'b', 'c'])
      await finish(pool)
    })

    test(`pool (${isolation}): a JavaScript task module that throws on import fails its tasks, every time; the pool carries on`, async () => {
      const pool = new Pool({ workers: 1, isolation })
      const broken = defineTask(BROKEN, function broken() {
        return 0
      })
      for (let i = 0; i < 2; i++) {
        const error = await rejectsWith(
          pool.run(broken, []),
          'ERR_INVALID_ARGUMENT',
          /cannot load task module/,
        )
        assert.match(String((error.cause as Error | undefined)?.message), /broken on purpose at import/)
      }
      assert.equal(await within(pool.run(evaluations, []), 10_000, 'a good task'), 1)
      await finish(pool)
    })
  })
}
