// The cluster end to end on one real nats-server with two real `taskos node` processes.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster, ConnectError } from '../../src/cluster/index.js'
import { CancelledError, Kernel, TaskosError, TimeoutError, job } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { double, echo, fail, forever, progress, waitForMail, whereAmI } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'
import type { NodeProcess } from './cluster-helpers.js'

describe('cluster: basics', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle
  let cluster: Cluster
  let nodes: NodeProcess[]

  before(async () => {
    nats = await startNats({ jetstream: true })
    nodes = await Promise.all([
      startNode(nats.url, 'alpha', ['--slots', '2', '--tags', 'fast,big', '--memory', '4GiB']),
      startNode(nats.url, 'beta', ['--slots', '2']),
    ])
    cluster = await Cluster.connect({ servers: nats.url })
    await cluster.waitForHosts(2)
  })

  after(async () => {
    await cluster?.destroy()
    await killAllNodes()
    await nats?.stop()
  })

  test('cluster: hosts() lists each node with its slots and status; slots() sums them', () => {
    const hosts = cluster.hosts().sort((a, b) => a.name.localeCompare(b.name))
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['alpha', 'beta'],
    )
    assert.deepEqual(
      hosts.map((h) => h.slots),
      [2, 2],
    )
    assert.deepEqual(hosts[0]!.tags, ['fast', 'big'])
    assert.equal(hosts[0]!.maxMemory, 4 * 2 ** 30)
    for (const h of hosts) {
      assert.equal(h.responsive, true)
      assert.ok(h.memory.total > 0 && h.memory.free > 0)
      assert.ok(h.disk.total > 0)
      assert.equal(h.load.length, 3)
      assert.ok(h.cpu >= 0 && h.cpu <= 100)
      assert.ok(Date.now() - h.lastSeen < 3000)
    }
    assert.equal(cluster.slots(), 4)
    assert.ok(cluster.freeSlots() <= 4)
  })

  test('cluster: a defineTask function and its local import are shipped to a node that cannot see them', async () => {
    const task = await cluster.spawn(double, [21])
    assert.equal(await task.join(), 42)
    assert.equal(task.status, 'done')
    const where = await (await cluster.spawn(whereAmI, [])).join()
    assert.ok(
      nodes.some((n) => n.pid === where.pid),
      'ran in a node process',
    )
    assert.match(where.url, /cache\/[0-9a-f]{32}\.mjs$/, 'from the cached bundle, not the test file')
  })

  test('cluster: a self-contained plain function runs remotely', async () => {
    const task = await cluster.spawn((_t, a: number, b: number) => a * b, [6, 7])
    assert.equal(await task.join(), 42)
  })

  test('cluster: a remote error keeps its class name, message and stack, and names its host', async () => {
    const outcome = await (await cluster.spawn(fail, ['bad input'])).settle()
    assert.equal(outcome.status, 'failed')
    const error = (outcome as { error: Error & { origin?: { host?: string } } }).error
    assert.equal(error.name, 'RangeError')
    assert.equal(error.message, 'bad input')
    assert.match(error.stack ?? '', /fail/)
    assert.ok(['alpha', 'beta'].includes(error.origin?.host ?? ''))
  })

  test('cluster: placement honours host, tags and memory', async () => {
    const onBeta = await cluster.spawn(whereAmI, [], { host: 'beta' })
    assert.equal(((await onBeta.join()) as { pid: number }).pid, nodes[1]!.pid)
    assert.equal(onBeta.host, 'beta')
    for (let i = 0; i < 4; i++) {
      const tagged = await cluster.spawn(whereAmI, [], { tags: ['big'], memory: '1GiB' })
      assert.equal(((await tagged.join()) as { pid: number }).pid, nodes[0]!.pid)
    }
  })

  test('cluster: tiny tasks spread over both nodes', async () => {
    const tasks = Array.from({ length: 40 }, () => cluster.run(whereAmI, []))
    const pids = new Set(await Promise.all(tasks.map(async (t) => ((await t.join()) as { pid: number }).pid)))
    assert.equal(pids.size, 2)
  })

  test('cluster: messages reach a remote task (also those sent before it reached a node)', async () => {
    const task = cluster.run(waitForMail, [3])
    task.send(1)
    task.send(2)
    task.send(39)
    assert.equal(await task.join(), 42)
    assert.equal(task.send(1), false, 'an ended task takes no mail')
  })

  test('cluster: cancel ends a running remote task as cancelled; timeout as ERR_TIMEOUT', async () => {
    const task = await cluster.spawn(forever, [])
    assert.equal(task.cancel('enough'), true)
    const outcome = await task.settle()
    assert.equal(outcome.status, 'cancelled')
    assert.ok((outcome as { error: unknown }).error instanceof CancelledError)
    assert.equal(task.cancel(), false)
    const timed = cluster.run(forever, [], { timeout: 100 })
    await assert.rejects(timed.join(), (e: unknown) => e instanceof TimeoutError && e.code === 'ERR_TIMEOUT')
  })

  test('cluster: a 1 MiB argument and result make the round trip', async () => {
    const big = new Uint8Array(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = i % 251
    const back = await (await cluster.spawn(echo, [big])).join()
    assert.equal(back.length, big.length)
    assert.deepEqual(back, big)
  })

  test('cluster: progress events come back from the node', async () => {
    const seen: number[] = []
    const off = cluster.on('progress', ({ done }) => void seen.push(done))
    assert.equal(await (await cluster.spawn(progress, [3])).join(), 3)
    off()
    assert.ok(seen.includes(3), `progress seen: ${seen.join(',')}`)
  })

  test('cluster: the durable path runs tasks through the JetStream work queue', async () => {
    const tasks = Array.from({ length: 20 }, (_, i) => cluster.run(double, [i], { durable: true }))
    assert.deepEqual(
      await Promise.all(tasks.map((t) => t.join())),
      Array.from({ length: 20 }, (_, i) => i * 2),
    )
  })

  test('cluster: k.setExecutor(cluster) + dispatch with a collector gives results in job order', async () => {
    const k = new Kernel()
    k.setExecutor(cluster)
    assert.equal(k.slots(), 4)
    const seen: number[] = []
    const results = await k.dispatch(
      Array.from({ length: 30 }, (_, i) => job(double, [i])),
      { collector: ({ index }) => void seen.push(index), results: true },
    )
    assert.deepEqual(
      results,
      Array.from({ length: 30 }, (_, i) => i * 2),
    )
    assert.equal(seen.length, 30)
    k.setExecutor(undefined) // k.close() would close its executor: the cluster serves more tests
    await k.close()
  })

  test('cluster: t.spawn(fn, args, { remote: true }) runs a child on the cluster; mail to its handle reaches it', async () => {
    const k = new Kernel()
    k.setExecutor(cluster)
    const parent = k.spawn(async (t) => {
      const sum = t.spawn(waitForMail, [2], { remote: true })
      sum.send(20)
      sum.send(22)
      const twice = t.spawn(double, [21], { remote: true })
      return [await t.join(sum), await t.join(twice)]
    })
    assert.deepEqual(await parent.join(), [42, 42])
    k.setExecutor(undefined) // k.close() would close its executor: the cluster serves more tests
    await k.close()
  })

  test('cluster: bad options throw ERR_INVALID_OPTION naming the option', async () => {
    assert.equal(cluster.stats().hosts, 2)
    assert.throws(() => cluster.run(double, [1], { retries: -1 }), /invalid option retries/)
    assert.throws(() => cluster.run(double, [1], { memory: 'lots' }), /invalid option memory/)
    assert.throws(
      () => cluster.run(double, [1], { durable: true, host: 'alpha' }),
      (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_OPTION',
    )
    await assert.rejects(Cluster.connect({ servers: [] }), /invalid option servers/)
  })
})

test('cluster: connect fails promptly and clearly when no server answers', { timeout: 10_000 }, async () => {
  const t0 = Date.now()
  await assert.rejects(Cluster.connect({ servers: 'nats://127.0.0.1:1', timeout: 1000 }), (e: unknown) => {
    assert.ok(e instanceof ConnectError && e instanceof TaskosError && e.code === 'ERR_CONNECT')
    assert.match((e as Error).message, /no NATS server answered at nats:\/\/127\.0\.0\.1:1/)
    return true
  })
  assert.ok(Date.now() - t0 < 3000)
})
