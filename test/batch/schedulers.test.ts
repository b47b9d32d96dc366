import assert from 'node:assert/strict'
import { test } from 'node:test'
import { expandInstructions } from '../../src/batch/instructions.js'
import type { JobSpec } from '../../src/batch/instructions.js'
import { admit, longerFirst, maxMemory, maxWorkers, toScheduler } from '../../src/batch/schedulers.js'
import type { PendingJob, RunningJob, Scheduler } from '../../src/batch/schedulers.js'
import { throwsCode } from '../pool/helpers.js'

const MiB = 1024 ** 2
const res = { slots: 0, freeSlots: 0, heldResources: new Set<string>() }

function jobs(individual: Record<string, unknown>[]): PendingJob[] {
  return expandInstructions({ individual }).map((spec) => ({ spec, attempt: 1, bypassed: 0 }))
}
const names = (l: readonly PendingJob[]): string[] => l.map((p) => p.spec.name)

test('schedulers: maxWorkers starts at most n, in submission order', () => {
  const p = jobs([{}, {}, {}, {}])
  const s = maxWorkers(2)
  assert.equal(s.maxWorkers, 2)
  assert.deepEqual(names(s.launchable(p, [], res)), ['job-1', 'job-2'])
  assert.deepEqual(names(s.launchable(p.slice(1), [{ spec: p[0]!.spec, slot: 0 }], res)), ['job-2'])
  assert.deepEqual(
    s.launchable(
      p.slice(2),
      [
        { spec: p[0]!.spec, slot: 0 },
        { spec: p[1]!.spec, slot: 1 },
      ],
      res,
    ),
    [],
  )
  throwsCode(() => maxWorkers(0), 'ERR_INVALID_OPTION', /maxWorkers: 0/)
})

test('schedulers: maxMemory keeps declared memory under the limit and rejects a job that can never fit', () => {
  const s = maxMemory({ limit: '10MiB', maxWorkers: 4 })
  const p = jobs([{ memory: '6MiB' }, { memory: '6MiB' }, { memory: '3MiB' }, { memory: '1MiB' }])
  assert.deepEqual(names(s.launchable(p, [], res)), ['job-1', 'job-3', 'job-4'])
  assert.match(
    s.reject!(jobs([{ memory: '11MiB' }])[0]!.spec)!,
    /declares memory 11 MiB, more than the scheduler limit 10 MiB/,
  )
  assert.equal(s.reject!(p[0]!.spec), undefined)
  throwsCode(() => maxMemory({ limit: 'much' }), 'ERR_INVALID_OPTION', /limit/)
  throwsCode(() => maxMemory({ patience: -1 }), 'ERR_INVALID_OPTION', /patience/)
})

test('schedulers: maxMemory lets later jobs pass a big one only `patience` times, then it blocks the queue', () => {
  const s = maxMemory({ limit: 10 * MiB, maxWorkers: 4, patience: 1 })
  const [big, small] = jobs([{ memory: '8MiB' }, { memory: '4MiB' }]) as [PendingJob, PendingJob]
  const running: RunningJob[] = [{ spec: jobs([{ name: 'r', memory: '4MiB' }])[0]!.spec, slot: 0 }]
  assert.deepEqual(names(s.launchable([big, small], running, res)), ['job-2'])
  assert.deepEqual(s.launchable([{ ...big, bypassed: 1 }, small], running, res), [])
})

test('schedulers: a simulated run under maxMemory never exceeds the limit and starves no big job', () => {
  // a stream of small jobs that alone would keep the memory busy forever, and one big job early on
  const limit = 10
  const s = maxMemory({ limit, maxWorkers: 3, patience: 3 })
  const specs = expandInstructions({
    individual: Array.from({ length: 60 }, (_, i) => ({ memory: i === 2 ? 9 : 4 })),
  })
  let pending: PendingJob[] = specs.map((spec) => ({ spec, attempt: 1, bypassed: 0 }))
  let running: { spec: JobSpec; slot: number; endsAt: number }[] = []
  let time = 0
  let bigStartedAt = -1
  while (pending.length > 0 || running.length > 0) {
    const picked = s.launchable(pending, running, res)
    const maxIndex = Math.max(-1, ...picked.map((p) => p.spec.index))
    pending = pending
      .filter((p) => !picked.includes(p))
      .map((p) => (p.spec.index < maxIndex ? { ...p, bypassed: p.bypassed + 1 } : p))
    for (const p of picked) {
      if (p.spec.memory === 9) bigStartedAt = time
      running.push({ spec: p.spec, slot: 0, endsAt: time + 1 + (p.spec.index % 3) })
    }
    const used = running.reduce((a, r) => a + r.spec.memory, 0)
    assert.ok(used <= limit, `at t=${time} running jobs declare ${used} > ${limit}`)
    time++
    running = running.filter((r) => r.endsAt > time)
  }
  assert.ok(bigStartedAt >= 0 && bigStartedAt < 10, `the big job started at t=${bigStartedAt}`)
})

test('schedulers: longerFirst orders by expectedTime (ties keep submission order) before its inner scheduler', () => {
  const p = jobs([{ expectedTime: 1 }, { expectedTime: 5 }, { expectedTime: 3 }, { expectedTime: 5 }])
  assert.deepEqual(names(longerFirst(maxWorkers(3)).launchable(p, [], res)), ['job-2', 'job-4', 'job-3'])
  const inner = maxMemory({ limit: 100 })
  assert.equal(longerFirst(inner).reject!(jobs([{ memory: 101 }])[0]!.spec)?.includes('never run'), true)
})

test('schedulers: admit caps to free slots, drops unknown and clashing jobs (resource locks)', () => {
  const p = jobs([{ resources: 'db' }, { resources: ['db', 'x'] }, { resources: 'y' }, {}, {}])
  const pending = new Set(p)
  assert.deepEqual(names(admit(p, pending, new Set(), 10)), ['job-1', 'job-3', 'job-4', 'job-5'])
  assert.deepEqual(names(admit(p, pending, new Set(['y']), 2)), ['job-1', 'job-4'])
  const stranger = jobs([{ name: 'z' }])[0]!
  assert.deepEqual(names(admit([stranger, p[0]!, p[0]!], pending, new Set(), 5)), ['job-1'])
})

test('schedulers: custom schedulers need launchable; maxWorkers defaults and is checked', () => {
  const custom = toScheduler({ launchable: (pending) => pending.slice(0, 1) })
  assert.ok(custom.maxWorkers >= 1)
  assert.deepEqual(names(custom.launchable(jobs([{}, {}]), [], res)), ['job-1'])
  throwsCode(() => toScheduler({} as Scheduler), 'ERR_INVALID_OPTION', /scheduler/)
  throwsCode(
    () => toScheduler({ maxWorkers: 1.5, launchable: () => [] }),
    'ERR_INVALID_OPTION',
    /scheduler\.maxWorkers/,
  )
})
