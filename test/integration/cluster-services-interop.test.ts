// Services interoperate with the official NATS micro-services library (`@nats-io/services`, the
// implementation behind `nats micro`): its discovery client sees a taskos service (ping, info,
// stats) and calls it, and a taskos `cluster.service(name)` calls a service the official library
// serves, errors included. No node is needed: services live on clients.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Svcm } from '@nats-io/services'
import { Cluster } from '../../src/cluster/index.js'
import { TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'

/**
 * The official library is built on an older prerelease of nats-core, whose connection type differs
 * from ours in details the protocol does not depend on: the same connection, retyped.
 */
function svcm(cluster: Cluster): Svcm {
  return new Svcm(cluster.connection as unknown as ConstructorParameters<typeof Svcm>[0])
}

async function all<T>(results: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const r of results) out.push(r)
  return out
}

describe('cluster: services and the official NATS micro library', { timeout: 30_000 }, () => {
  let nats: NatsServerHandle
  let cluster: Cluster

  before(async () => {
    nats = await startNats()
    cluster = await Cluster.connect({ servers: nats.url })
  })

  after(async () => {
    await cluster?.destroy()
    await nats?.stop()
  })

  test('cluster: the official discovery client pings, describes and counts a taskos service', async () => {
    const instance = cluster.serve(
      'geometry',
      {
        area: (r) => (r as { w: number; h: number }).w * (r as { w: number; h: number }).h,
        fail: () => {
          throw new Error('not today')
        },
      },
      { version: '2.1.0', description: 'shapes', metadata: { team: 'core' } },
    )
    try {
      await cluster.connection.flush()
      const nc = cluster.connection
      const client = svcm(cluster).client()
      const pings = await all(await client.ping('geometry'))
      assert.equal(pings.length, 1)
      assert.equal(pings[0]!.name, 'geometry')
      assert.equal(pings[0]!.version, '2.1.0')

      const [info] = await all(await client.info('geometry'))
      assert.equal(info!.description, 'shapes')
      assert.deepEqual(info!.metadata, { team: 'core' })
      assert.deepEqual(
        info!.endpoints.map((e) => [e.name, e.subject, e.queue_group]).sort(),
        [
          ['area', 'geometry.area', 'q'],
          ['fail', 'geometry.fail', 'q'],
        ],
      )

      // a plain NATS request with a JSON body, as `nats request geometry.area` sends it
      const reply = await nc.request('geometry.area', JSON.stringify({ w: 3, h: 4 }), { timeout: 2000 })
      assert.equal(reply.string(), '12')
      const failed = await nc.request('geometry.fail', '{}', { timeout: 2000 })
      assert.equal(failed.headers?.get('Nats-Service-Error'), 'not today')
      assert.equal(failed.headers?.get('Nats-Service-Error-Code'), '500')

      const [stats] = await all(await client.stats('geometry', pings[0]!.id))
      const byName = new Map(stats!.endpoints!.map((e) => [e.name, e]))
      assert.equal(byName.get('area')!.num_requests, 1)
      assert.equal(byName.get('area')!.num_errors, 0)
      assert.equal(byName.get('fail')!.num_requests, 1)
      assert.equal(byName.get('fail')!.num_errors, 1)
      assert.equal(byName.get('fail')!.last_error, 'not today')
    } finally {
      instance.stop()
    }
  })

  test('cluster: cluster.service calls a service served by the official library, errors included', async () => {
    const svc = await svcm(cluster).add({ name: 'shout', version: '1.0.0' })
    try {
      // taskos endpoints live at `<service>.<endpoint>`: in the official library, a group named
      // after the service (a bare `svc.addEndpoint('upper')` would listen on `upper`)
      svc.addGroup('shout').addEndpoint('upper', (err, msg) => {
        if (err !== null) return
        const text = msg.json<string>()
        if (text === '') msg.respondError(400, 'nothing to shout')
        else msg.respond(JSON.stringify(text.toUpperCase()))
      })
      await cluster.connection.flush()
      const shout = cluster.service('shout')
      assert.equal(await shout.call('upper', 'quiet please'), 'QUIET PLEASE')
      await assert.rejects(
        shout.call('upper', ''),
        (e: unknown) =>
          e instanceof TaskosError &&
          e.code === 'ERR_TASK_FAILED' &&
          /nothing to shout/.test(e.message) &&
          (e as TaskosError & { status: number }).status === 400,
      )
      const found = await shout.ping()
      assert.deepEqual(
        found.map((p) => p.version),
        ['1.0.0'],
      )
    } finally {
      await svc.stop()
    }
  })
})
