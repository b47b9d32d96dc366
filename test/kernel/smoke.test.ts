import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Kernel } from '../../src/kernel/index.js'

test('kernel: an async task adds a received message to its argument', async () => {
  const k = new Kernel()
  const adder = k.spawn(async (t, a: number) => a + (await t.receive<number>()), [1])
  adder.send(41)
  assert.equal(await adder.join(), 42)
})
