import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Boss, MemoryExceededError, batch, schedulers } from '../../src/batch/index.js'
import type { JobReport } from '../../src/batch/index.js'
import { VirtualClock } from '../../src/kernel/index.js'
import { shared } from '../../src/pool/index.js'
import { act, affinity, bump, double, hog, noop, sleep } from '../fixtures/batch-tasks.js'
import { LIMIT, done, job, peakOverlap, throwsCode, within } from './helpers.js'

describe('batch: task functions', { timeout: LIMIT }, () => {
  test('batch: jobs run on thread workers with their instructions, slot and attempt; the report holds it all', async () => {
    const report = await done(
      batch({
        worker: double,
        isolation: 'thread',
        common: { k: 1 },
        individual: { x: [1, 2, 3] },
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.deepEqual(
      report.jobs.map((j) => [j.name, j.status, (j.result as { y: number }).y, j.attempt]),
      [
        ['job-1', 'done', 2, 1],
        ['job-2', 'done', 4, 1],
        ['job-3', 'done', 6, 1],
      ],
    )
    for (const j of report.jobs) {
      assert.ok(j.slot === 0 || j.slot === 1)
      assert.equal((j.result as { slot: number }).slot, j.slot, 'the worker got its slot number')
      assert.ok(j.start! <= j.end! && j.durationMs === j.end! - j.start!)
      assert.deepEqual(j.instructions, { k: 1, x: (j.result as { y: number }).y / 2, name: j.name })
    }
    assert.deepEqual(
      { ...report.summary, wallMs: 0 },
      {
        total: 3,
        pending: 0,
        running: 0,
        done: 3,
        failed: 0,
        crashed: 0,
        cancelled: 0,
        skipped: 0,
        wallMs: 0,
        ok: true,
        finished: true,
      },
    )
  })

  test('batch: a worker process killed by a signal is reported crashed while the other jobs finish; RSS is measured', async () => {
    const report = await done(
      batch({
        worker: act,
        individual: { mode: ['ok', 'crash', 'ok', 'fail', 'exit', 'ok'] },
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.deepEqual(
      report.jobs.map((j) => j.status),
      ['done', 'crashed', 'done', 'failed', 'crashed', 'done'],
    )
    assert.equal(job(report, 'job-2').signal, 'SIGKILL')
    assert.equal(job(report, 'job-2').error?.code, 'ERR_WORKER_CRASHED')
    assert.equal(job(report, 'job-5').exitCode, 3)
    assert.match(job(report, 'job-4').error!.message, /failed on purpose \(job-4\)/)
    assert.match(job(report, 'job-4').error!.stack!, /act/)
    for (const name of ['job-1', 'job-3', 'job-6']) assert.ok(job(report, name).peakRssBytes! > 1024 * 1024)
    assert.equal(report.summary.ok, false)
  })

  test('batch: retries wait their backoff on the clock; UnrecoverableError is not retried', async () => {
    const clock = new VirtualClock()
    const boss = new Boss({
      worker: act,
      isolation: 'thread',
      individual: { mode: ['flaky', 'unrecoverable', 'fail'], okAt: [3, 1, 1] },
      retries: 2,
      backoff: { initial: 60_000, factor: 2, max: 600_000 },
      clock,
      scheduler: schedulers.maxWorkers(2),
    })
    const delays: [string, number][] = []
    boss.on('job-retry', (e) => delays.push([e.job.name, e.delayMs]))
    boss.end()
    const until = async (n: number): Promise<void> => {
      for (let i = 0; delays.length < n && i < 2000; i++) await new Promise((r) => setTimeout(r, 5))
    }
    await until(2) // first failures of job-1 and job-3
    assert.deepEqual(delays.sort(), [
      ['job-1', 60_000],
      ['job-3', 60_000],
    ])
    assert.equal(clock.pending, 2, 'both retries wait on the virtual clock')
    await clock.advance(60_000)
    await until(4)
    assert.deepEqual(delays.slice(2).sort(), [
      ['job-1', 120_000],
      ['job-3', 120_000],
    ])
    await clock.advance(120_000)
    const report = await done(boss.wait())
    assert.deepEqual(
      report.jobs.map((j) => [j.status, j.attempt]),
      [
        ['done', 3],
        ['failed', 1],
        ['failed', 3],
      ],
    )
    assert.equal(job(report, 'job-1').result, 'ok at 3')
    assert.equal(job(report, 'job-2').error?.name, 'UnrecoverableError')
  })

  test('batch: longerFirst over 3,000 jobs starts them in expectedTime order (the pending list stays sorted)', async () => {
    const n = 3000
    const expected = Array.from({ length: n }, (_, i) => (i * 7919) % 1000)
    // the order in which jobs start, as the boss starts them: tiny jobs run several to a chunk in a
    // row, and their start times (ms since the epoch, timed in the worker) can tie
    const order: number[] = []
    const boss = new Boss({
      worker: noop,
      isolation: 'thread',
      individual: { i: expected.map((_, i) => i), expectedTime: expected },
      scheduler: schedulers.longerFirst(schedulers.maxWorkers(1)),
    })
    boss.on('job-started', (e) => order.push(e.job.instructions.expectedTime as number))
    boss.end()
    const report = await done(boss.wait())
    assert.equal(report.summary.done, n)
    assert.deepEqual(
      order,
      [...expected].sort((a, b) => b - a),
    )
  })

  test('batch: shared arrays in common reach thread workers without copies', async () => {
    const counts = shared.int32(4)
    const report = await done(
      batch({
        worker: bump,
        isolation: 'thread',
        common: { counts },
        individual: { i: [0, 1, 1, 3, 3, 3] },
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    assert.ok(report.jobs.every((j) => j.result === true))
    assert.deepEqual([...counts], [1, 2, 0, 3])
  })

  test("batch: memoryPolicy 'fail' kills a job measured over its declared memory; 'warn' notes it", async () => {
    const report = await done(
      batch({
        worker: hog,
        individual: [
          { name: 'big', mb: 200, ms: 2000, memory: '64MiB' },
          { name: 'fine', mb: 1, ms: 10 },
        ],
        memoryPolicy: 'fail',
        sampleInterval: 20,
        killGrace: 100,
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    const big = job(report, 'big')
    assert.equal(big.status, 'failed')
    assert.equal(big.error?.name, MemoryExceededError.name)
    assert.ok(big.durationMs! < 1900, 'killed before it ended by itself')
    assert.equal(job(report, 'fine').status, 'done')
    const warned = await done(
      batch({
        worker: hog,
        individual: [{ mb: 100, ms: 100, memory: '16MiB' }],
        sampleInterval: 20,
        scheduler: schedulers.maxWorkers(1),
      }),
    )
    assert.equal(warned.jobs[0]!.status, 'done')
    assert.match(warned.jobs[0]!.warnings![0]!, /more than its declared memory 16 MiB/)
    assert.ok(warned.jobs[0]!.peakRssBytes! > 100 * 1024 * 1024)
  })
})

describe('batch: commands and schedulers', { timeout: LIMIT }, () => {
  for (const launcher of ['auto', 'node'] as const) {
    test(`batch: commands report exit code, signal, stdout/stderr tails and peak RSS (launcher ${launcher})`, async () => {
      const report = await done(
        batch({
          worker: {
            command: 'echo "out {x}"; echo "err {x}" >&2; [ {x} = kill ] && kill -9 $$; exit {code}',
          },
          individual: { x: ['a', 'b', 'kill'], code: [0, 4, 0] },
          tailBytes: 64,
          launcher,
          scheduler: schedulers.maxWorkers(2),
        }),
      )
      const [a, b, k] = report.jobs as [JobReport, JobReport, JobReport]
      assert.deepEqual([a.status, a.exitCode, a.stdout, a.stderr], ['done', 0, 'out a\n', 'err a\n'])
      assert.deepEqual([b.status, b.exitCode], ['failed', 4])
      assert.match(b.error!.message, /exited with code 4: err b/)
      assert.deepEqual([k.status, k.signal], ['crashed', 'SIGKILL'])
      const slow = await done(
        batch({ worker: { command: ['sleep', '0.3'] }, individual: [{}], sampleInterval: 20, launcher }),
      )
      assert.ok(slow.jobs[0]!.peakRssBytes! > 0, 'a running command is sampled')
      const missing = await done(
        batch({
          worker: { command: ['/no/such/program'] },
          individual: [{}],
          retries: 3,
          backoff: { initial: 1 },
          launcher,
        }),
      )
      assert.equal(missing.jobs[0]!.status, 'failed')
      assert.equal(missing.jobs[0]!.attempt, 1, 'a program that cannot start is not retried')
      assert.match(missing.jobs[0]!.error!.message, /cannot run .*no\/such\/program/)
    })
  }

  test('batch: maxMemory is never exceeded (from recorded start/end) and an impossible job fails at once', async () => {
    const MiB = 1024 * 1024
    const report = await done(
      batch({
        worker: { command: ['sleep', '{s}'] },
        individual: [
          ...Array.from({ length: 8 }, (_, i) => ({ s: 0.05, memory: `${[4, 3, 2, 5][i % 4]}MiB` })),
          { name: 'huge', s: 5, memory: '11MiB' },
        ],
        scheduler: schedulers.maxMemory({ limit: '7MiB', maxWorkers: 3 }),
      }),
    )
    const huge = job(report, 'huge')
    assert.equal(huge.status, 'failed')
    assert.equal(huge.start, undefined, 'never started')
    assert.match(huge.error!.message, /declares memory 11 MiB, more than the scheduler limit 7 MiB/)
    const ran = report.jobs.filter((j) => j.name !== 'huge')
    assert.ok(ran.every((j) => j.status === 'done'))
    assert.ok(peakOverlap(ran, (j) => Number.parseInt(j.instructions.memory as string) * MiB) <= 7 * MiB)
    assert.ok(peakOverlap(ran, () => 1) >= 2, 'jobs did run side by side')
  })

  test('batch: bind pins each slot to a CPU (taskset) and the job runs there', async () => {
    const cpus = availableParallelism()
    const report = await done(
      batch({
        worker: { command: ['grep', 'Cpus_allowed_list', '/proc/self/status'] },
        individual: [{}, {}, {}, {}],
        bind: true,
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    for (const j of report.jobs) assert.equal(j.stdout?.split(':')[1]?.trim(), String(j.slot! % cpus), j.name)
  })

  test('batch: bind pins the worker process of each slot to a CPU before its first job', async () => {
    const cpus = availableParallelism()
    const report = await done(
      batch({
        worker: affinity,
        individual: [{}, {}, {}, {}],
        bind: true,
        scheduler: schedulers.maxWorkers(2),
      }),
    )
    for (const j of report.jobs) {
      const r = j.result as { cpus: string; slot: number }
      assert.equal(r.cpus, String(r.slot % cpus), j.name)
    }
  })

  test('batch: randomized jobs under maxMemory and locks: memory and resources never overcommitted', async (t) => {
    const seed = Number(process.env.TASKOS_SEED ?? Date.now() % 100_000)
    t.diagnostic(`seed ${seed}`)
    let x = seed
    const rand = (n: number): number => {
      // mulberry32
      x = (x + 0x6d2b79f5) | 0
      let t = Math.imul(x ^ (x >>> 15), 1 | x)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) % n
    }
    const MiB = 1024 * 1024
    const individual = Array.from({ length: 60 }, () => {
      const r = rand(4)
      return {
        s: (rand(20) / 1000).toFixed(3),
        memory: (1 + rand(6)) * MiB,
        expectedTime: rand(10),
        ...(r === 0 ? {} : { resources: r === 3 ? ['a', 'b'] : r === 1 ? 'a' : 'b' }),
      }
    })
    const report = await done(
      batch({
        worker: { command: ['sleep', '{s}'] },
        individual,
        scheduler: schedulers.longerFirst(
          schedulers.maxMemory({ limit: 10 * MiB, maxWorkers: 4, patience: rand(4) }),
        ),
      }),
    )
    const why = `seed ${seed} (rerun with TASKOS_SEED=${seed})`
    assert.ok(report.summary.ok, why)
    assert.ok(peakOverlap(report.jobs, (j) => j.instructions.memory as number) <= 10 * MiB, why)
    for (const r of ['a', 'b']) {
      const holders = report.jobs.filter((j) => [j.instructions.resources].flat().includes(r))
      assert.equal(
        peakOverlap(holders, () => 1),
        1,
        `resource ${r}, ${why}`,
      )
    }
  })

  test('batch: longerFirst starts the longest expected jobs first', async () => {
    const report = await done(
      batch({
        worker: { command: ['true'] },
        individual: { expectedTime: [1, 30, 5, 30, 0, 12] },
        scheduler: schedulers.longerFirst(schedulers.maxWorkers(1)),
      }),
    )
    const order = [...report.jobs].sort((a, b) => a.start! - b.start!).map((j) => j.name)
    assert.deepEqual(order, ['job-2', 'job-4', 'job-6', 'job-3', 'job-1', 'job-5'])
  })

  test('batch: jobs naming the same resource never overlap', async () => {
    const report = await done(
      batch({
        worker: { command: ['sleep', '0.04'] },
        individual: Array.from({ length: 9 }, (_, i) =>
          i % 3 === 2 ? {} : { resources: i % 3 === 0 ? 'db' : ['db', 'disk'] },
        ),
        scheduler: schedulers.maxWorkers(3),
      }),
    )
    const locked = report.jobs.filter((j) => j.instructions.resources !== undefined)
    assert.equal(
      peakOverlap(locked, () => 1),
      1,
    )
    assert.ok(peakOverlap(report.jobs, () => 1) >= 2, 'unlocked jobs ran beside them')
  })
})

describe('batch: the boss', { timeout: LIMIT }, () => {
  test('boss: add any time, hooks before each job, pause/resume, add after end is ERR_CLOSED', async () => {
    const seen: string[] = []
    const boss = new Boss({
      worker: double,
      isolation: 'thread',
      scheduler: schedulers.maxWorkers(1),
      beforeJob: (job, slot) => void seen.push(`${job.name}@${slot}`),
    })
    boss.pause()
    boss.add({ individual: { x: [1, 2] } })
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(boss.stats().running + boss.stats().done, 0, 'nothing starts while paused')
    assert.equal(boss.report({ interim: true }).summary.pending, 2)
    boss.resume()
    boss.add({ individual: [{ name: 'late', x: 10 }] })
    boss.end()
    throwsCode(() => boss.add({ individual: [{}] }), 'ERR_CLOSED')
    const report = await done(boss.wait())
    assert.deepEqual(
      report.jobs.map((j) => [j.name, (j.result as { y: number }).y]),
      [
        ['job-1', 2],
        ['job-2', 4],
        ['late', 20],
      ],
    )
    assert.deepEqual(seen, ['job-1@0', 'job-2@0', 'late@0'])
    boss.end()
    boss.pause()
    assert.equal(await boss.stop(), report, 'calls after the end are harmless')
  })

  test('boss: a throwing hook fails its job only; events stream job-started, job-finished, progress', async () => {
    const events: string[] = []
    const boss = new Boss({
      worker: double,
      isolation: 'thread',
      individual: { x: [1, 2] },
      scheduler: schedulers.maxWorkers(1),
      beforeJob: (job) => {
        if (job.name === 'job-1') throw new Error('no licence')
      },
    })
    boss.on('job-started', (e) => events.push(`start ${e.job.name}`))
    boss.on('job-finished', (e) => events.push(`end ${e.job.name} ${e.job.status}`))
    boss.on('progress', (e) =>
      events.push(`progress ${e.summary.done + e.summary.failed}/${e.summary.total}`),
    )
    boss.end()
    const final = await done(boss.wait())
    assert.equal(job(final, 'job-1').error?.message, 'no licence')
    assert.deepEqual(events, [
      'start job-1',
      'end job-1 failed',
      'progress 1/2',
      'start job-2',
      'end job-2 done',
      'progress 2/2',
    ])
  })

  test('boss: stop() lets running jobs finish and cancels pending ones; stop({ now }) kills running ones', async () => {
    const boss = new Boss({
      worker: { command: ['sleep', '{s}'] },
      individual: { s: [0.3, 0.3, 0.3] },
      scheduler: schedulers.maxWorkers(1),
    })
    const started = new Promise<void>((r) => boss.on('job-started', () => r()))
    await within(started, 5000, 'first job')
    const report = await done(boss.stop())
    assert.deepEqual(
      report.jobs.map((j) => j.status),
      ['done', 'cancelled', 'cancelled'],
    )
    throwsCode(() => boss.add({ individual: [{ s: 1 }] }), 'ERR_CLOSED')

    const boss2 = new Boss({
      worker: { command: 'sleep 30' },
      individual: [{}, {}],
      scheduler: schedulers.maxWorkers(2),
      killGrace: 200,
    })
    let n = 0
    const both = new Promise<void>((r) => boss2.on('job-started', () => ++n === 2 && r()))
    await within(both, 5000, 'two jobs')
    const t0 = performance.now()
    const r2 = await done(boss2.stop({ now: true }))
    assert.ok(performance.now() - t0 < 3000)
    assert.deepEqual(
      r2.jobs.map((j) => [j.status, j.signal]),
      [
        ['cancelled', 'SIGTERM'],
        ['cancelled', 'SIGTERM'],
      ],
    )
  })

  test('boss: stop({ now }) on task-function jobs cancels them and ends the workers', async () => {
    const boss = new Boss({
      worker: sleep,
      individual: { ms: [20_000, 20_000, 10] },
      scheduler: schedulers.maxWorkers(2),
      killGrace: 100,
    })
    let n = 0
    const both = new Promise<void>((r) => boss.on('job-started', () => ++n === 2 && r()))
    await within(both, 10_000, 'two jobs')
    await new Promise((r) => setTimeout(r, 300))
    const report = await done(boss.destroy().then(() => boss.report()))
    assert.deepEqual(
      report.jobs.map((j) => j.status),
      ['cancelled', 'cancelled', 'cancelled'],
    )
    assert.equal(report.summary.finished, true)
  })

  test('boss: bad options are ERR_INVALID_OPTION naming the key, before anything runs', () => {
    const listeners = process.listenerCount('SIGINT')
    const journal = join(tmpdir(), `taskos-never-${process.pid}.journal`)
    throwsCode(
      () => new Boss({ worker: { command: ['x', '{nope}'] }, individual: [{}], signals: true, journal }),
      'ERR_INVALID_OPTION',
      /\{nope\} has no value/,
    )
    assert.equal(process.listenerCount('SIGINT'), listeners, 'no signal handler left behind')
    assert.equal(existsSync(journal), false, 'no journal created')
    throwsCode(
      () => new Boss({ worker: double, signals: 'yes' as never }),
      'ERR_INVALID_OPTION',
      /option signals/,
    )
    throwsCode(
      () => new Boss({ worker: { command: ['true'] }, launcher: 'fork' as never }),
      'ERR_INVALID_OPTION',
      /option launcher/,
    )
    throwsCode(() => new Boss({ worker: (() => 1) as never }), 'ERR_INVALID_OPTION', /option worker/)
    throwsCode(() => new Boss({ worker: double, retries: -1 }), 'ERR_INVALID_OPTION', /option retries/)
    throwsCode(
      () => new Boss({ worker: double, isolation: 'fiber' as never }),
      'ERR_INVALID_OPTION',
      /option isolation/,
    )
    throwsCode(
      () => new Boss({ worker: double, memoryPolicy: 'panic' as never }),
      'ERR_INVALID_OPTION',
      /memoryPolicy/,
    )
    throwsCode(
      () => new Boss({ worker: double, bind: true, isolation: 'thread' }),
      'ERR_INVALID_OPTION',
      /option bind/,
    )
    throwsCode(
      () => new Boss({ worker: double, maxWorkers: 3 } as never),
      'ERR_INVALID_OPTION',
      /option maxWorkers/,
    )
    throwsCode(
      () => new Boss({ worker: { command: ['x', '{nope}'] }, individual: [{}] }),
      'ERR_INVALID_OPTION',
      /\{nope\}/,
    )
    throwsCode(
      () => new Boss({ worker: double, individual: { x: [1, 2], y: [1] } }),
      'ERR_INVALID_OPTION',
      /individual\.y/,
    )
  })
})
