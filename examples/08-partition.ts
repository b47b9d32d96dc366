/**
 * 08-partition: Eidolon's process server on taskos. `pool.partition` splits a value range into
 * parts (part i covers [floor(i·n/p), floor((i+1)·n/p))), runs them on every worker at once and
 * gives the results in part order. One prime-counting function runs in this thread and then
 * partitioned, with progress; a prefix sum over shared memory uses a `t.sync()` barrier between
 * its two phases; a failing part rejects the call with its own error and cancels the others.
 *
 *   npx tsx examples/08-partition.ts
 */
import { availableParallelism } from 'node:os'
import { Kernel, Pool, shared } from '../src/index.js' // in your project: from 'taskos'
import { prefixSums } from './tasks/math.js'
import { countPrimes } from './tasks/primes.js'

const workers = Math.max(2, availableParallelism())
const pool = new Pool({ workers })

// 1. The split: 10 values over 3 parts, 50 over 4 (slices of an argument via partitionArgs).
const digits = Array.from({ length: 10 }, (_, i) => i)
const slices = await pool.partition((_t, xs: number[]) => xs, 10, [digits], {
  parts: 3,
  partitionArgs: [0],
})
console.log('10 values over 3 parts:', slices.map((s) => `[${s.join(',')}]`).join(' '))
const bounds = await pool.partition((t) => `[${t.part!.start},${t.part!.end})`, 50, [], {
  parts: 4,
})
console.log('50 values over 4 parts:', bounds.join(' '))

// 2. One task function, two ways: a kernel task in this thread, then partitioned over the pool.
const limit = 3_000_000
const k = new Kernel()
let t0 = performance.now()
const alone = await k.spawn(countPrimes, [limit]).join()
const aloneMs = performance.now() - t0
await k.close()

// a tiny partitioned call first: one part per worker, so each loads primes.ts before the timing
await pool.partition(countPrimes, workers, [workers])
const parts = workers * 4
const checked = new Map<number, number>() // part task id → numbers checked so far
let shown = 0
const off = pool.on('progress', ({ task, done }) => {
  checked.set(task.id, done)
  let sum = 0
  for (const n of checked.values()) sum += n
  const pct = Math.floor((sum / limit) * 100)
  if (pct >= shown + 25 && pct < 100) {
    shown = pct - (pct % 25)
    console.log(`  progress: ${shown}%`)
  }
})
t0 = performance.now()
const perPart = await pool.partition(countPrimes, limit, [limit], { parts })
const poolMs = performance.now() - t0
off()
const total = perPart.reduce((a, b) => a + b, 0)
console.log(
  `primes below ${limit.toLocaleString('en')}: ${alone.toLocaleString('en')} in this thread ` +
    `(${Math.round(aloneMs)} ms), ${total.toLocaleString('en')} on ${workers} workers ` +
    `in ${parts} parts (${Math.round(poolMs)} ms): ${total === alone ? 'same count' : 'MISMATCH'}`,
)
console.log(`speed-up: ${(aloneMs / poolMs).toFixed(2)}x on ${availableParallelism()} cores`)

// 3. Two phases with a barrier: running sums per slice, t.sync(), then add earlier parts' totals.
const xs = shared.from(new Float64Array(10).fill(1))
const totals = shared.float64(4)
await pool.partition(prefixSums, xs.length, [xs, totals], { parts: 4 })
console.log('prefix sums with t.sync():', [...xs].join(', '))

// 4. A failing part: the call rejects with that part's error; the other parts are cancelled.
try {
  await pool.partition(
    async (t) => {
      const { index, start, end } = t.part!
      if (index === 1) throw new RangeError(`no data for [${start}, ${end})`)
      await t.sleep(10_000) // cancelled when part 1 fails
      return 'never'
    },
    100,
    [],
    { parts: 4 },
  )
} catch (error) {
  console.log('a part failed:', String(error))
}
await pool.close()
