import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { Pool } from '../../src/pool/index.js'
import type { PoolEvent } from '../../src/pool/index.js'
import { DIES_WITH_PARENT } from '../../src/pool/protocol.js'
import { add, exit, fail, inc, progress } from '../fixtures/pool-tasks.js'
import { parked, whereAmI } from '../fixtures/pool-handshake.js'
import { ROOT, runTsx } from '../fixtures/run-tsx.js'
import {
  LIMIT,
  allStarted,
  alive,
  finish,
  gone,
  nextEvent,
  pids,
  rejectsWith,
  throwsCode,
  withPool,
  within,
} from './helpers.js'

for (const isolation of ['thread', 'process'] as const) {
  describe(`pool (${isolation}): close and destroy`, () => {
    test(
      'pool: close() lets queued and running tasks finish, then stops the workers; it is idempotent',
      { timeout: LIMIT },
      async () => {
        const pool = new Pool({ workers: 2, isolation })
        const waiting = [pool.run(parked, ['a']), pool.run(parked, ['b'])]
        const tiny = Array.from({ length: 10 }, (_, i) => pool.run(inc, [i]))
        const running = allStarted(pool, () => waiting)
        const closing = pool.close()
        assert.equal(pool.close(), closing, 'the same close')
        let closed = false
        void closing.then(() => (closed = true))
        throwsCode(() => pool.run(add, [1, 2]), 'ERR_CLOSED')
        await running
        assert.equal(closed, false, 'still draining')
        for (const t of waiting) t.send('last')
        assert.deepEqual(await within(Promise.all(waiting), 10_000, 'parked'), [
          { label: 'a', message: 'last' },
          { label: 'b', message: 'last' },
        ])
        assert.deepEqual(
          await Promise.all(tiny),
          Array.from({ length: 10 }, (_, i) => i + 1),
        )
        await finish(pool)
        assert.equal(closed, true)
        await pool.close()
        await pool.destroy()
        throwsCode(() => pool.run(add, [1, 2]), 'ERR_CLOSED')
      },
    )

    test(
      'pool: destroy() stops now: running and queued tasks reject with ERR_CLOSED; idempotent',
      { timeout: LIMIT },
      async () => {
        const pool = new Pool({ workers: 1, isolation })
        // a fresh worker takes two tasks; the other three wait in the queue
        const running = await allStarted(pool, () => [pool.run(parked, [0]), pool.run(parked, [1])])
        const queued = [pool.run(add, [1, 2]), pool.run(add, [3, 4]), pool.run(inc, [5])]
        assert.ok(queued.every((t) => t.queued))
        const workerPids = pool.stats().perWorker.flatMap((w) => (w.pid === undefined ? [] : [w.pid]))
        const destroying = pool.destroy()
        for (const t of [...running, ...queued]) {
          assert.equal(t.status, 'cancelled', 'settled at once')
          await rejectsWith(t, 'ERR_CLOSED', /destroyed/)
        }
        await within(destroying, 5000, 'destroy')
        await pool.destroy()
        await pool.close()
        throwsCode(() => pool.run(add, [1, 2]), 'ERR_CLOSED')
        assert.equal(pool.stats().workers, 0)
        await gone(workerPids)
        assert.equal(running[0].send('late'), false)
      },
    )

    test('pool: destroy() while close() drains: both finish', { timeout: LIMIT }, async () => {
      const pool = new Pool({ workers: 1, isolation })
      const running = await allStarted(pool, () => [pool.run(parked, [0]), pool.run(parked, [1])])
      const queued = pool.run(add, [1, 2])
      const outcomes = Promise.all([...running, queued].map((t) => rejectsWith(t, 'ERR_CLOSED')))
      const closing = pool.close()
      const destroying = pool.destroy()
      await within(Promise.all([closing, destroying]), 5000, 'close and destroy')
      await outcomes
      assert.equal(pool.stats().workers, 0)
    })

    test(
      'pool: close() of an idle pool resolves in a process with nothing else to do',
      { timeout: LIMIT },
      async () => {
        const r = await runTsx('test/fixtures/pool-exit.ts', ['close', isolation])
        assert.equal(r.stdout, 'result 3\nclosed 0\ndestroyed\n', r.stderr)
        assert.equal(r.code, 0)
      },
    )

    test('pool: an idle pool left open does not keep the process alive', { timeout: LIMIT }, async () => {
      const r = await runTsx('test/fixtures/pool-exit.ts', ['leave', isolation])
      assert.equal(r.signal, null, 'exited by itself')
      assert.equal(r.stdout, 'result 3\n', r.stderr)
      assert.equal(r.code, 0)
    })
  })
}

