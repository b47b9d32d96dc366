/**
 * 10-cluster: a whole cluster on this machine. A throwaway nats-server and two nodes (in this
 * process here; `taskos node --servers …` on other machines), then remote tasks: code shipped to
 * the nodes, messages between a local and a remote task, dispatch over the cluster, an error that
 * keeps its class across machines, a 1 MiB round trip, and a NATS micro-service.
 *
 *   npx tsx examples/10-cluster.ts          (needs nats-server on PATH or in /usr/sbin)
 */
import { Cluster, Kernel, Node, job } from '../src/index.js' // in your project: from 'taskos'
import { startNats } from '../src/testing/index.js' // from 'taskos/testing'
import { echo, shout, square, validate, where } from './tasks/remote.js'

const nats = await startNats({ jetstream: true })
const nodes = await Promise.all([
  Node.start({ servers: nats.url, nodeName: 'node-a', slots: 1 }),
  Node.start({ servers: nats.url, nodeName: 'node-b', slots: 1 }),
])
const cluster = await Cluster.connect({ servers: nats.url })
await cluster.waitForHosts(2)
const hosts = cluster.hosts().sort((a, b) => a.name.localeCompare(b.name))
console.log(`hosts: ${hosts.map((h) => `${h.name} (${h.slots} slot)`).join(', ')}; slots: ${cluster.slots()}`)

// 1. A task function from a module: bundled, stored once by content hash, imported by the node.
const task = await cluster.spawn(square, [7])
console.log('square(7) on a node:', await task.join(), `(ran on ${task.host})`)

// 2. A local task and a remote task talk both ways: a task in a message is an address.
const k = new Kernel()
const remote = await cluster.spawn(shout, [])
const local = k.spawn(async (t) => {
  remote.send({ reply: t.task, text: 'hello' })
  remote.send({ reply: t.task, text: 'cluster' })
  return [await t.receive<string>(), await t.receive<string>()]
})
console.log('local task got:', (await local.join()).join(' '))
remote.send('stop')
console.log('remote task answered', await remote.join(), 'messages')

// 3. The cluster as the kernel's executor (COS outsourcing): dispatch gives results in job order.
k.setExecutor(cluster)
const squares = await k.dispatch([1, 2, 3, 4, 5].map((x) => job(square, [x])))
console.log('dispatch over the cluster:', squares)
const spread = Array.from({ length: 8 }, () => cluster.run(where, []))
await Promise.all(spread.map((t) => t.join()))
console.log('work spread over', new Set(spread.map((t) => t.host)).size, 'nodes')
k.setExecutor(undefined)

// 4. A remote error keeps its class, message and stack, and says where it happened.
const outcome = await (await cluster.spawn(validate, [-1])).settle()
if (outcome.status !== 'done') {
  const error = outcome.error as RangeError & { origin?: { host?: string } }
  console.log(`remote error: ${error.name}: ${error.message} (on ${error.origin?.host})`)
}

// 5. 1 MiB each way: above the server's max payload, so it travels in chunks, transparently.
const big = new Uint8Array(1024 * 1024).fill(7)
const t0 = performance.now()
const back = await (await cluster.spawn(echo, [big])).join()
console.log(`1 MiB round trip: ${back.length} bytes back in ${Math.round(performance.now() - t0)} ms`)

// 6. A NATS micro-service: `nats micro ls` lists it; any NATS client can call it (JSON).
const service = cluster.serve('greet', { hello: (name) => `hello, ${String(name)}` })
console.log('service call:', await cluster.service('greet').call('hello', 'taskos'))
service.stop()

await k.close()
await cluster.close()
await Promise.all(nodes.map((n) => n.close()))
await nats.stop()
console.log('all stopped')
