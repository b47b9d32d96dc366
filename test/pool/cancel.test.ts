import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CancelledError, TimeoutError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, defineTask } from '../../src/pool/index.js'
import { add } from '../fixtures/pool-tasks.js'
import { parked, spinForever } from '../fixtures/pool-handshake.js'
import { LIMIT, allStarted, nextEvent, rejectsWith, withPool, within } from './helpers.js'

describe('pool: cancelling queued tasks', () => {
  test(
    'pool: an aborted signal drops a queued task at once (ERR_CANCELLED, cause: the reason)',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 1 }, async (pool) => {
        const ac = new AbortController()
        const task = pool.run(add, [1, 2], { signal: ac.signal })
        assert.equal(task.queued, true, 'no worker is ready yet')
        const reason = new Error('user gave up')
        ac.abort(reason)
        assert.equal(task.status, 'cancelled', 'at once, without a round trip')
        const e = await rejectsWith(task, 'ERR_CANCELLED', /user gave up/)
        assert.ok(e instanceof CancelledError)
        assert.equal(e.cause, reason)
        assert.equal(pool.stats().queued, 0)
        assert.equal(pool.stats().cancelled, 1)
        // a signal aborted before run cancels at once too
        const early = pool.run(add, [1, 2], { signal: AbortSignal.abort('no') })
        assert.equal(early.status, 'cancelled')
        await rejectsWith(early, 'ERR_CANCELLED')
        assert.equal(await pool.run(add, [2, 2]), 4, 'the pool carries on')
      })
    },
  )

  test(
    'pool: task.cancel() drops a queued task; cancel after the end returns false',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 1 }, async (pool) => {
        const task = pool.run(add, [1, 2])
        assert.equal(task.cancel('because'), true)
        const e = await rejectsWith(task, 'ERR_CANCELLED', /because/)
        assert.equal(e.cause, 'because')
        assert.equal(task.cancel(), false)
        const ok = pool.run(add, [1, 2])
        assert.equal(await ok, 3)
        assert.equal(ok.cancel(), false)
        assert.equal(ok.status, 'done')
      })
    },
  )

  test(
    'pool: a queued task that times out gets ERR_TIMEOUT, status cancelled',
    { timeout: LIMIT },
    async () => {
      // a fresh worker takes two tasks: both parked, so the third waits in the queue
      await withPool({ workers: 1 }, async (pool) => {
        const busy = await allStarted(pool, () => [pool.run(parked, [0]), pool.run(parked, [1])])
        const waiting = pool.run(add, [1, 2], { timeout: 30 })
        assert.equal(waiting.queued, true)
        const e = await rejectsWith(waiting, 'ERR_TIMEOUT', /timed out after 30 ms/)
        assert.ok(e instanceof TimeoutError)
        assert.equal(e.timeout, 30)
        assert.equal(waiting.status, 'cancelled')
        for (const t of busy) t.send('done')
        await within(Promise.all(busy), 5000, 'parked tasks')
      })
    },
  )
})

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): cancelling running tasks`, () => {
    test(
      'pool: a running cooperative task stops through its kernel waits; its worker stays',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 1, isolation, cancelGrace: 10_000 }, async (pool) => {
          const exits: unknown[] = []
          pool.on('worker-exit', (e) => void exits.push(e))
          const ac = new AbortController()
          const [task] = await allStarted(pool, () => [pool.run(parked, ['x'], { signal: ac.signal })])
          ac.abort(new Error('stop'))
          const e = await rejectsWith(task, 'ERR_CANCELLED', /stop/, 5000)
          assert.ok(e instanceof CancelledError)
          assert.equal(task.status, 'cancelled')
          assert.equal(await pool.run(add, [1, 2]), 3)
          assert.deepEqual(exits, [], 'no worker was terminated')
          assert.equal(pool.stats().cancelled, 1)
        })
      },
    )

    test(
      'pool: a running task that times out cooperatively gets ERR_TIMEOUT, status cancelled',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 1, isolation, cancelGrace: 10_000 }, async (pool) => {
          await pool.run(add, [0, 0]) // the worker is up: the task below starts well before its timeout
          const [task] = await allStarted(pool, () => [pool.run(parked, ['x'], { timeout: 300 })])
          const e = await rejectsWith(task, 'ERR_TIMEOUT', /timed out after 300 ms/, 5000)
          assert.ok(e instanceof TimeoutError)
          assert.equal(task.status, 'cancelled')
          assert.equal(pool.stats().cancelled, 1)
        })
      },
    )

    test(
      'pool: a busy task deaf to cancellation: its worker is terminated after cancelGrace; its worker-mates run again',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 1, isolation, cancelGrace: 50 }, async (pool) => {
          const [mate, spinner] = await allStarted(pool, () => [
            pool.run(parked, ['mate']),
            pool.run(spinForever, []),
          ])
          const exited = nextEvent(pool, 'worker-exit')
          const again = nextEvent(pool, 'progress', (e) => e.task === mate)
          const t0 = performance.now()
          spinner.cancel()
          const e = await rejectsWith(spinner, 'ERR_CANCELLED', undefined, 5000)
          const waited = performance.now() - t0
          assert.ok(waited >= 45, `settled after the grace period (${waited.toFixed(0)} ms)`)
          assert.ok(e instanceof CancelledError)
          assert.equal(spinner.status, 'cancelled')
          assert.equal((await within(exited, 5000, 'the worker is terminated')).reason, 'cancel-grace')
          await within(again, 10_000, 'the worker-mate runs again')
          mate.send('hi')
          assert.deepEqual(await within(mate, 5000, 'mate'), { label: 'mate', message: 'hi' })
          assert.equal(await pool.run(add, [1, 2]), 3)
          assert.equal(pool.stats().workers, 1)
        })
      },
    )

    test(
      'pool: a busy task that times out: ERR_TIMEOUT after the grace, the worker is replaced',
      { timeout: LIMIT },
      async () => {
        await withPool({ workers: 2, isolation, cancelGrace: 20 }, async (pool) => {
          await Promise.all([pool.run(add, [0, 0]), pool.run(add, [0, 0])]) // workers up
          const exited = nextEvent(pool, 'worker-exit')
          const [task] = await allStarted(pool, () => [pool.run(spinForever, [], { timeout: 300 })])
          await rejectsWith(task, 'ERR_TIMEOUT', /timed out after 300 ms/, 5000)
          assert.equal(task.status, 'cancelled')
          await within(exited, 5000, 'worker-exit')
          assert.deepEqual(await Promise.all([pool.run(add, [1, 1]), pool.run(add, [2, 2])]), [2, 4])
          assert.equal(pool.stats().workers, 2)
        })
      },
    )
  })
}

test("pool: a timeout of Infinity or beyond setTimeout's range never fires", { timeout: LIMIT }, async () => {
  await withPool({ workers: 1 }, async (pool) => {
    const tasks = await allStarted(pool, () => [
      pool.run(parked, [0], { timeout: Infinity }),
      pool.run(parked, [1], { timeout: 2 ** 32 }),
    ])
    for (const t of tasks) t.send('ok')
    assert.deepEqual(await within(Promise.all(tasks), 5000, 'tasks'), [
      { label: 0, message: 'ok' },
      { label: 1, message: 'ok' },
    ])
  })
})

test(
  'pool: cancelGrace 0 terminates at once; many cancels of one task are one cancel',
  { timeout: LIMIT },
  async () => {
    const pool = new Pool({ workers: 1, cancelGrace: 0 })
    try {
      const [task] = await allStarted(pool, () => [pool.run(spinForever, [])])
      assert.equal(task.cancel('a'), true)
      assert.equal(task.cancel('b'), true, 'still running: the request stands')
      const e = await rejectsWith(task, 'ERR_CANCELLED', /: "a"/, 5000)
      assert.equal(e.cause, 'a')
      assert.equal(task.cancel('c'), false)
      assert.equal(await pool.run(add, [1, 2]), 3)
    } finally {
      await pool.destroy()
    }
  },
)

// The gated module must not load here (its top level waits for the gate): a stand-in names it.
const gatedReceive = defineTask(
  new URL('../fixtures/pool-gated-module.ts', import.meta.url).href,
  function gatedReceive(_t: TaskContext): unknown {
    throw new Error('runs in the worker only')
  },
)

test(
  'pool: messages and a cancel sent while the task module still loads in the worker are not lost',
  { timeout: LIMIT },
  async () => {
    await withPool({ workers: 1, cancelGrace: 60_000 }, async (pool) => {
      const gate = new BroadcastChannel('taskos-pool-gate')
      const loading = new Promise((resolve) => (gate.onmessage = resolve))
      try {
        const toCancel = pool.run(gatedReceive, [])
        const toMessage = pool.run(gatedReceive, [])
        // both went to the worker together, and its module is loading (it cannot finish before 'open')
        await within(loading, 10_000, 'module loading')
        assert.ok(!toCancel.queued && !toMessage.queued)
        toCancel.cancel('not wanted')
        toMessage.send('kept')
        gate.postMessage('open')
        await rejectsWith(toCancel, 'ERR_CANCELLED', /not wanted/, 5000)
        assert.equal(await within(toMessage, 5000, 'the message'), 'kept')
        assert.equal(pool.stats().perWorker[0]?.id, 1, 'the worker was not terminated')
      } finally {
        gate.close()
      }
    })
  },
)
