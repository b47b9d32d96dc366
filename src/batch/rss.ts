/**
 * Memory of processes from Linux `/proc`: the peak resident set (VmHWM), its reset
 * (`clear_refs` 5, so one long-lived worker process reports each job's own peak), and CPU pinning.
 * Every function degrades to `undefined` / a no-op where `/proc` or `taskset` is missing.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { childProcess } from '../pool/builtins.js'

/** Peak resident set size of `pid` in bytes (VmHWM), or undefined when it cannot be read. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** Resets the peak RSS of `pid` to its current RSS (Linux >= 4.0); false when not possible. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/**
 * Pins process `pid` to CPU `cpu` with `taskset`, synchronously (a few ms, once per worker process),
 * so the next job posted to it already runs there. Best effort: false when taskset is missing or fails.
 */
export function pinToCpu(pid: number, cpu: number): boolean {
  try {
    childProcess().execFileSync('taskset', ['-p', '-c', String(cpu), String(pid)], {
      stdio: 'ignore',
      timeout: 5000,
    })
    return true
  } catch {
    return false
  }
}
