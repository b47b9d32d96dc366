/**
 * taskos cluster: the distributed executor on NATS (PVM's virtual machine, dispycos, COS
 * outsourcing). Nodes (`taskos node`, or `Node.start`) run remote tasks on their own pool; a client
 * (`Cluster.connect`) lists hosts, spawns remote tasks, and is an Executor for `kernel.dispatch`.
 *
 * Invariants:
 * - Every remote task settles exactly once: results carry the attempt number (fence) and results
 *   of superseded attempts are discarded.
 * - A node lost while running tasks (connection closed: noticed within ~100 ms; silent: 3 missed
 *   pulses) has its tasks run again elsewhere, at most `retries` more times, then they crash with
 *   `HostLostError` (ERR_HOST_LOST).
 * - Pulses and in-progress acks come from the node's main thread; tasks run in its pool.
 * - Nodes need no copy of the client's code: task modules are bundled and shipped by content hash.
 * - Payloads above the server's max payload travel through the Object Store; nothing is dropped.
 * @module
 */
export { Cluster } from './cluster.js'
export type { ClusterOptions, RemoteRunOptions, ClusterStats, ClusterEvent } from './cluster.js'
export { RemoteTask } from './remote-task.js'
export { Node } from './node.js'
export type { NodeOptions, NodeStats, NodeEvent } from './node.js'
export type { HostInfo } from './hosts.js'
export type { ConnectionOptions } from './connect.js'
export { AuthError, ConnectError } from './errors.js'
export { RemoteAddress } from './address.js'
export { ClusterChannel } from './channel.js'
export type { ClusterChannelStats } from './channel.js'
export { ServiceInstance, ServiceClient } from './service.js'
export type { ServiceHandlers, ServeOptions, EndpointStats } from './service.js'
