// A client that loses its NATS connection while its tasks' results are sent gets them after it
// reconnects (nodes keep recent results and send them again on the client's resync request).
import assert from 'node:assert/strict'
import { createServer, connect as tcpConnect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { test } from 'node:test'
import { connect } from '@nats-io/transport-node'
import { Cluster } from '../../src/cluster/index.js'
import { startNats } from '../../src/testing/nats.js'
import { sleepy } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'

/** A TCP proxy to NATS whose connections can be cut (and new ones refused) on demand. */
async function proxy(port: number): Promise<{ port: number; cut(): void; open(): void; close(): Promise<void> }> {
  let blocked = false
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    if (blocked) return void client.destroy()
    const upstream = tcpConnect({ host: '127.0.0.1', port })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    cut() {
      blocked = true
      for (const s of sockets) s.destroy()
    },
    open() {
      blocked = false
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

test('cluster: results sent while the client was disconnected arrive after it reconnects', { timeout: 60_000 }, async () => {
  const nats = await startNats({ jetstream: true })
  const port = Number(new URL(nats.url).port)
  const p = await proxy(port)
  let cluster: Cluster | undefined
  const spy = await connect({ servers: nats.url })
  try {
    await startNode(nats.url, 'rc', ['--slots', '4', '--no-durable'])
    cluster = await Cluster.connect({ servers: `nats://127.0.0.1:${p.port}`, nats: { reconnectTimeWait: 100, ignoreClusterUpdates: true } })
    await cluster.waitForHosts(1)
    // watch the client's result subject from another connection: results go out while it is away
    let published = 0
    spy.subscribe(`taskos.default.client.${cluster.id}.r`, { callback: () => void published++ })
    await spy.flush()
    const tasks = Array.from({ length: 3 }, (_, i) => cluster!.run(sleepy, [300 + i]))
    await Promise.all(tasks.map((t) => t._whenPlaced()))
    await cluster.connection.flush()
    let reconnected = 0
    cluster.on('reconnect', () => void reconnected++)
    p.cut()
    const deadline = Date.now() + 10_000
    while (published < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await new Promise((r) => setTimeout(r, 400)) // every result published (bounded: tasks are 300-302 ms)
    assert.ok(published >= 1, 'results were published while the client was away')
    p.open()
    let timer: NodeJS.Timeout | undefined
    const values = await Promise.race([
      Promise.all(tasks.map((t) => t.join())),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('results lost after the reconnect')), 10_000))),
    ])
    clearTimeout(timer)
    assert.deepEqual(values, [300, 301, 302])
    assert.ok(reconnected >= 1)
    assert.ok(tasks.every((t) => t.attempts === 1), 'results recovered, not re-run')
  } finally {
    await cluster?.destroy()
    await spy.close()
    await killAllNodes()
    await p.close()
    await nats.stop()
  }
})
