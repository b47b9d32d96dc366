import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { WorkerCrashedError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, partBounds, shared } from '../../src/pool/index.js'
import { sumSlice } from '../fixtures/pool-tasks.js'
import {
  exitPart,
  failOnePart,
  showPart,
  syncCount,
  syncOrFail,
  writeSlice,
} from '../fixtures/pool-handshake.js'
import { LIMIT, finish, rejectsWith, within } from './helpers.js'

const bounds = (n: number, p: number) => Array.from({ length: p }, (_, i) => partBounds(n, p, i))

describe('pool: partBounds', () => {
  test('pool: part i of p over n covers [floor(i·n/p), floor((i+1)·n/p))', () => {
    assert.deepEqual(bounds(50, 4), [
      [0, 12],
      [12, 25],
      [25, 37],
      [37, 50],
    ])
    assert.deepEqual(bounds(10, 3), [
      [0, 3],
      [3, 6],
      [6, 10],
    ])
    for (const [n, p] of [
      [1, 1],
      [7, 7],
      [1000, 3],
      [99, 8],
    ] as const) {
      const b = bounds(n, p)
      assert.equal(b[0]![0], 0)
      assert.equal(b[p - 1]![1], n)
      for (let i = 1; i < p; i++) assert.equal(b[i]![0], b[i - 1]![1], 'contiguous')
      for (const [s, e] of b) assert.ok(e - s >= Math.floor(n / p) && e - s <= Math.ceil(n / p), 'balanced')
    }
  })
})

