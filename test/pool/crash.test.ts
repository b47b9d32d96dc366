import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { WorkerCrashedError } from '../../src/kernel/index.js'
import { Pool, shared } from '../../src/pool/index.js'
import type { PoolTask } from '../../src/pool/index.js'
import { add, exit, inc, uncaught } from '../fixtures/pool-tasks.js'
import { exhaustMemory, exitOnMessage, parked, throwAtTopLevel } from '../fixtures/pool-handshake.js'
import { LIMIT, alive, allStarted, nextEvent, pids, rejectsWith, withPool, within } from './helpers.js'

/** How long a crashed task may take to reject (the issue asks for 50 ms after the death). */
const SETTLE_MS = 2000

/** Runs `count` innocent tasks alongside `culprit` (same turn, so they share batches) and checks them. */
async function alongside(
  pool: Pool,
  culprit: () => PoolTask<unknown>,
  count = 20,
): Promise<WorkerCrashedError> {
  const innocents: PoolTask<number>[] = []
  for (let i = 0; i < count / 2; i++) innocents.push(pool.run(inc, [i]))
  const bad = culprit()
  for (let i = count / 2; i < count; i++) innocents.push(pool.run(inc, [i]))
  const error = await rejectsWith(bad, 'ERR_WORKER_CRASHED')
  assert.equal(bad.status, 'crashed')
  const values = await within(Promise.all(innocents), 10_000, 'the innocent tasks')
  assert.deepEqual(
    values,
    Array.from({ length: count }, (_, i) => i + 1),
  )
  return error as WorkerCrashedError
}

/** The pool replaced its dead workers and keeps working. */
async function carriesOn(pool: Pool, workers: number): Promise<void> {
  assert.deepEqual(
    await within(
      Promise.all([pool.run(add, [1, 2]), pool.run(add, [3, 4]), pool.run(add, [5, 6])]),
      10_000,
      'after',
    ),
    [3, 7, 11],
  )
  assert.equal(pool.stats().workers, workers)
}

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): crashes`, () => {
    test(
      'pool: process.exit in a task fails that task with ERR_WORKER_CRASHED (exit code attached)',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 2, isolation }, async (pool) => {
          const exits: unknown[] = []
          const reasons: string[] = []
          pool.on('worker-exit', (e) => {
            exits.push(e.exitCode)
            reasons.push(e.reason)
          })
          const e = await rejectsWith(pool.run(exit, [7]), 'ERR_WORKER_CRASHED', /exit code 7/)
          assert.ok(e instanceof WorkerCrashedError)
          assert.equal(e.exitCode, 7)
          assert.equal(e.signal, undefined)
          assert.equal(typeof e.origin?.worker, 'number')
          assert.deepEqual(exits, [7])
          assert.deepEqual(reasons, ['crashed'])
          await carriesOn(pool, 2)
          const s = pool.stats()
          assert.equal(s.crashed, 1)
        })
      },
    )

    test(
      'pool: process.exit alongside other tasks: only the culprit fails, every other task completes',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 2, isolation }, async (pool) => {
          await pool.run(add, [0, 0]) // workers up: the batch below spreads over both
          const e = await alongside(pool, () => pool.run(exit, [3]))
          assert.equal(e.exitCode, 3)
          await carriesOn(pool, 2)
          assert.equal(pool.stats().crashed, 1)
          assert.equal(pool.stats().failed, 0)
        })
      },
    )

    test(
      'pool: a throw at the top level of the worker (in a timer) crashes only its own task',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 2, isolation }, async (pool) => {
          const e = await rejectsWith(pool.run(uncaught, []), 'ERR_WORKER_CRASHED')
          if (isolation === 'thread') {
            assert.match(e.message, /thrown at top level/)
            assert.ok(
              e.cause instanceof Error && e.cause.message === 'thrown at top level',
              'the uncaught error is the cause',
            )
          } else {
            assert.equal((e as WorkerCrashedError).exitCode, 1)
          }
          const other = await alongside(pool, () => pool.run(uncaught, []))
          assert.ok(other instanceof WorkerCrashedError)
          await carriesOn(pool, 2)
        })
      },
    )

    test('pool: the crashed task settles quickly after the death', { timeout: LIMIT }, async () => {
      await withPool({ workers: 2, isolation }, async (pool) => {
        const stamp = isolation === 'thread' ? shared.float64(1) : undefined
        const [task] = await allStarted(pool, () => [pool.run(exitOnMessage, [5, stamp])])
        const t0 = performance.timeOrigin + performance.now()
        task.send('go')
        await rejectsWith(task, 'ERR_WORKER_CRASHED', /exit code 5/, SETTLE_MS)
        const now = performance.timeOrigin + performance.now()
        const death = stamp?.[0] ?? t0
        assert.ok(death >= t0 - 1, 'died after the message')
        // logged, not asserted tight: this machine is shared and loaded
        console.log(`# ${isolation}: exit → rejection ${(now - death).toFixed(1)} ms`)
      })
    })

    test(
      'pool: a crash with tasks waiting on the same worker: they run again and complete',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 1, isolation }, async (pool) => {
          // two tasks in flight on the one worker (a worker always takes two), both started; then
          // one of them kills it
          const tasks = await allStarted(pool, () => [pool.run(parked, ['a']), pool.run(exitOnMessage, [9])])
          assert.equal(pool.stats().running, 2)
          // neither is blamed yet: both run again, one at a time (solo), each announcing its start
          const rerun: number[] = []
          pool.on('progress', (e) => {
            rerun.push(e.task.id)
            e.task.send('hello')
          })
          tasks[1].send('die')
          await rejectsWith(tasks[1], 'ERR_WORKER_CRASHED')
          assert.deepEqual(await within(tasks[0], 10_000, 'the suspect'), { label: 'a', message: 'hello' })
          assert.deepEqual(
            rerun,
            tasks.map((t) => t.id),
            'each ran again alone, in order (the culprit too, which crashed again)',
          )
          assert.equal(pool.stats().crashed, 1)
        })
      },
    )

    if (isolation === 'thread') {
      test(
        'pool: running out of memory (resourceLimits) crashes only that task',
        { timeout: LIMIT },
        async () => {
          await withPool(
            {
              workers: 2,
              resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
            },
            async (pool) => {
              const e = await rejectsWith(pool.run(exhaustMemory, []), 'ERR_WORKER_CRASHED', /memory/i)
              assert.ok(e instanceof WorkerCrashedError)
              await carriesOn(pool, 2)
              assert.equal(pool.stats().crashed, 1)
            },
          )
        },
      )
    } else {
      test(
        'pool: a worker killed by a signal fails its task with the signal attached',
        { timeout: LIMIT },
        async () => {
          await withPool({ workers: 2, isolation }, async (pool) => {
            const [task] = await allStarted(pool, () => [pool.run(parked, ['victim'])])
            const victim = pool.stats().perWorker.find((w) => w.inFlight > 0)!.pid!
            const exited = nextEvent(pool, 'worker-exit')
            const t0 = performance.now()
            process.kill(victim, 'SIGKILL')
            const e = await rejectsWith(task, 'ERR_WORKER_CRASHED', /SIGKILL/, SETTLE_MS)
            console.log(`# SIGKILL → rejection ${(performance.now() - t0).toFixed(1)} ms`)
            assert.equal((e as WorkerCrashedError).signal, 'SIGKILL')
            const exit = await exited
            assert.equal(exit.signal, 'SIGKILL')
            assert.equal(exit.reason, 'crashed')
            assert.ok(!alive(victim))
            await carriesOn(pool, 2)
            assert.ok(!pids(pool).includes(victim), 'replaced')
          })
        },
      )

      test('pool: a worker killed by a signal while idle is replaced', { timeout: LIMIT }, async () => {
        await withPool({ workers: 2, isolation }, async (pool) => {
          await pool.run(add, [1, 1])
          const [victim] = pids(pool)
          const exited = nextEvent(pool, 'worker-exit')
          process.kill(victim!, 'SIGKILL')
          assert.equal((await within(exited, 5000, 'worker-exit')).signal, 'SIGKILL')
          await carriesOn(pool, 2)
        })
      })
    }

    test(
      'pool: a top-level throw among waiting tasks fails only the thrower; its worker-mates run again',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 2, isolation }, async (pool) => {
          const tasks = await allStarted(pool, () => [
            pool.run(parked, [0]),
            pool.run(parked, [1]),
            pool.run(throwAtTopLevel, []),
            pool.run(parked, [3]),
          ])
          // two per worker: [0, 1] on one, [throwAtTopLevel, 3] on the other
          const rerun = new Set<number>()
          pool.on('progress', (e) => {
            rerun.add(e.task.id)
            e.task.send('again')
          })
          tasks[2].send('go')
          await rejectsWith(tasks[2], 'ERR_WORKER_CRASHED', /thrown at top level|exit code 1/)
          for (const i of [0, 1, 3]) tasks[i]!.send('fin')
          const results = await within(Promise.all([tasks[0], tasks[1], tasks[3]]), 10_000, 'the others')
          assert.deepEqual(
            results.map((r) => r.label),
            [0, 1, 3],
          )
          assert.ok(rerun.has(tasks[3].id), 'the task that shared the dead worker ran again')
          assert.ok(!rerun.has(tasks[0].id) && !rerun.has(tasks[1].id), 'the others ran once')
          assert.equal(pool.stats().crashed, 1)
        })
      },
    )
  })
}

