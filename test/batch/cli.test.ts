// `taskos batch FILE` end to end, and the journal across a SIGKILLed batch process.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { BatchReport } from '../../src/batch/index.js'
import { batch, schedulers } from '../../src/batch/index.js'
import { act } from '../fixtures/batch-tasks.js'
import { ROOT, runTsx } from '../fixtures/run-tsx.js'
import { LIMIT, done, gone, startCli, until } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'taskos-batch-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string): string => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const cli = (args: string[]): ReturnType<typeof runTsx> => runTsx('src/cli/main.ts', args, 30_000)
const readReport = (path: string): BatchReport => JSON.parse(readFileSync(path, 'utf8')) as BatchReport

describe('batch cli', { timeout: LIMIT, concurrency: 2 }, () => {
  test('cli: a good batch file exits 0, prints plain lines and a summary, writes the JSON report', async () => {
    const f = file(
      'ok.yaml',
      "worker:\n  command: [echo, 'hi {who}']\nindividual:\n  who: [ann, bob]\nscheduler: { maxWorkers: 2 }\n",
    )
    const report = join(dir, 'ok-report.json')
    const r = await cli(['batch', f, '--report', report])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\[1\/2\] done job-\d/)
    assert.match(r.stdout, /done\s+2\n/)
    assert.match(r.stdout, /ok: every job succeeded/)
    const rep = readReport(report)
    assert.deepEqual(
      rep.jobs.map((j) => j.stdout),
      ['hi ann\n', 'hi bob\n'],
    )
    assert.equal(rep.summary.ok, true)
  })

  test('cli: on a terminal, a live bar shows done, failed, running, rate and ETA', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0)
      return t.skip('no script(1) to give the command a terminal')
    const f = file(
      'tty.yaml',
      "worker: { command: [sleep, '0.05'] }\nindividual: { i: [1, 2, 3, 4] }\nscheduler: { maxWorkers: 2 }\n",
    )
    const command = `${process.execPath} --import tsx src/cli/main.ts batch ${f}`
    const r = spawnSync('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /█+ 4\/4 \| done 4 failed 0 running 0 \| [\d.]+\/s \| ETA 0s/)
    assert.doesNotMatch(r.stdout, /\[1\/4\]/, 'no plain lines on a terminal')
    assert.match(r.stdout, /ok: every job succeeded/)
  })

  test('cli: a failing job makes exit code 1 and is listed; flags override the file (retries, workers)', async () => {
    const f = file(
      'fail.json',
      JSON.stringify({
        worker: { command: 'exit {code}' },
        individual: { code: [0, 5], expectedTime: [1, 9] },
      }),
    )
    const report = join(dir, 'fail-report.json')
    const r = await cli([
      'batch',
      f,
      '--retries',
      '1',
      '--max-workers',
      '1',
      '--order',
      'longest-first',
      '--report',
      report,
    ])
    assert.equal(r.code, 1)
    assert.match(r.stdout, /not done:\n\s+job-2\s+failed\s+command "\/bin\/sh" exited with code 5/)
    const rep = readReport(report)
    assert.equal(rep.jobs[1]!.attempt, 2, '--retries 1 gave it a second attempt')
  })

  test('cli: a task-function worker from a module', async () => {
    const tasks = fileURLToPath(new URL('../fixtures/batch-tasks.ts', import.meta.url))
    const f = file(
      'fn.yaml',
      `worker: { module: ${tasks}, export: double, isolation: thread }\nindividual: [{ x: 1 }, { x: 21 }]\n`,
    )
    const report = join(dir, 'fn-report.json')
    const r = await cli(['batch', f, '--report', report])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      readReport(report).jobs.map((j) => (j.result as { y: number }).y),
      [2, 42],
    )
  })

  test('cli: bad files give FILE:LINE and the key, exit 1, run nothing', async () => {
    const marker = join(dir, 'never-made')
    const cases: [string, string, RegExp][] = [
      [
        'unequal.yaml',
        `worker: { command: [touch, ${marker}] }\nindividual:\n  a: [1, 2]\n  b: [1]\n`,
        /unequal\.yaml:4: invalid option individual\.b: 1 values/,
      ],
      [
        'unknown.yaml',
        'worker: { command: [true] }\nindividuals: []\n',
        /unknown\.yaml:2: individuals: unknown key/,
      ],
      ['syntax.yaml', 'worker: { command: [true]\nindividual: [\n', /syntax\.yaml:\d+: /],
      [
        'name.json',
        '{"worker": {"command": ["true"]},\n "individual": [{"name": "a"},\n  {"name": "a"}]}',
        /name\.json:3: invalid option individual\[1\]\.name: "a"/,
      ],
      [
        'memory.yaml',
        'worker: { command: [true] }\nindividual:\n  - memory: 2 parsecs\n',
        /memory\.yaml:3: invalid option individual\[0\]\.memory/,
      ],
      [
        'export.yaml',
        `worker: { module: ${fileURLToPath(new URL('../fixtures/batch-tasks.ts', import.meta.url))}, export: nope }\n`,
        /export\.yaml:1: worker\.export: "nope" is not a task function/,
      ],
      [
        'placeholder.yaml',
        'worker: { command: [echo, "{missing}"] }\nindividual: [{}]\n',
        /placeholder\.yaml:1: invalid option worker\.command: \{missing\} has no value/,
      ],
    ]
    for (const [name, text, expected] of cases) {
      const r = await cli(['batch', file(name, text)])
      assert.equal(r.code, 1, name)
      assert.match(r.stderr, expected, name)
    }
    const missing = await cli(['batch', join(dir, 'nope.yaml')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /nope\.yaml: cannot read the batch file/)
    assert.equal(existsSync(marker), false)
  })

  test('cli: the example batch file runs, longest first, and its dry run quotes each command', async () => {
    const plan = await cli(['batch', 'examples/batch-thumbnails.yaml', '--dry-run'])
    assert.equal(plan.code, 0, plan.stderr)
    assert.match(
      plan.stdout,
      /plan: 3 jobs, scheduler maxMemory\(1 GiB, 2 workers\), longest first, 1 retries/,
    )
    assert.match(
      plan.stdout,
      /job-3 \[memory 64MiB, expected 3 s\]: sh -c .* 'my holiday\.png' 'my holiday-small\.png' 85/,
    )
    const report = join(dir, 'example-report.json')
    const r = await cli(['batch', 'examples/batch-thumbnails.yaml', '--report', report])
    assert.equal(r.code, 0, r.stderr)
    const rep = readReport(report)
    assert.equal(rep.jobs[2]!.stdout, 'my holiday.png -> my holiday-small.png (quality 85)\n')
  })

  test('cli: --dry-run shows the plan with quoted command lines and runs nothing', async () => {
    const marker = join(dir, 'dry-marker')
    const f = file(
      'dry.yaml',
      `worker: { command: [touch, '${marker}-{i}'] }\nindividual: { i: ["a b", 2], memory: [1GiB, 2GiB] }\nscheduler: { maxMemory: 4GiB, maxWorkers: 2 }\n`,
    )
    const r = await cli(['batch', f, '--dry-run'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /plan: 2 jobs, scheduler maxMemory\(4 GiB, 2 workers\), submission order/)
    assert.match(r.stdout, new RegExp(`job-1 \\[memory 1GiB\\]: touch '${marker}-a b'`))
    assert.equal(
      readdirSync(dir).some((n) => n.startsWith('dry-marker')),
      false,
    )
  })
})