describe('pool: queue limits', () => {
  test(
    'pool: maxQueue: run beyond it throws ERR_QUEUE_FULL; a cancelled task frees its place',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 1, maxQueue: 2 }, async (pool) => {
        // no worker is ready within this turn: everything waits in the queue
        const a = pool.run(add, [1, 1])
        const b = pool.run(add, [2, 2])
        throwsCode(() => pool.run(add, [3, 3]), 'ERR_QUEUE_FULL', /maxQueue 2/)
        assert.equal(pool.stats().queued, 2)
        b.cancel()
        await rejectsWith(b, 'ERR_CANCELLED')
        assert.equal(pool.stats().queued, 1)
        const c = pool.run(add, [4, 4])
        assert.deepEqual(await within(Promise.all([a, c]), 10_000, 'tasks'), [2, 8])
        assert.equal(pool.stats().queued, 0)
        assert.equal(await pool.run(add, [5, 5]), 10, 'room again once the queue drained')
      })
    },
  )

  test(
    'pool: a partition that does not fit the queue fails whole: no part is left behind',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 1, maxQueue: 2 }, async (pool) => {
        await rejectsWith(pool.partition(parked, 3, [], { parts: 3 }), 'ERR_QUEUE_FULL')
        assert.equal(pool.stats().queued, 0)
        assert.equal(pool.stats().running, 0)
      })
    },
  )
})