test(
  'pool: workers that die before they are ready fail the queued tasks after 3 in a row, not a restart loop',
  { timeout: LIMIT },
  async () => {
    // a heap too small for a worker thread to boot: every worker dies before it is ready
    await withPool(
      { workers: 2, resourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 } },
      async (pool) => {
        let exits = 0
        const waiters: [number, () => void][] = []
        pool.on('worker-exit', (e) => {
          assert.equal(e.reason, 'crashed')
          exits++
          for (const [n, resolve] of waiters) if (exits >= n) resolve()
        })
        const exitsReach = (n: number): Promise<void> =>
          within(
            new Promise<void>((resolve) => (exits >= n ? resolve() : waiters.push([n, resolve]))),
            10_000,
            `${n} worker exits`,
          )
        const tasks = [pool.run(add, [1, 2]), pool.run(add, [3, 4])]
        for (const task of tasks) {
          const e = await rejectsWith(
            task,
            'ERR_WORKER_CRASHED',
            /no worker could start: 3 in a row died before they were ready/,
          )
          assert.match((e as Error).message, /memory/i, 'the last death says why')
          assert.equal(task.status, 'crashed')
        }
        // the 2 first workers and the 2 that replaced them; then none, though the pool is short of workers
        await exitsReach(4)
        assert.equal(pool.stats().workers, 0, 'no worker left, so no exit or restart to come')
        assert.equal(exits, 4)
        assert.equal(pool.stats().crashed, 2)
        // a new task starts workers again (the pool does not give up for good) and fails at the first death
        await rejectsWith(pool.run(inc, [1]), 'ERR_WORKER_CRASHED', /no worker could start: 5 in a row/)
        await exitsReach(6)
        assert.equal(pool.stats().workers, 0)
        assert.equal(exits, 6)
      },
    )
  },
)
