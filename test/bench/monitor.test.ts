// The benchmark is not a timed test: this only checks that it still runs (quick mode, small n)
// and prints its side-by-side table and the target line.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runTsx } from '../fixtures/run-tsx.js'

test('bench: the monitor benchmark runs in quick mode, beside prom-client per-task instrumentation', async () => {
  const r = await runTsx('bench/run.ts', ['monitor', '--quick'], 120_000)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /taskos Pool \+ taskos Monitor, \/metrics every 100 ms +1 +[\d,]+/)
  assert.match(r.stdout, /taskos Pool \+ prom-client per task/)
  assert.match(r.stdout, /targets met: \d\/1/)
})
