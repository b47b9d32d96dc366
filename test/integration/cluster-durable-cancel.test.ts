// Cancelling a durable task that waits on the JetStream work queue takes its message out of the
// queue: no node runs it later.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { Cluster } from '../../src/cluster/index.js'
import { CancelledError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { double } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode, until } from './cluster-helpers.js'

describe('cluster: cancelling queued durable tasks', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle
  let cluster: Cluster

  before(async () => {
    nats = await startNats({ jetstream: true })
    cluster = await Cluster.connect({ servers: nats.url })
  })

  after(async () => {
    await cluster?.destroy()
    await killAllNodes()
    await nats?.stop()
  })

  async function queued(): Promise<number> {
    const jsm = await jetstreamManager(cluster.connection)
    return (await jsm.streams.info('TASKOS_default_WORK')).state.messages
  }

  test('cluster: a cancelled durable task leaves the work queue; the others run once a node comes', async () => {
    // no node takes durable work yet: the tasks wait on the queue
    const tasks = Array.from({ length: 6 }, (_, i) => cluster.run(double, [i], { durable: true }))
    await Promise.all(tasks.map((t) => t._whenPlaced()))
    assert.equal(await queued(), 6)
    // cancelled once stored, and one cancelled while its acknowledgement may still be on its way
    const late = cluster.run(double, [100], { durable: true })
    for (const t of [tasks[1]!, tasks[4]!]) assert.equal(t.cancel('not needed'), true)
    await new Promise((r) => setImmediate(r))
    late.cancel()
    for (const t of [tasks[1]!, tasks[4]!, late]) {
      const outcome = await t.settle()
      assert.equal(outcome.status, 'cancelled')
      assert.ok((outcome as { error: unknown }).error instanceof CancelledError)
    }
    await until(async () => (await queued()) === 4, 5000, 'the cancelled messages gone from the queue')
    // a node now takes the rest: exactly the 4 that were not cancelled
    await startNode(nats.url, 'dq', ['--slots', '2'])
    assert.deepEqual(await Promise.all([0, 2, 3, 5].map((i) => tasks[i]!.join())), [0, 4, 6, 10])
    await until(async () => (await queued()) === 0, 5000, 'the queue empty')
  })
})
