// Pipelining: short task-function jobs go to a slot's worker in chunks, short commands queue in the
// launcher behind a slot's running one. The report must stay exact: one job at a time per slot,
// times in order, every job final once, crashes and errors blamed on the right job.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Boss, batch, schedulers } from '../../src/batch/index.js'
import type { BatchReport, JobReport } from '../../src/batch/index.js'
import { act, noop } from '../fixtures/batch-tasks.js'
import { LIMIT, done, job, peakOverlap } from './helpers.js'

/** Per slot, jobs by start; asserts they never overlap; returns the gaps between them (ms). */
function slotGaps(report: BatchReport): number[] {
  const bySlot = new Map<number, JobReport[]>()
  for (const j of report.jobs) {
    if (j.start === undefined) continue
    assert.ok(j.slot !== undefined && j.end !== undefined, `${j.name} has a slot and an end`)
    assert.ok(j.end >= j.start, `${j.name} ends after it starts`)
    const list = bySlot.get(j.slot) ?? []
    list.push(j)
    bySlot.set(j.slot, list)
  }
  const gaps: number[] = []
  for (const list of bySlot.values()) {
    list.sort((a, b) => a.start! - b.start!)
    for (let i = 1; i < list.length; i++) {
      const gap = list[i]!.start! - list[i - 1]!.end!
      assert.ok(gap >= 0, `${list[i]!.name} starts before ${list[i - 1]!.name} ends on slot ${list[i]!.slot}`)
      gaps.push(gap)
    }
  }
  return gaps
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

describe('batch: pipelining', { timeout: LIMIT }, () => {
  for (const isolation of ['process', 'thread'] as const) {
    test(`pipelining: 3,000 tiny jobs on 2 worker ${isolation === 'process' ? 'processes' : 'threads'} run once each, one at a time per slot, back to back`, async () => {
      const n = 3000
      const report = await done(
        batch({
          worker: noop,
          isolation,
          individual: { i: Array.from({ length: n }, (_, i) => i) },
          scheduler: schedulers.maxWorkers(2),
        }),
      )
      assert.equal(report.summary.done, n)
      assert.deepEqual(
        report.jobs.map((j) => j.result),
        Array.from({ length: n }, (_, i) => i),
      )
      assert.ok(report.jobs.every((j) => j.attempt === 1 && (j.slot === 0 || j.slot === 1)))
      assert.ok(peakOverlap(report.jobs, () => 1) <= 2, 'at most 2 jobs at once')
      const gaps = slotGaps(report)
      // in a chunk the worker goes from one job to the next in microseconds; a round trip to the
      // boss per job (no pipelining) costs far more than 50 µs
      assert.ok(median(gaps) < 0.05, `median gap ${median(gaps)} ms`)
    })
  }

  test('pipelining: a job that kills its worker inside a chunk is the one reported crashed; the others of its chunk run again alone and finish', async () => {
    const n = 600
    const report = await done(
      batch({
        worker: act,
        individual: Array.from({ length: n }, (_, i) => ({ mode: i === 400 ? 'crash' : 'ok' })),
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.equal(job(report, 'job-401').status, 'crashed')
    assert.equal(job(report, 'job-401').signal, 'SIGKILL')
    assert.equal(report.summary.crashed, 1)
    assert.equal(report.summary.done, n - 1)
    slotGaps(report)
  })

  test('pipelining: jobs that throw inside a chunk fail alone, with their own error', async () => {
    const n = 800
    const failing = new Set([300, 301, 555])
    const report = await done(
      batch({
        worker: act,
        isolation: 'thread',
        individual: Array.from({ length: n }, (_, i) => ({ mode: failing.has(i) ? 'fail' : 'ok' })),
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.equal(report.summary.failed, 3)
    assert.equal(report.summary.done, n - 3)
    for (const i of failing) {
      const j = job(report, `job-${i + 1}`)
      assert.equal(j.status, 'failed')
      assert.match(j.error?.message ?? '', new RegExp(`failed on purpose \\(job-${i + 1}\\)`))
      assert.match(j.error?.stack ?? '', /act/)
    }
  })

  test('pipelining: short commands queue in the launcher per slot; stop() drops the queued ones, every job ends once', async () => {
    const all = await done(
      batch({
        worker: { command: ['true'] },
        individual: { i: Array.from({ length: 300 }, (_, i) => i) },
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.equal(all.summary.done, 300)
    assert.ok(peakOverlap(all.jobs, () => 1) <= 2)
    slotGaps(all)

    // each job's own output and exit code, though the launcher reports several ends at once and a
    // slot's jobs share its output files
    const echoed = await done(
      batch({
        worker: { command: 'echo out-{i}; echo err-{i} >&2; exit {code}' },
        individual: Array.from({ length: 300 }, (_, i) => ({ i, code: i % 37 === 5 ? 3 : 0 })),
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    for (const j of echoed.jobs) {
      const { i, code } = j.instructions as { i: number; code: number }
      assert.deepEqual([j.stdout, j.stderr, j.exitCode], [`out-${i}\n`, `err-${i}\n`, code], j.name)
    }
    slotGaps(echoed)

    const boss = new Boss({ worker: { command: ['true'] }, scheduler: schedulers.maxWorkers(2) })
    boss.add({ individual: { i: Array.from({ length: 2000 }, (_, i) => i) } })
    let finished = 0
    const stopped = new Promise<BatchReport>((resolve) => {
      boss.on('job-finished', () => {
        if (++finished === 200) resolve(boss.stop())
      })
    })
    const report = await done(stopped)
    const s = report.summary
    assert.equal(s.done + s.cancelled, 2000)
    assert.equal(s.pending + s.running + s.failed + s.crashed, 0)
    assert.ok(s.done >= 200 && s.done < 2000, `${s.done} done`)
    for (const j of report.jobs.filter((x) => x.status === 'cancelled'))
      assert.match(j.error?.message ?? '', /never started/)
    slotGaps(report)
  })
})
