// The benchmark is not a timed test: this only checks that it still runs (quick mode, small n)
// and prints its side-by-side tables and the targets summary.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runTsx } from '../fixtures/run-tsx.js'

test('bench: the batch benchmark runs in quick mode and reports every target beside xargs -P 2', async () => {
  const r = await runTsx('bench/run.ts', ['batch', '--quick'], 120_000)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /shell\/xargs-P2/)
  assert.match(r.stdout, /taskos ÷ xargs -P 2 wall = \d/)
  assert.match(r.stdout, /targets met: \d\/4/)
})
