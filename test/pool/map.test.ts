import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { TaskContext } from '../../src/kernel/index.js'
import { Pool, shared } from '../../src/pool/index.js'
import { inc } from '../fixtures/pool-tasks.js'
import { firstThenPark, gated } from '../fixtures/pool-handshake.js'
import { LIMIT, finish, within } from './helpers.js'

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const v of it) out.push(v)
  return out
}

describe('pool (thread): map', () => {
  let pool: Pool
  before(() => {
    pool = new Pool({ workers: 2 })
  })
  after(async () => {
    await finish(pool)
  })

  test(
    'pool: map gives results in input order over arrays, iterables and async iterables',
    { timeout: LIMIT },
    async () => {
      const n = 300
      const want = Array.from({ length: n }, (_, i) => i + 1)
      const input = Array.from({ length: n }, (_, i) => i)
      assert.deepEqual(await within(collect(pool.map(inc, input)), 10_000, 'array'), want)
      assert.deepEqual(await collect(pool.map(inc, new Set(input).values())), want)
      async function* slowly() {
        for (const i of input) {
          if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
          yield i
        }
      }
      assert.deepEqual(
        await within(collect(pool.map(inc, slowly(), { chunkSize: 7 })), 10_000, 'async'),
        want,
      )
      assert.deepEqual(await collect(pool.map(inc, [])), [])
      assert.deepEqual(await collect(pool.map((_t: TaskContext, s: string) => s.length, ['a', 'bb'])), [1, 2])
    },
  )

  test('pool: ordered:false yields results as they finish', { timeout: LIMIT }, async () => {
    const gate = shared.int32(1)
    const out: number[] = []
    const items = [0, 1, 2].map((x) => ({ x, gate }))
    for await (const v of pool.map(gated, items, { ordered: false })) {
      out.push(v)
      // item 0 cannot finish before this: open its gate once something else came out
      Atomics.store(gate, 0, 1)
      Atomics.notify(gate, 0)
    }
    assert.notEqual(out[0], 0, 'a later item came out first')
    assert.deepEqual([...out].sort(), [0, 1, 2])
  })

  test(
    'pool: backpressure: the input is never read more than `concurrency` items ahead',
    { timeout: LIMIT },
    async () => {
      for (const [concurrency, chunkSize] of [
        [4, 2],
        [3, 64],
        [1, 1],
      ] as const) {
        let pulled = 0
        let consumed = 0
        let maxAhead = 0
        function* input() {
          for (let i = 0; i < 40; i++) {
            pulled++
            maxAhead = Math.max(maxAhead, pulled - consumed)
            yield i
          }
        }
        const out: number[] = []
        for await (const v of pool.map(inc, input(), { concurrency, chunkSize })) {
          consumed++
          out.push(v)
        }
        assert.deepEqual(
          out,
          Array.from({ length: 40 }, (_, i) => i + 1),
        )
        assert.ok(maxAhead <= concurrency, `read ${maxAhead} ahead with concurrency ${concurrency}`)
      }
    },
  )

  test(
    'pool: breaking out of map cancels the items in flight and closes the input',
    { timeout: LIMIT },
    async () => {
      const before = pool.stats()
      let closed = false
      let pulled = 0
      function* input() {
        try {
          for (let i = 0; i < 1000; i++) {
            pulled++
            yield i
          }
        } finally {
          closed = true
        }
      }
      for await (const v of pool.map(firstThenPark, input(), { concurrency: 6, chunkSize: 3 })) {
        assert.equal(v, 0)
        break
      }
      assert.ok(closed, 'the input generator was closed')
      assert.ok(pulled <= 7, `pulled ${pulled}`)
      // the parked items end cancelled; nothing is left running
      await within(
        (async () => {
          while (pool.stats().running > 0) await new Promise((resolve) => setImmediate(resolve))
        })(),
        5000,
        'cancelled items ending',
      )
      const s = pool.stats()
      assert.equal(s.cancelled - before.cancelled, pulled - 1, 'every other item pulled was cancelled')
      assert.equal(s.queued, 0)
    },
  )

  test(
    'pool: a failing item ends the map with its error and cancels the rest',
    { timeout: LIMIT },
    async () => {
      const before = pool.stats()
      const boom = (t: TaskContext, x: number) => {
        if (x === 1) throw new Error('item 1 failed')
        return x === 0 ? 0 : t.receive()
      }
      const out: unknown[] = []
      await assert.rejects(
        within(
          (async () => {
            for await (const v of pool.map(boom, [0, 1, 2, 3])) out.push(v)
          })(),
          10_000,
          'map',
        ),
        /item 1 failed/,
      )
      assert.deepEqual(out, [0])
      await within(
        (async () => {
          while (pool.stats().running > 0) await new Promise((resolve) => setImmediate(resolve))
        })(),
        5000,
        'cancelled items ending',
      )
      assert.equal(pool.stats().cancelled - before.cancelled, 2)
    },
  )
})
