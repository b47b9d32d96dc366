import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Kernel, TaskFailedError, job } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
// the pool module registers the default pool: `t.offload` in a kernel without an executor uses it
import { Pool, defaultPool } from '../../src/pool/index.js'
import { add, fail, inc } from '../fixtures/pool-tasks.js'
import { parked } from '../fixtures/pool-handshake.js'
import { LIMIT, finish, nextEvent, rejectsWith, withPool, within } from './helpers.js'

/** Closes the kernel (which closes its executor) after checking that no task is left. */
async function closeKernel(k: Kernel): Promise<void> {
  assert.equal(k.stats().tasks.running, 0, 'no kernel task left running')
  await within(k.close(), 10_000, 'kernel close')
}

describe('pool: the pool as an Executor', () => {
  test(
    'pool: k.dispatch(jobs) runs task functions on the pool, results in job order',
    { timeout: LIMIT },
    async () => {
      const pool = new Pool({ workers: 2 })
      const k = new Kernel()
      k.setExecutor(pool)
      assert.equal(k.slots(), 2)
      const jobs = Array.from({ length: 30 }, (_, i) => job(inc, [i]))
      assert.deepEqual(
        await within(k.dispatch(jobs), 10_000, 'dispatch'),
        Array.from({ length: 30 }, (_, i) => i + 1),
      )
      const seen: number[] = []
      await k.dispatch([job(add, [1, 2]), job(add, [3, 4])], { collector: (r) => void seen.push(r.value) })
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [3, 7],
      )
      assert.equal(pool.stats().completed, 32)
      await closeKernel(k)
      await finish(pool)
    },
  )

  test(
    'pool: a failing job fails the dispatch with TaskFailedError naming it (cause: the task error)',
    { timeout: LIMIT },
    async () => {
      const pool = new Pool({ workers: 2 })
      const k = new Kernel({ executor: pool })
      try {
        const e = await rejectsWith(
          k.dispatch([job(add, [1, 1]), job(fail, ['/disk']), job(add, [2, 2])]),
          'ERR_TASK_FAILED',
          /job 1 \(fail\)/,
        )
        assert.ok(e instanceof TaskFailedError)
        assert.equal((e.cause as Error & { path: string }).path, '/disk')
      } finally {
        // the kernel's close waits for the cancelled jobs, and closes the pool
        await closeKernel(k)
      }
      await finish(pool)
    },
  )

  test(
    'pool: t.offload(fn, args) in a kernel task runs on the kernel executor',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 2 }, async (pool) => {
        const k = new Kernel({ executor: pool })
        const task = k.spawn(async (t: TaskContext) => {
          const a = await t.offload(add, [2, 3])
          const b = await t.offload((_t: TaskContext, x: number) => x * 10, [a])
          return b
        })
        assert.equal(await within(task.join(), 10_000, 'offload'), 50)
        const gen = k.spawn(function* (t: TaskContext) {
          return yield* t.offload(inc, [41])
        })
        assert.equal(await gen.join(), 42)
        assert.equal(pool.stats().completed, 3)
        k.setExecutor(undefined)
        await closeKernel(k)
      })
    },
  )

  test('pool: cancelling the offloading task cancels the pool task', { timeout: LIMIT }, async () => {
    await withPool({ workers: 1, cancelGrace: 10_000 }, async (pool) => {
      const k = new Kernel({ executor: pool })
      // (wrapped: a PoolTask is thenable, so resolving a promise with it would wait for its end)
      const remote = nextEvent(pool, 'progress').then((e) => ({ task: e.task }))
      const task = k.spawn(async (t: TaskContext) => t.offload(parked, ['offloaded']))
      const { task: poolTask } = await within(remote, 10_000, 'the pool task starting')
      task.cancel('no longer needed')
      await rejectsWith(task.join(), 'ERR_CANCELLED')
      const outcome = await within(poolTask.settle(), 5000, 'the pool task')
      assert.equal(outcome.status, 'cancelled')
      assert.equal(pool.stats().cancelled, 1)
      assert.equal(pool.stats().workers, 1, 'cancelled cooperatively: the worker stays')
      k.setExecutor(undefined)
      await closeKernel(k)
    })
  })

  test('pool: an offload timeout cancels the pool task with ERR_TIMEOUT', { timeout: LIMIT }, async () => {
    await withPool({ workers: 1, cancelGrace: 10_000 }, async (pool) => {
      const k = new Kernel({ executor: pool })
      await pool.run(add, [0, 0]) // the worker is up
      const task = k.spawn(async (t: TaskContext) => t.offload(parked, ['late'], { timeout: 200 }))
      await rejectsWith(task.join(), 'ERR_TIMEOUT', undefined, 5000)
      await within(pool.close(), 5000, 'drain')
      assert.equal(pool.stats().cancelled, 1)
      k.setExecutor(undefined)
      await closeKernel(k)
    })
  })

  test('pool: closing the kernel closes its executor', { timeout: LIMIT }, async () => {
    const pool = new Pool({ workers: 1 })
    const k = new Kernel({ executor: pool })
    assert.equal(await k.spawn(async (t: TaskContext) => t.offload(add, [1, 2])).join(), 3)
    await closeKernel(k)
    assert.equal(pool.stats().workers, 0)
  })

  test('pool: t.offload without an executor uses the default pool', { timeout: LIMIT }, async () => {
    const k = new Kernel()
    assert.equal(k.executor, undefined)
    const task = k.spawn(async (t: TaskContext) => t.offload(add, [20, 22]))
    assert.equal(await within(task.join(), 10_000, 'offload'), 42)
    const pool = defaultPool()
    assert.equal(defaultPool(), pool, 'one default pool')
    assert.equal(pool.stats().completed, 1)
    await closeKernel(k)
    await finish(pool)
  })
})
