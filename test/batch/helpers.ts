import assert from 'node:assert/strict'
import type { BatchReport, JobReport } from '../../src/batch/index.js'
import { within } from '../pool/helpers.js'

export { within, throwsCode, rejectsWith, alive, gone } from '../pool/helpers.js'

/** Hard limit of a batch test (ms). */
export const LIMIT = 30_000

/** Waits for a batch promise with a bound. */
export function done(p: Promise<BatchReport>, ms = 20_000): Promise<BatchReport> {
  return within(p, ms, 'the batch')
}

/** The job named `name` of a report. */
export function job(report: BatchReport, name: string): JobReport {
  const j = report.jobs.find((x) => x.name === name)
  assert.ok(j !== undefined, `no job ${name}`)
  return j
}

/** The largest sum of `weight` over jobs running at the same instant (from recorded start/end). */
export function peakOverlap(jobs: readonly JobReport[], weight: (j: JobReport) => number): number {
  const points: [number, number][] = []
  for (const j of jobs) {
    if (j.start === undefined || j.end === undefined) continue
    points.push([j.start, weight(j)], [j.end, -weight(j)])
  }
  // at equal times, ends come before starts
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let cur = 0
  let max = 0
  for (const [, w] of points) max = Math.max(max, (cur += w))
  return max
}

/** A `taskos` CLI child run through tsx, kept so a test can signal it. */
export interface CliRun {
  readonly child: import('node:child_process').ChildProcess
  /** Output so far. */
  readonly out: { stdout: string; stderr: string }
  /** Resolves when it exits. */
  readonly exited: Promise<{
    code: number | null
    signal: NodeJS.Signals | null
    stdout: string
    stderr: string
  }>
}

/** Starts `taskos ...args` (src/cli/main.ts through tsx); killed after `timeout` ms. */
export async function startCli(args: string[], timeout = 30_000): Promise<CliRun> {
  const { spawn } = await import('node:child_process')
  const { ROOT } = await import('../fixtures/run-tsx.js')
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = { stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out.stdout += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out.stderr += c))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
  const exited = new Promise<{
    code: number | null
    signal: NodeJS.Signals | null
    stdout: string
    stderr: string
  }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, ...out })
    }),
  )
  return { child, out, exited }
}

/** Polls `check` every 10 ms until it holds; fails after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms
  while (!check()) {
    if (performance.now() > end) assert.fail(`${what}: not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
