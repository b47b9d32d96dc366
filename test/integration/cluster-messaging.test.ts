// Location transparency across machines: local ↔ remote messages, remote ↔ remote, names (KV),
// channels and services (NATS micro protocol), on one nats-server with two `taskos node` processes.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster, RemoteAddress } from '../../src/cluster/index.js'
import { Kernel, TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { ask, relay, waitForMail } from '../fixtures/cluster-tasks.js'
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

  test('cluster: register / locate names a task across clients; a taken name is refused', async () => {
    const other = await Cluster.connect({ servers: nats.url })
    try {
      const local = k.spawn(async (t) => await t.receive<string>())
      await cluster.register('greeter', local)
      await assert.rejects(other.register('greeter', local), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_NAME_TAKEN')
      const found = await other.locate('greeter')
      found.send('hello from another client')
      assert.equal(await local.join(), 'hello from another client')
      await assert.rejects(other.locate('nobody'), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_UNKNOWN_NAME')
      const later = other.locate('late', { timeout: 5000 })
      // a task that waits for one message (a registered task is unregistered when it ends)
      const remote = await cluster.spawn(waitForMail, [1])
      await cluster.register('late', remote)
      const address = await later
      assert.ok(address instanceof RemoteAddress)
      address.send(5)
      assert.equal(await remote.join(), 5)
    } finally {
      await other.close()
    }
  })

  test('cluster: a channel reaches subscribers in every client', async () => {
    const other = await Cluster.connect({ servers: nats.url })
    try {
      const a = k.spawn(async (t) => [await t.receive(), await t.receive()])
      const b = k.spawn(async (t) => [await t.receive(), await t.receive()])
      cluster.channel<string>('news').subscribe(a)
      other.channel<string>('news').subscribe(b)
      await cluster.connection.flush()
      await other.connection.flush()
      cluster.channel<string>('news').send('one')
      other.channel<string>('news').send('two')
      const got = [await a.join(), await b.join()].map((x) => (x as string[]).slice().sort())
      assert.deepEqual(got, [['one', 'two'], ['one', 'two']])
    } finally {
      await other.close()
    }
  })

  test('cluster: serve / service speak the NATS micro protocol (calls, errors, $SRV discovery)', async () => {
    const other = await Cluster.connect({ servers: nats.url })
    try {
      const instance = cluster.serve('math', {
        add: (r) => (r as { a: number; b: number }).a + (r as { a: number; b: number }).b,
        fail: () => {
          throw new Error('no such thing')
        },
      }, { version: '1.2.3' })
      await cluster.connection.flush()
      const math = other.service('math')
      assert.equal(await math.call('add', { a: 2, b: 3 }), 5)
      await assert.rejects(math.call('fail'), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_TASK_FAILED' && /no such thing/.test((e as Error).message))
      await assert.rejects(other.service('nothing').call('x'), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_UNKNOWN_NAME')
      const info = JSON.parse(new TextDecoder().decode((await other.connection.request('$SRV.INFO.math', undefined, { timeout: 2000 })).data)) as { type: string; name: string; version: string; endpoints: { subject: string }[] }
      assert.equal(info.type, 'io.nats.micro.v1.info_response')
      assert.equal(info.version, '1.2.3')
      assert.deepEqual(info.endpoints.map((e) => e.subject).sort(), ['math.add', 'math.fail'])
      const stats = instance.stats()
      assert.equal(stats.find((s) => s.name === 'add')!.num_requests, 1)
      assert.equal(stats.find((s) => s.name === 'fail')!.num_errors, 1)
      assert.equal((await math.ping()).length, 1)
      instance.stop()
    } finally {
      await other.close()
    }
  })
})
