/**
 * The demo's pool work: counting primes by trial division, a CPU-bound task function that runs
 * in-process (whole range) or as a part of `pool.partition` (its slice), reporting progress.
 * @module
 */
import type { TaskContext } from '../kernel/index.js'
import { defineTask } from '../pool/index.js'

function isPrime(n: number): boolean {
  if (n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

/** Primes in [0, limit), or in this part's slice of it; reports progress 20 times. */
export const countPrimes = defineTask(import.meta.url, function countPrimes(t: TaskContext, limit: number) {
  const start = t.part?.start ?? 0
  const end = t.part?.end ?? limit
  const step = Math.max(1, Math.floor((end - start) / 20))
  let count = 0
  for (let n = start; n < end; n++) {
    if (isPrime(n)) count++
    if ((n - start) % step === step - 1) t.progress(n - start + 1, end - start)
  }
  return count
})
