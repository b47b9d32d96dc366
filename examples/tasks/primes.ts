/**
 * Counting primes by trial division: CPU-bound work for the pool examples. `countPrimes` counts
 * the whole range [0, limit) when run on its own, or its part's slice in `pool.partition`, and
 * reports progress as it goes.
 */
import { defineTask } from '../../src/index.js' // in your project: from 'taskos'
import type { TaskContext } from '../../src/index.js'

export function isPrime(n: number): boolean {
  if (n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/** Primes in [0, limit), or in this part's slice of it; reports progress about 10 times. */
export const countPrimes = defineTask(
  import.meta.url,
  function countPrimes(t: TaskContext, limit: number): number {
    const start = t.part?.start ?? 0
    const end = t.part?.end ?? limit
    const step = Math.max(1, Math.floor((end - start) / 10))
    let count = 0
    for (let n = start; n < end; n++) {
      if (isPrime(n)) count++
      if ((n - start + 1) % step === 0) t.progress(n - start + 1, end - start)
    }
    return count
  },
)

/** Whether `n` is prime (for `pool.map`). */
export const primeTest = defineTask(import.meta.url, function primeTest(_t: TaskContext, n: number): boolean {
  return isPrime(n)
})
