/**
 * taskos: concurrent, parallel and distributed tasks for Node.js.
 *
 * A task function `(t, ...args) => result` runs anywhere with one typed API: as a light task in
 * this thread (the kernel: generator or async bodies with mailboxes, structured concurrency,
 * cancellation, supervision, names and dispatch), on a pool of worker threads or processes (the
 * pool: run, partition, map, shared memory, progress, crash recovery), in batch runs (a boss,
 * schedulers, reports, a journal), and on a NATS cluster. Only the executor changes.
 *
 * This root module re-exports the public surface of every layer: the kernel, the pool, batch
 * runs, the cluster and the monitor (`taskos/kernel`, `taskos/pool`, `taskos/batch`,
 * `taskos/cluster` and `taskos/monitor` are the same surfaces on their own). Test helpers (`VirtualClock`, `Latch`,
 * `startNats`) live in `taskos/testing`.
 *
 * Invariants: importing taskos starts nothing (no timers, no threads, no I/O); the global state is
 * the lazily created default kernel (`defaultKernel()`) and default pool (`defaultPool()`).
 * @example
 * import { Kernel } from 'taskos'
 * const k = new Kernel()
 * const doubler = k.spawn(function* (t) { return (yield* t.receive<number>()) * 2 })
 * doubler.send(21)
 * console.log(await doubler.join())   // 42
 * @module
 */
export * from './kernel/index.js'
export * from './pool/index.js'
export * from './batch/index.js'
export * from './cluster/index.js'
export * from './monitor/index.js'
