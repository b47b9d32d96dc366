// The benchmark is not a timed test: this only checks that it still runs (quick mode, small n)
// and prints its side-by-side tables and the targets summary.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runTsx } from '../fixtures/run-tsx.js'

test('bench: the pool benchmark runs in quick mode beside piscina, tinypool, workerpool and raw workers', async () => {
  const r = await runTsx('bench/run.ts', ['pool', '--quick'], 120_000)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /piscina/)
  assert.match(r.stdout, /raw: 2 × new Worker/)
  assert.match(r.stdout, /targets met: \d\/6/)
})
