// The fast path's batches in column form (protocol.ts): tasks and results travel as values
// serialized once per batch; a batch too large, or with a value V8 cannot serialize, falls back to
// one message per task or result without losing the others.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster } from '../../src/cluster/index.js'
import { TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { double, echo } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'

describe('cluster: batches', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle
  let cluster: Cluster

  before(async () => {
    nats = await startNats({ jetstream: true })
    await startNode(nats.url, 'solo', ['--slots', '2', '--no-durable'])
    cluster = await Cluster.connect({ servers: nats.url })
    await cluster.waitForHosts(1)
  })

  after(async () => {
    await cluster?.destroy()
    await killAllNodes()
    await nats?.stop()
  })

  test('cluster: an argument V8 cannot serialize fails its own task only; its batch runs', async () => {
    const before = Array.from({ length: 40 }, (_, i) => cluster.run(double, [i]))
    const bad = cluster.run(double, [(() => 1) as unknown as number])
    const after = Array.from({ length: 40 }, (_, i) => cluster.run(double, [100 + i]))
    await assert.rejects(bad.join(), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_SERIALIZATION' && /arguments of double/.test(e.message))
    assert.deepEqual(await Promise.all(before.map((t) => t.join())), Array.from({ length: 40 }, (_, i) => 2 * i))
    assert.deepEqual(await Promise.all(after.map((t) => t.join())), Array.from({ length: 40 }, (_, i) => 2 * (100 + i)))
  })

  test('cluster: arguments and results too large together (several 400 KiB in one turn) each make the trip', async () => {
    const payloads = Array.from({ length: 6 }, (_, k) => new Uint8Array(400 * 1024).fill(k + 1))
    const tasks = payloads.map((p) => cluster.run(echo, [p]))
    const small = cluster.run(double, [21])
    const back = await Promise.all(tasks.map((t) => t.join()))
    for (let k = 0; k < payloads.length; k++) assert.deepEqual(back[k], payloads[k])
    assert.equal(await small.join(), 42)
  })

  test('cluster: a result that cannot be sent back fails with ERR_SERIALIZATION; the others of its batch arrive', async () => {
    const good = Array.from({ length: 20 }, (_, i) => cluster.run((_t: unknown, x: number) => x + 1, [i]))
    const bad = cluster.run(() => () => 1, [])
    await assert.rejects(bad.join(), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_SERIALIZATION')
    assert.deepEqual(await Promise.all(good.map((t) => t.join())), Array.from({ length: 20 }, (_, i) => i + 1))
  })

  test('cluster: an argument array changed after run() travels as it was at run()', async () => {
    const args: [number] = [5]
    const task = cluster.run(double, args)
    args[0] = 1000
    assert.equal(await task.join(), 10)
  })
})