describe('pool: events, stats and worker lifetimes', () => {
  test(
    'pool: t.progress reaches pool.on("progress") with the task, done and total, throttled',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 2 }, async (pool) => {
        const events: Extract<PoolEvent, { type: 'progress' }>[] = []
        const off = pool.on('progress', (e) => void events.push(e))
        const task = pool.run(progress, [5000])
        assert.equal(await task, 5000)
        off()
        assert.ok(events.length >= 2, 'first and last')
        assert.ok(events.length < 100, `throttled: ${events.length} events for 5000 calls`)
        assert.ok(events.every((e) => e.task === task && e.total === 5000))
        assert.equal(events[0]!.done, 1)
        assert.equal(events.at(-1)!.done, 5000, 'the final progress always comes through')
        for (let i = 1; i < events.length; i++) assert.ok(events[i]!.done > events[i - 1]!.done)
        // off() stopped the listener
        await pool.run(progress, [3])
        assert.ok(events.every((e) => e.task === task))
      })
    },
  )

  test(
    'pool: stats() counts workers, busy, queued, running, completed, failed, crashed, cancelled, per worker',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 2 }, async (pool) => {
        const fresh = pool.stats()
        assert.deepEqual(
          { ...fresh, perWorker: fresh.perWorker.map((w) => ({ ...w })) },
          {
            workers: 2,
            busy: 0,
            queued: 0,
            running: 0,
            completed: 0,
            failed: 0,
            crashed: 0,
            cancelled: 0,
            perWorker: [
              { id: 1, completed: 0, inFlight: 0, pid: undefined },
              { id: 2, completed: 0, inFlight: 0, pid: undefined },
            ],
          },
        )
        await Promise.all([pool.run(add, [1, 2]), pool.run(add, [1, 2]), pool.run(add, [1, 2])])
        await pool.run(fail, ['/x']).catch(() => undefined)
        await pool.run(exit, [2]).catch(() => undefined)
        const c = pool.run(add, [0, 0])
        c.cancel()
        await c.catch(() => undefined)
        const [p] = await allStarted(pool, () => [pool.run(parked, [0])])
        const s = pool.stats()
        assert.equal(s.completed, 3)
        assert.equal(s.failed, 1)
        assert.equal(s.crashed, 1)
        assert.equal(s.cancelled, 1)
        assert.equal(s.workers, 2)
        assert.equal(s.busy, 1)
        assert.equal(s.running, 1)
        assert.equal(s.queued, 0)
        assert.equal(
          s.perWorker.reduce((n, w) => n + w.inFlight, 0),
          1,
        )
        assert.ok(JSON.parse(JSON.stringify(s)), 'JSON-safe')
        p.send('bye')
        await p
        assert.equal(pool.stats().busy, 0)
        assert.equal(pool.slots(), 2)
        assert.equal(pool.freeSlots(), 2)
      })
    },
  )

  test('pool: recycleAfter replaces a worker after that many tasks', { timeout: LIMIT }, async () => {
    await withPool({ workers: 1, recycleAfter: 3 }, async (pool) => {
      const exits: number[] = []
      const reasons: string[] = []
      pool.on('worker-exit', (e) => {
        exits.push(e.worker)
        reasons.push(e.reason)
      })
      const threads: number[] = []
      for (let i = 0; i < 7; i++) threads.push((await pool.run(whereAmI, [])).threadId)
      const [a, b, c] = [threads[0], threads[3], threads[6]]
      assert.deepEqual(threads, [a, a, a, b, b, b, c])
      assert.ok(a !== b && b !== c)
      assert.equal(pool.stats().workers, 1)
      assert.deepEqual(
        pool.stats().perWorker.map((w) => w.id),
        [3],
      )
      assert.deepEqual(reasons, ['recycled', 'recycled'], 'the worker-exit events say why')
    })
  })

  test(
    'pool: idleTimeout stops idle workers (all of them) and starts them again on demand',
    { timeout: LIMIT },
    async () => {
      await withPool({ workers: 2, idleTimeout: 50 }, async (pool) => {
        assert.equal(pool.stats().workers, 0, 'none before the first task')
        let exits = 0
        let allGone!: () => void
        const stopped = new Promise<void>((resolve) => (allGone = resolve))
        const reasons: string[] = []
        pool.on('worker-exit', (e) => {
          reasons.push(e.reason)
          if (++exits === 2) allGone()
        })
        assert.equal(await pool.run(add, [1, 2]), 3)
        // both started (two idle exits follow); the one that got no task may already be stopping:
        // its 50 ms can run out first, and a stopped worker leaves the stats before its exit
        // event arrives, so the two counts need not add up to 2 at this point
        assert.ok(pool.stats().workers + exits <= 2)
        await within(stopped, 5000, 'both idle workers stopping')
        assert.deepEqual(reasons, ['idle', 'idle'])
        assert.equal(pool.stats().workers, 0)
        assert.equal(await pool.run(add, [2, 3]), 5, 'started again')
      })
    },
  )

  // two mechanisms: the OS's parent-death signal (Linux, `setpriv` on the PATH) and, without it (an
  // empty PATH: node is started by its absolute path), the worker's own watchdog thread
  const setpriv = process.platform === 'linux' && spawnSync('setpriv', ['--version']).status === 0
  const mechanisms = setpriv ? (['setpriv', 'watchdog'] as const) : (['watchdog'] as const)
  for (const mode of ['idle', 'busy'] as const)
    for (const mechanism of mechanisms)
      test(
        `pool: process workers die with their parent (${mode} workers, ${mechanism})`,
        { timeout: LIMIT },
        async () => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/pool-parent.ts', mode], {
            cwd: ROOT,
            env: mechanism === 'setpriv' ? process.env : { ...process.env, PATH: '' },
            stdio: ['ignore', 'pipe', 'inherit'],
          })
          try {
            const line = await within(
              new Promise<string>((resolve, reject) => {
                let out = ''
                child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
                  out += chunk
                  if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
                })
                child.on('exit', (code) => reject(new Error(`parent exited early (${code})`)))
              }),
              15_000,
              'the parent starting its pool',
            )
            const { pids: workerPids, busy } = JSON.parse(line) as { pids: number[]; busy: number }
            assert.equal(workerPids.length, 2)
            assert.equal(busy, mode === 'busy' ? 2 : 0)
            assert.ok(workerPids.every(alive))
            if (process.platform === 'linux')
              for (const pid of workerPids) {
                const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
                assert.equal(
                  argv.includes(DIES_WITH_PARENT),
                  mechanism === 'setpriv',
                  `worker ${pid}: ${argv.join(' ')}`,
                )
              }
            child.kill('SIGKILL')
            await gone(workerPids, 5000)
          } finally {
            child.kill('SIGKILL')
          }
        },
      )

  test('pool: a worker process pid is reported, and differs per worker', { timeout: LIMIT }, async () => {
    await withPool({ workers: 2, isolation: 'process' }, async (pool) => {
      const [p1, p2] = pids(pool)
      assert.notEqual(p1, p2)
      assert.ok(alive(p1!) && alive(p2!))
      const exited = nextEvent(pool, 'worker-exit')
      await pool.run(exit, [0]).catch(() => undefined)
      assert.equal((await exited).reason, 'crashed', 'an exit the pool did not ask for is a crash')
      assert.ok(!alive(p1!) || !alive(p2!))
    })
  })
})

test('pool: an async dispose closes the pool', { timeout: LIMIT }, async () => {
  const pool = new Pool({ workers: 1 })
  await pool.run(add, [1, 1])
  await pool[Symbol.asyncDispose]()
  await finish(pool)
})
