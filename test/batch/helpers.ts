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
