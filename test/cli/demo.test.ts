import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runDemo } from '../../src/cli/demo.js'

test('demo: a small run prints every part and reports checked results', async () => {
  const lines: string[] = []
  const report = await runDemo({ scale: 0.01, out: (line) => lines.push(line) })
  const text = lines.join('\n')
  assert.equal(report.tasks, 1000)
  assert.ok(report.spawnsPerSecond > 0)
  assert.ok(report.roundTripsPerSecond > 0)
  assert.deepEqual(report.dispatchResults, [0, 1, 4, 9, 16, 25, 36, 49])
  assert.equal(report.flakyStarts, 3)
  for (const heading of ['1. 1,000 light tasks', '2. a message to each', '3. ping-pong', '4. COS dispatch']) {
    assert.ok(text.includes(heading), `has "${heading}"`)
  }
  assert.match(text, /5\. structured concurrency/)
  assert.match(text, /6\. supervision/)
  assert.match(text, /children: reader cancelled, indexer cancelled, writer failed/)
  assert.match(text, /#\d+ failed → restart → #\d+ failed → restart → #\d+ done/)
  assert.match(text, /kernel stats: .* 0 still running/)
  if (report.bytesPerTask !== undefined) assert.match(text, /bytes of heap per parked task/)
})

test('demo: scale is validated', async () => {
  await assert.rejects(runDemo({ scale: 0, out: () => {} }), /invalid option scale: 0/)
  await assert.rejects(runDemo({ scale: Number.NaN, out: () => {} }), /invalid option scale/)
})
