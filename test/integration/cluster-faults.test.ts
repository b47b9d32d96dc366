// Failure handling with real processes: cancelled queued durable tasks, SIGKILLed nodes (fast and
// durable paths), a task that kills every node it touches, a blocked task that must not run twice.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { Cluster } from '../../src/cluster/index.js'
import type { RemoteTask } from '../../src/cluster/index.js'
import { CancelledError, HostLostError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { blockFor, double, killNode, sleepy } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode, until } from './cluster-helpers.js'

describe('cluster: node failures', { timeout: 90_000 }, () => {
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

  // first: no node has taken durable work from this server yet, so the queue holds only these
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
    await killAllNodes()
  })

  test('cluster: a node SIGKILLed mid-run is noticed within ~100 ms; its tasks rerun elsewhere, one result each', async (t) => {
    const a = await startNode(nats.url, 'fa', ['--slots', '2', '--no-durable'])
    await startNode(nats.url, 'fb', ['--slots', '2', '--no-durable'])
    await cluster.waitForHosts(2)
    const tasks = Array.from({ length: 12 }, () => cluster.run(sleepy, [300]))
    await until(() => tasks.some((t) => t.host === 'fa'), 5000, 'a task on fa')
    const onA = tasks.filter((t) => t.host === 'fa')
    const down = new Promise<number>((resolve) => {
      const off = cluster.on('host-down', ({ host }) => {
        if (host.name !== 'fa') return
        off()
        resolve(Date.now())
      })
    })
    const killedAt = Date.now()
    await a.kill('SIGKILL')
    const noticed = (await down) - killedAt
    assert.ok(noticed <= 1000, `host-down after ${noticed} ms`)
    const values = await Promise.all(tasks.map((t) => t.join()))
    const doneAt = Date.now() - killedAt
    assert.deepEqual(values, tasks.map(() => 300))
    assert.ok(doneAt <= 5000, `all done ${doneAt} ms after the kill`)
    t.diagnostic(`host-down ${noticed} ms after SIGKILL; all tasks done ${doneAt} ms after it`)
    assert.ok(onA.length > 0 && onA.every((t) => t.attempts === 2 && t.host === 'fb'))
    await killAllNodes()
  })

  test('cluster: durable tasks of a SIGKILLed node are redelivered and finish elsewhere within 5 s', async (t) => {
    const a = await startNode(nats.url, 'da', ['--slots', '2'])
    await startNode(nats.url, 'db', ['--slots', '2'])
    await cluster.waitForHosts(2)
    const tasks: RemoteTask<number>[] = Array.from({ length: 6 }, () => cluster.run(sleepy, [1500], { durable: true }))
    await until(() => tasks.some((t) => t.host === 'da'), 5000, 'a durable task started on da')
    const killedAt = Date.now()
    await a.kill('SIGKILL')
    const values = await Promise.all(tasks.map((t) => t.join()))
    const doneAt = Date.now() - killedAt
    assert.deepEqual(values, tasks.map(() => 1500))
    t.diagnostic(`durable: all tasks done ${doneAt} ms after SIGKILL`)
    assert.ok(doneAt <= 6500, `all done ${doneAt} ms after the kill (2 s ack wait + 1.5 s task)`)
    assert.ok(tasks.some((t) => t.attempts >= 2), 'some task ran again')
    await killAllNodes()
  })

  test('cluster: a durable task blocking its thread for 10 s is not run twice (acks come from the main thread)', async () => {
    await startNode(nats.url, 'blk', ['--slots', '1'])
    await cluster.waitForHosts(1)
    const downs: string[] = []
    const off = cluster.on('host-down', ({ host }) => void downs.push(host.name))
    // 5x the 2 s ack wait and 10x the 1 s pulse: only the node's main thread keeps it alive
    const task = cluster.run(blockFor, [10_000], { durable: true })
    assert.equal(typeof (await task.join()), 'number')
    off()
    assert.equal(task.attempts, 1)
    assert.deepEqual(downs, [], 'the node was never presumed dead')
    await killAllNodes()
  })

  test('cluster: a node stopped with SIGTERM drains: its running and queued tasks finish there', async () => {
    const node = await startNode(nats.url, 'dr', ['--slots', '2', '--no-durable'])
    await until(() => cluster.hosts().some((h) => h.name === 'dr'), 5000, 'node dr up')
    const tasks = Array.from({ length: 4 }, () => cluster.run(sleepy, [400], { host: 'dr' }))
    await until(() => tasks.every((t) => t.host === 'dr'), 5000, 'tasks placed on dr')
    await new Promise((r) => setTimeout(r, 50))
    node.child.kill('SIGTERM')
    assert.deepEqual(await Promise.all(tasks.map((t) => t.join())), [400, 400, 400, 400])
    assert.ok(tasks.every((t) => t.attempts === 1), 'none re-run')
    await node.exited
    assert.equal(node.child.exitCode, 0, node.output())
  })

  test('cluster: a task that kills every node it touches ends crashed with ERR_HOST_LOST', async () => {
    await startNode(nats.url, 'k1', ['--slots', '1', '--no-durable'])
    await startNode(nats.url, 'k2', ['--slots', '1', '--no-durable'])
    await cluster.waitForHosts(2)
    const task = cluster.run(killNode, [], { retries: 1 })
    const outcome = await task.settle()
    assert.equal(outcome.status, 'crashed')
    const error = (outcome as { error: unknown }).error
    assert.ok(error instanceof HostLostError && error.code === 'ERR_HOST_LOST', String(error))
    assert.equal(task.attempts, 2)
    await killAllNodes()
  })
})
