// Location transparency across machines: local ↔ remote messages, remote ↔ remote, names (KV),
// channels and services (NATS micro protocol), on one nats-server with two `taskos node` processes.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster } from '../../src/cluster/index.js'
import { Kernel } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { ask, relay } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'

describe('cluster: messaging', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle
  let cluster: Cluster
  let k: Kernel

  before(async () => {
    nats = await startNats({ jetstream: true })
    await Promise.all([startNode(nats.url, 'm1', ['--slots', '2']), startNode(nats.url, 'm2', ['--slots', '2'])])
    cluster = await Cluster.connect({ servers: nats.url })
    await cluster.waitForHosts(2)
    k = new Kernel()
  })

  after(async () => {
    await k?.close()
    await cluster?.destroy()
    await killAllNodes()
    await nats?.stop()
  })

  test('cluster: a local task and a remote task exchange messages both ways (tasks in messages are addresses)', async () => {
    const local = k.spawn(async (t) => {
      const got: unknown[] = []
      for (let i = 0; i < 3; i++) got.push(await t.receive())
      return got
    })
    const remote = await cluster.spawn(relay, [local, 2], { host: 'm1' })
    remote.send({ reply: local, x: 4 })
    remote.send({ reply: local, x: 5 })
    assert.deepEqual(await local.join(), [40, 50, 'bye'])
    assert.equal(await remote.join(), 2)
  })

  test('cluster: a remote task on one node talks to a remote task on another by address', async () => {
    const local = k.spawn(async (t) => await t.receive())
    const server = await cluster.spawn(relay, [local, 1], { host: 'm1' })
    const client = await cluster.spawn(ask, [server, 7], { host: 'm2' })
    assert.equal(await client.join(), 70)
    assert.equal(await server.join(), 1)
    assert.equal(await local.join(), 'bye')
  })

  test('cluster: a generator body runs remotely and waits with yield* t.receive()', async () => {
    const task = await cluster.spawn(function* (t) {
      const m = yield* t.receive<number>()
      return m * 2
    }, [])
    task.send(21)
    assert.equal(await task.join(), 42)
  })
})
