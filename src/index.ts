/**
 * taskos: concurrent, parallel and distributed tasks for Node.js.
 *
 * A task function `(t, ...args) => result` runs anywhere with one typed API: as a light task in
 * this thread (the kernel: generator or async bodies with mailboxes, structured concurrency,
 * cancellation, supervision, names and dispatch), and, as the roadmap lands, on a pool of worker
 * threads or processes, in batch runs, and on a NATS cluster. Only the executor changes.
 *
 * This root module re-exports the public surface of every layer that exists today: the kernel
 * (`taskos/kernel` is the same surface on its own). Test helpers (`VirtualClock`, `Latch`) live
 * in `taskos/testing`.
 *
 * Invariants: importing taskos starts nothing (no timers, no threads, no I/O); the one piece of
 * global state is the lazily created default kernel (`defaultKernel()`).
 * @example
 * import { Kernel } from 'taskos'
 * const k = new Kernel()
 * const doubler = k.spawn(function* (t) { return (yield* t.receive<number>()) * 2 })
 * doubler.send(21)
 * console.log(await doubler.join())   // 42
 * @module
 */
export * from './kernel/index.js'
