// The benchmark is not a timed test: this only checks that it still runs (quick mode, small n)
// and prints its side-by-side tables and the targets summary.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runTsx } from '../fixtures/run-tsx.js'

test('bench: the cluster benchmark runs in quick mode against its peers (skipping any whose service is missing)', async () => {
  const r = await runTsx('bench/run.ts', ['cluster', '--quick'], 240_000)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /taskos cluster \(fast path\)/)
  assert.match(r.stdout, /Moleculer/)
  assert.match(r.stdout, /BullMQ|BullMQ skipped/)
  assert.match(r.stdout, /targets met: \d\/\d/)
})
