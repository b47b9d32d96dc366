// The benchmark is not a timed test: this only checks that it still runs (quick mode, small n)
// and prints its side-by-side tables and the targets summary.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runTsx } from '../fixtures/run-tsx.js'

// Every case. The start-up case runs every subject's probe in turns; on Node 20 piscina's probe (a
// fresh process that requires piscina) now and then dies of a Node-internal fatal error in
// require(esm), which is not ours to test: the case tries it twice, then goes on without it.
const CASES = ['tiny', 'memory', 'round-trip', 'cpu', 'hand-over', 'startup']

test('bench: the pool benchmark runs in quick mode beside piscina, tinypool, workerpool and raw workers', async () => {
  const r = await runTsx('bench/run.ts', [...CASES.map((c) => `pool:${c}`), '--quick'], 120_000)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /piscina/)
  assert.match(r.stdout, /raw: 2 × new Worker/)
  assert.match(r.stdout, /raw: MessagePort, worker spins/)
  assert.match(r.stdout, /targets met: \d\/6/)
})
