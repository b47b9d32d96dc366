// `taskos batch FILE --monitor PORT`: the run's live dashboard and API while it runs, gone when it ends.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { LIMIT, startCli, until } from '../batch/helpers.js'

test('monitor: taskos batch --monitor serves the running batch, and stops with it', { timeout: LIMIT }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskos-batch-monitor-'))
  try {
    const gate = join(dir, 'gate')
    const file = join(dir, 'jobs.json')
    // each job waits for the gate file: the test sees the batch mid-run, then lets it finish
    writeFileSync(
      file,
      JSON.stringify({
        worker: { command: ['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.01; done', gate] },
        individual: { name: ['a', 'b', 'c'] },
        scheduler: { maxWorkers: 1 },
      }),
    )
    const run = await startCli(['batch', file, '--monitor', '0'])
    await until(() => /monitor: http:\/\/127\.0\.0\.1:\d+\//.test(run.out.stdout), 20_000, 'the monitor line')
    const url = /monitor: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.out.stdout)![1]!
    type Snap = { sources: { batch: { summary: { kind: string; running: number; queued: number; done: number; capacity: number } } } }
    let snap: Snap | undefined
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      snap = (await (await fetch(`${url}api/snapshot`)).json()) as Snap
      if (snap.sources.batch.summary.running === 1) break
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.deepEqual(
      { ...snap!.sources.batch.summary },
      { kind: 'batch', running: 1, queued: 2, done: 0, failed: 0, crashed: 0, cancelled: 0, capacity: 1, free: 0 },
    )
    assert.match(await (await fetch(`${url}metrics`)).text(), /^taskos_tasks_queued\{source="batch",kind="batch"\} 2$/m)
    writeFileSync(gate, '')
    const r = await run.exited
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^done +3$/m)
    await assert.rejects(fetch(`${url}healthz`), 'the monitor stopped with the batch')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
