// Pipelining: short task-function jobs go to a slot's worker in chunks, short commands queue in the
// launcher behind a slot's running one. The report must stay exact: one job at a time per slot,
// times in order, every job final once, crashes and errors blamed on the right job.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Boss, batch, schedulers } from '../../src/batch/index.js'
import type { BatchReport, JobReport } from '../../src/batch/index.js'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { act, logThen, noop, sleep } from '../fixtures/batch-tasks.js'
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
const clock = (): number => performance.timeOrigin + performance.now()

/** A Boss of `sleep` jobs on threads; records when the boss told of each job's start and end. */
function sleepBoss(ms: readonly number[], slots: number) {
  const boss = new Boss({ worker: sleep, isolation: 'thread', scheduler: schedulers.maxWorkers(slots) })
  const started = new Map<string, number>()
  const heard = new Map<string, number>()
  boss.on('job-started', (e) => started.set(e.job.name, clock()))
  boss.on('job-finished', (e) => heard.set(e.job.name, clock()))
  boss.add({ individual: ms.map((m) => ({ ms: m })) })
  return { boss, started, heard }
}

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

  test("pipelining of long jobs: a slot's worker starts its next job before the boss has heard that the one before ended", async () => {
    const { boss, heard } = sleepBoss(
      Array.from({ length: 12 }, () => 40),
      2,
    )
    boss.end()
    const report = await done(boss.wait())
    assert.equal(report.summary.done, 12)
    slotGaps(report)
    const bySlot = new Map<number, JobReport[]>()
    for (const j of report.jobs) bySlot.set(j.slot!, [...(bySlot.get(j.slot!) ?? []), j])
    let ahead = 0
    let transitions = 0
    for (const list of bySlot.values()) {
      list.sort((a, b) => a.start! - b.start!)
      for (let i = 1; i < list.length; i++) {
        transitions++
        // the job's start as its worker measured it, the end before it as the boss heard of it
        if (list[i]!.start! < heard.get(list[i - 1]!.name)!) ahead++
      }
    }
    // without pipelining a job is launched only once the boss has heard of the end: never ahead
    assert.ok(
      ahead >= transitions * 0.75,
      `${ahead} of ${transitions} jobs started before the boss heard of the end before`,
    )
  })

  test('pipelining of long jobs: a slot that goes idle takes back the job waiting behind a long one on another slot', async () => {
    const { boss } = sleepBoss([800, 50, 50], 2)
    boss.end()
    const report = await done(boss.wait())
    assert.equal(report.summary.done, 3)
    const [long, , third] = report.jobs
    assert.equal(long!.slot, 0)
    assert.equal(third!.slot, 1, 'job-3 ran on the slot that went idle')
    assert.ok(third!.start! < long!.end!, 'job-3 did not wait for the long job')
    slotGaps(report)
  })

  test('pipelining of long jobs: pause() and stop() take back the job waiting in the worker', async () => {
    // pause at the first start: the next job, already in the worker, must wait for resume()
    const p = sleepBoss([100, 100, 100], 1)
    let resumedAt = 0
    p.boss.on('job-started', (e) => {
      if (e.job.name === 'job-1') p.boss.pause()
    })
    p.boss.on('job-finished', (e) => {
      if (e.job.name === 'job-1')
        setTimeout(() => {
          resumedAt = clock()
          p.boss.resume()
        }, 100)
    })
    p.boss.end()
    const paused = await done(p.boss.wait())
    assert.equal(paused.summary.done, 3)
    assert.ok(resumedAt > 0)
    assert.ok(job(paused, 'job-2').start! >= resumedAt, 'job-2 started only after resume()')

    // stop at the first start: the job waiting in the worker never starts
    const s = sleepBoss([100, 100, 100], 1)
    s.boss.on('job-started', (e) => {
      if (e.job.name === 'job-1') void s.boss.stop()
    })
    const stopped = await done(s.boss.wait())
    assert.deepEqual(
      stopped.jobs.map((j) => j.status),
      ['done', 'cancelled', 'cancelled'],
    )
    assert.equal(job(stopped, 'job-2').start, undefined)
    assert.match(job(stopped, 'job-2').error?.message ?? '', /never started/)
  })

  test('pipelining of long jobs: a job that kills its worker while the next one waits there runs once, is reported crashed, and the next one runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskos-batch-crash-'))
    try {
      const file = join(dir, 'runs')
      const report = await done(
        batch({
          worker: logThen,
          individual: [
            { file, ms: 50 },
            { file, ms: 100, crash: true },
            { file, ms: 50 },
          ],
          scheduler: schedulers.maxWorkers(1),
        }),
      )
      assert.deepEqual(
        report.jobs.map((j) => j.status),
        ['done', 'crashed', 'done'],
      )
      assert.equal(job(report, 'job-2').signal, 'SIGKILL')
      assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n'), ['job-1', 'job-2', 'job-3'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