describe('batch journal', { timeout: LIMIT }, () => {
  test('journal: a rerun skips jobs done before, reuses their results, and reruns the rest', async () => {
    const journal = join(dir, 'inproc.journal')
    const opts = { worker: act, isolation: 'thread' as const, journal, scheduler: schedulers.maxWorkers(2) }
    const first = await done(
      batch({
        ...opts,
        individual: [
          { name: 'a', mode: 'ok' },
          { name: 'b', mode: 'fail' },
          { name: 'c', mode: 'ok' },
        ],
      }),
    )
    assert.deepEqual(
      first.jobs.map((j) => j.status),
      ['done', 'failed', 'done'],
    )
    const second = await done(
      batch({
        ...opts,
        individual: [
          { name: 'a', mode: 'ok' },
          { name: 'b', mode: 'ok' },
          { name: 'c', mode: 'ok', v: 2 },
        ],
      }),
    )
    assert.deepEqual(
      second.jobs.map((j) => [j.name, j.status, j.attempt]),
      [
        ['a', 'skipped', 1],
        ['b', 'done', 1],
        ['c', 'done', 1],
      ],
    )
    assert.equal(second.jobs[0]!.result, 'ok', 'the recorded result is reused')
    assert.equal(second.summary.ok, true)
    const third = await done(
      batch({
        ...opts,
        individual: [
          { name: 'b', mode: 'ok' },
          { name: 'c', mode: 'fail' },
        ],
      }),
    )
    assert.equal(third.jobs[0]!.status, 'skipped', 'done in the second run')
    assert.equal(third.jobs[1]!.status, 'failed', 'other instructions under the same name run again')
  })

  test('journal: after a SIGKILL mid-run, the rerun does not redo finished jobs and no command outlived the batch', async () => {
    const journal = join(dir, 'kill.journal')
    const runs = join(dir, 'runs.log')
    const pids = join(dir, 'pids')
    const f = file(
      'kill.yaml',
      `worker:\n  command: 'echo $$ >> ${pids}; sleep 0.15; echo {name} >> ${runs}'\nindividual: { i: [${Array.from({ length: 16 }, (_, i) => i).join(', ')}] }\nscheduler: { maxWorkers: 2 }\njournal: kill.journal\n`,
    )
    const lines = (p: string): string[] =>
      existsSync(p)
        ? readFileSync(p, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : []
    const run1 = await startCli(['batch', f])
    await until(() => lines(journal).length >= 4, 20_000, 'four jobs journaled')
    run1.child.kill('SIGKILL')
    await run1.exited
    const journaled = lines(journal).map((l) => (JSON.parse(l) as { name: string }).name)
    // the commands that were running die with the batch (the reaper kills their process groups)
    await gone(lines(pids).map(Number), 5000)
    const report = join(dir, 'kill-report.json')
    const r = await cli(['batch', f, '--report', report])
    assert.equal(r.code, 0, r.stderr)
    const rep = readReport(report)
    assert.equal(rep.summary.skipped, journaled.length)
    assert.equal(rep.summary.skipped + rep.summary.done, 16)
    const counts = new Map<string, number>()
    for (const name of lines(runs)) counts.set(name, (counts.get(name) ?? 0) + 1)
    for (const name of journaled) assert.equal(counts.get(name), 1, `${name} ran once`)
    assert.equal(counts.size, 16, 'every job ran')
  })

  test('journal: worker processes of a SIGKILLed batch die with it', async () => {
    const tasks = fileURLToPath(new URL('../fixtures/batch-tasks.ts', import.meta.url))
    const pidFile = join(dir, 'worker-pids')
    const f = file(
      'workers.yaml',
      `worker: { module: ${tasks}, export: pidThenSleep }\ncommon: { file: ${pidFile}, ms: 30000 }\nindividual: [{}, {}, {}]\nscheduler: { maxWorkers: 2 }\n`,
    )
    const lines = (): number[] =>
      existsSync(pidFile)
        ? readFileSync(pidFile, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map(Number)
        : []
    const run = await startCli(['batch', f])
    await until(() => lines().length >= 2, 20_000, 'two workers running a job')
    run.child.kill('SIGKILL')
    await run.exited
    await gone(lines(), 5000)
  })

  test('signals: the first SIGINT drains (report still written), the second kills running jobs', async () => {
    const started = join(dir, 'started.log')
    const count = (): number =>
      existsSync(started) ? readFileSync(started, 'utf8').split('\n').length - 1 : 0
    const report = join(dir, 'int-report.json')
    const f = file(
      'int.yaml',
      `worker: { command: 'echo {name} >> ${started}; sleep {s}' }\nindividual: { s: [0.3, 0.3, 0.3, 0.3, 0.3] }\nscheduler: { maxWorkers: 2 }\n`,
    )
    const run = await startCli(['batch', f, '--report', report])
    await until(() => count() >= 1, 20_000, 'a job started')
    run.child.kill('SIGINT')
    const r = await run.exited
    assert.equal(r.code, 1)
    assert.match(r.stdout, /SIGINT: draining/)
    const rep = readReport(report)
    assert.ok(
      rep.jobs.some((j) => j.status === 'done'),
      'running jobs finished',
    )
    assert.ok(
      rep.jobs.some((j) => j.status === 'cancelled' && j.start === undefined),
      'pending ones were cancelled',
    )
    assert.equal(rep.jobs.filter((j) => j.status === 'done').length, count(), 'every started job finished')

    const started2 = join(dir, 'started2.log')
    const long = file(
      'int2.yaml',
      `worker: { command: 'echo x >> ${started2}; sleep 30' }\nindividual: [{}, {}, {}]\nscheduler: { maxWorkers: 2 }\n`,
    )
    const report2 = join(dir, 'int2-report.json')
    const run2 = await startCli(['batch', long, '--report', report2])
    await until(
      () => existsSync(started2) && readFileSync(started2, 'utf8').length >= 4,
      20_000,
      'two jobs started',
    )
    run2.child.kill('SIGINT')
    await until(() => run2.out.stdout.includes('draining'), 5000, 'drain notice')
    run2.child.kill('SIGINT')
    const r2 = await run2.exited
    assert.equal(r2.code, 1)
    assert.deepEqual(
      readReport(report2).jobs.map((j) => j.status),
      ['cancelled', 'cancelled', 'cancelled'],
    )
  })
})
