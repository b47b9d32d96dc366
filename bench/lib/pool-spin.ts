/**
 * Calibration of the CPU-bound task of bench/pool.ts (`spin` in bench/fixtures/pool-bodies.mjs).
 *
 * - {@link spinPerMs}: iterations per CPU-millisecond, measured once per run: the runner process
 *   measures it when it loads the module and passes it to the case processes in the environment,
 *   so every subject runs the same iteration count.
 * - {@link spinCpuMs}: what one task of a given iteration count costs now. The cost of an iteration
 *   drifts by several percent over a run on a shared VM (other guests, frequency), so a case
 *   measures it again right around its repetitions to know how much CPU work its tasks held.
 * @module
 */
import { spin } from '../fixtures/pool-bodies.mjs'
import { median } from './harness.js'

const ENV = 'TASKOS_BENCH_SPIN_PER_MS'

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

let sink = 0

/** Median process CPU ms of `runs` runs of `spin(iterations)` on this thread. */
export function spinCpuMs(iterations: number, runs: number): number {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const c0 = cpuMs()
    sink ^= spin(iterations)
    times.push(cpuMs() - c0)
  }
  return median(times)
}

/** Iterations per CPU-ms of `spin` on this thread: the median of 7 runs of about 20 ms each. */
function measure(): number {
  let iterations = 1000
  // grow until one run takes 20 ms (the loop is optimized by then)
  while (spinCpuMs(iterations, 1) < 20) iterations *= 2
  return iterations / spinCpuMs(iterations, 7)
}

/** Iterations of `spin` per CPU-millisecond, measured once per run. */
export function spinPerMs(): number {
  const known = Number(process.env[ENV])
  if (known > 0) return known
  const rate = measure()
  process.env[ENV] = String(rate)
  if (sink === 0.5) console.log(sink) // never: keeps the results alive
  return rate
}