describe('pool (thread): partition', () => {
  let pool: Pool
  before(() => {
    pool = new Pool({ workers: 2 })
  })
  after(async () => {
    await finish(pool)
  })

  test(
    'pool: 50 values over 4 parts: t.part is (0,12),(12,25),(25,37),(37,50), results in part order',
    { timeout: LIMIT },
    async () => {
      const parts = await pool.partition((t: TaskContext) => t.part, 50, [], { parts: 4 })
      assert.deepEqual(parts, [
        { index: 0, start: 0, end: 12, count: 4 },
        { index: 1, start: 12, end: 25, count: 4 },
        { index: 2, start: 25, end: 37, count: 4 },
        { index: 3, start: 37, end: 50, count: 4 },
      ])
    },
  )

  test(
    'pool: 10 values over 3 parts: partitionArgs are sliced [0,1,2],[3,4,5],[6,7,8,9]; others are whole',
    { timeout: LIMIT },
    async () => {
      const values = Array.from({ length: 10 }, (_, i) => i)
      const typed = Int32Array.from(values, (v) => v * 10)
      const got = await pool.partition(showPart, 10, [values, 'tag', typed], {
        parts: 3,
        partitionArgs: [0, 2],
      })
      assert.deepEqual(got, [
        { part: { index: 0, start: 0, end: 3, count: 3 }, values: [0, 1, 2], tag: 'tag', typed: [0, 10, 20] },
        {
          part: { index: 1, start: 3, end: 6, count: 3 },
          values: [3, 4, 5],
          tag: 'tag',
          typed: [30, 40, 50],
        },
        {
          part: { index: 2, start: 6, end: 10, count: 3 },
          values: [6, 7, 8, 9],
          tag: 'tag',
          typed: [60, 70, 80, 90],
        },
      ])
      const xs = Float64Array.from({ length: 10 }, (_, i) => i)
      const sums = await pool.partition(sumSlice, 10, [xs], { parts: 3, partitionArgs: [0] })
      assert.deepEqual(
        sums.map((r) => [r.s, r.n]),
        [
          [3, 3],
          [12, 3],
          [30, 4],
        ],
      )
    },
  )

  test(
    'pool: parts default to the worker count and never exceed the value range; 0 values give []',
    { timeout: LIMIT },
    async () => {
      const count = (t: TaskContext) => t.part!.count
      assert.deepEqual(await pool.partition(count, 100, []), [2, 2])
      assert.deepEqual(await pool.partition(count, 1, []), [1])
      assert.deepEqual(await pool.partition(count, 3, [], { parts: 8 }), [3, 3, 3])
      assert.deepEqual(await pool.partition(count, 0, []), [])
      assert.deepEqual(await pool.partition(count, 0, [], { parts: 5 }), [])
    },
  )

  test(
    'pool: a shared array is sliced as views: writes in the workers are seen in main',
    { timeout: LIMIT },
    async () => {
      const big = shared.float64(50)
      const lengths = await pool.partition(writeSlice, 50, [big], { parts: 4, partitionArgs: [0] })
      assert.deepEqual(lengths, [12, 13, 12, 13])
      assert.deepEqual(
        Array.from(big),
        Array.from({ length: 50 }, (_, i) => i),
      )
    },
  )

  test(
    "pool: one failing part rejects the call with that part's error; the others are cancelled",
    { timeout: LIMIT },
    async () => {
      const before = pool.stats()
      const e = (await within(
        pool.partition(failOnePart, 40, [2], { parts: 4 }).then(
          () => assert.fail('resolved'),
          (error: unknown) => error,
        ),
        10_000,
        'partition',
      )) as Error & { code: string }
      assert.equal(e.message, 'part 2 failed')
      assert.equal(e.code, 'EPART')
      const s = pool.stats()
      assert.equal(s.failed - before.failed, 1, 'one part failed')
      assert.equal(s.cancelled - before.cancelled, 3, 'the three others were cancelled')
      assert.equal(s.running, 0)
    },
  )

  test(
    'pool: a part that kills its worker rejects the call with ERR_WORKER_CRASHED; the pool carries on',
    { timeout: LIMIT },
    async () => {
      const before = pool.stats()
      const e = await rejectsWith(
        pool.partition(exitPart, 2, [1], { parts: 2 }),
        'ERR_WORKER_CRASHED',
        /exit code 4/,
      )
      assert.ok(e instanceof WorkerCrashedError)
      const s = pool.stats()
      assert.equal(s.crashed - before.crashed, 1)
      assert.equal(s.cancelled - before.cancelled, 1, 'the other part was cancelled')
      assert.deepEqual(await pool.partition((t: TaskContext) => t.part!.index, 2, []), [0, 1])
      assert.equal(s.workers, 2)
    },
  )

  test(
    'pool: t.sync() is a barrier: every part reaches it before any passes',
    { timeout: LIMIT },
    async () => {
      for (const parts of [2, 3, 5]) {
        const count = shared.int32(2)
        const got = await within(pool.partition(syncCount, parts, [count], { parts }), 10_000, 'partition')
        assert.deepEqual(
          got,
          Array.from({ length: parts }, (_, index) => ({ index, first: parts, second: parts })),
        )
      }
    },
  )

  test(
    'pool: a failing sibling releases the parts waiting at t.sync() with an error',
    { timeout: LIMIT },
    async () => {
      const parts = 3
      const flags = shared.int32(1 + parts)
      const e = await within(
        pool.partition(syncOrFail, parts, [parts - 1, flags], { parts }).then(
          () => assert.fail('resolved'),
          (error: unknown) => error,
        ),
        10_000,
        'partition',
      )
      assert.ok(e instanceof RangeError, 'the root cause, not a sibling')
      assert.equal(e.message, `part ${parts - 1} failed`)
      for (let i = 0; i < parts - 1; i++) {
        const flag = Atomics.load(flags, 1 + i)
        assert.notEqual(flag, 1, `part ${i} passed the barrier`)
        assert.ok(flag === 2 || flag === 3, `part ${i} got an error at the barrier (flag ${flag})`)
      }
    },
  )

  test('pool: t.sync() outside a partition is ERR_INVALID_STATE', { timeout: LIMIT }, async () => {
    await rejectsWith(
      pool.run(async (t: TaskContext) => t.sync(), []),
      'ERR_INVALID_STATE',
      /only in a part of pool\.partition/,
    )
  })

  test(
    'pool: pool.concurrent(fn) is a function of the value range running partition',
    { timeout: LIMIT },
    async () => {
      const scan = pool.concurrent(sumSlice, { partitionArgs: [0], parts: 2 })
      const xs = Float64Array.from({ length: 9 }, (_, i) => i + 1)
      const r = await scan(9, xs)
      assert.deepEqual(
        r.map((p) => [p.part, p.s]),
        [
          [{ index: 0, start: 0, end: 4, count: 2 }, 10],
          [{ index: 1, start: 4, end: 9, count: 2 }, 35],
        ],
      )
    },
  )

  test('pool: a signal cancels every part', { timeout: LIMIT }, async () => {
    const ac = new AbortController()
    const call = pool.partition(failOnePart, 4, [-1], { parts: 4, signal: ac.signal })
    ac.abort()
    await rejectsWith(call, 'ERR_CANCELLED')
    assert.equal(pool.stats().running, 0)
  })
})

describe('pool (process): partition', () => {
  test('pool: partition works across processes (sliced copies)', { timeout: LIMIT }, async () => {
    const pool = new Pool({ workers: 2, isolation: 'process' })
    const xs = Float64Array.from({ length: 10 }, (_, i) => i)
    const got = await pool.partition(sumSlice, 10, [xs], { parts: 3, partitionArgs: [0] })
    assert.deepEqual(
      got.map((r) => [r.part, r.s]),
      [
        [{ index: 0, start: 0, end: 3, count: 3 }, 3],
        [{ index: 1, start: 3, end: 6, count: 3 }, 12],
        [{ index: 2, start: 6, end: 10, count: 3 }, 30],
      ],
    )
    assert.deepEqual(
      await pool.partition((t: TaskContext) => t.sync().then(() => t.part!.index), 3, [], { parts: 3 }),
      [0, 1, 2],
    )
    await finish(pool)
  })
})
