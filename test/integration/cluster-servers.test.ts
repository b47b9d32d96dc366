// The cluster against NATS set-ups: a 3-server NATS cluster losing one server mid-run (JetStream
// replicas 3, clients and nodes reconnect), token authentication and TLS with clear errors.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AuthError, Cluster, ConnectError } from '../../src/cluster/index.js'
import { TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import { double, sleepy } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'

describe('cluster: NATS servers', { timeout: 120_000 }, () => {
  test('cluster: a 3-server NATS cluster loses one server mid-run; nothing is lost', async (t) => {
    const nats = await startNats({ cluster: 3, jetstream: true })
    const servers = nats.urls.join(',')
    let cluster: Cluster | undefined
    try {
      await startNode(servers, 'r1', ['--slots', '2', '--replicas', '3'])
      await startNode([nats.urls[1], nats.urls[2], nats.urls[0]].join(','), 'r2', ['--slots', '2', '--replicas', '3'])
      // the client starts on server 0, the one that dies
      cluster = await Cluster.connect({ servers: [...nats.urls], replicas: 3, nats: { noRandomize: true } })
      await cluster.waitForHosts(2)
      let reconnects = 0
      cluster.on('reconnect', () => void reconnects++)
      const fast = Array.from({ length: 20 }, (_, i) => cluster!.run(sleepy, [200 + i]))
      const durable = Array.from({ length: 10 }, (_, i) => cluster!.run(sleepy, [300 + i], { durable: true }))
      await Promise.all(durable.map((task) => task._whenPlaced()))
      await new Promise((r) => setTimeout(r, 100))
      const killedAt = Date.now()
      await nats.kill(0)
      const fastValues = await Promise.all(fast.map((task) => task.join()))
      const durableValues = await Promise.all(durable.map((task) => task.join()))
      t.diagnostic(`all done ${Date.now() - killedAt} ms after a server was killed; client reconnects: ${reconnects}`)
      assert.deepEqual(fastValues, fast.map((_, i) => 200 + i))
      assert.deepEqual(durableValues, durable.map((_, i) => 300 + i))
      assert.ok(reconnects >= 1, 'the client reconnected to another server')
      // and the cluster still takes new work
      assert.equal(await (await cluster.spawn(double, [4])).join(), 8)
    } finally {
      await cluster?.destroy()
      await killAllNodes()
      await nats.stop()
    }
  })

  test('cluster: token auth: a wrong or missing token is refused clearly; the right one works', async () => {
    const nats = await startNats({ jetstream: true, token: 's3cret' })
    try {
      for (const token of [undefined, 'wrong']) {
        await assert.rejects(Cluster.connect({ servers: nats.url, timeout: 2000, ...(token === undefined ? {} : { token }) }), (e: unknown) => {
          assert.ok(e instanceof AuthError && e instanceof TaskosError && e.code === 'ERR_AUTH', String(e))
          assert.match((e as Error).message, /refused the credentials/)
          return true
        })
      }
      await startNode(nats.url, 'tok', ['--slots', '1', '--token', 's3cret'])
      const cluster = await Cluster.connect({ servers: nats.url, token: 's3cret' })
      await cluster.waitForHosts(1)
      assert.equal(await (await cluster.spawn(double, [5])).join(), 10)
      await cluster.close()
    } finally {
      await killAllNodes()
      await nats.stop()
    }
  })

  test('cluster: TLS with a throwaway CA: trusted with caFile, a clear error without it', async () => {
    const nats = await startNats({ jetstream: true, tls: true })
    try {
      assert.match(nats.url, /^tls:\/\//)
      await assert.rejects(Cluster.connect({ servers: nats.url, timeout: 2000 }), (e: unknown) => {
        assert.ok(e instanceof ConnectError && e.code === 'ERR_CONNECT', String(e))
        assert.match((e as Error).message, /TLS/)
        return true
      })
      await startNode(nats.url, 'tls', ['--slots', '1', '--tls-ca', nats.tls!.caFile])
      const cluster = await Cluster.connect({ servers: nats.url, tls: { caFile: nats.tls!.caFile } })
      await cluster.waitForHosts(1)
      assert.equal(await (await cluster.spawn(double, [6])).join(), 12)
      await cluster.close()
    } finally {
      await killAllNodes()
      await nats.stop()
    }
  })
})
