/**
 * The peer: Effect 4 fibers (`effect` package), written the way its docs show. A fiber with a
 * mailbox is a fiber plus its own `Queue.unbounded`, parked in `Queue.take`; children are forked
 * with `Effect.forkChild` (with `startImmediately: true` where taskos semantics — run at once until
 * the first wait — are being matched) and joined with `Fiber.join` / `Fiber.joinAll`.
 * Default runtime settings (MixedScheduler, 2048 ops before a yield).
 * @module
 */
import { Deferred, Effect, Fiber, Queue } from 'effect'
import type { Probe } from './harness.js'
import { nextTurn } from './harness.js'

type AnyFiber = Fiber.Fiber<unknown, unknown>

/** A promise and its resolver, to hand a signal from inside a fiber to the measuring code. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void
  const promise = new Promise<void>((resolve) => (fire = resolve))
  return { promise, fire }
}

/**
 * n fibers parked: each in `Queue.take` on its own queue (`mailbox`), or in `Deferred.await` on a
 * shared deferred. Forked by a parent fiber, measured while they wait, then released and joined.
 */
export async function effectParked(n: number, p: Probe, mailbox: boolean): Promise<void> {
  const queues = new Array<Queue.Queue<number> | undefined>(n).fill(undefined)
  const fibers = new Array<AnyFiber | undefined>(n).fill(undefined)
  const release = Deferred.makeUnsafe<void>()
  const ready = signal()
  p.start()
  const main = Effect.runFork(
    Effect.gen(function* () {
      for (let i = 0; i < n; i++) {
        if (mailbox) {
          const q = yield* Queue.unbounded<number>()
          queues[i] = q
          fibers[i] = yield* Effect.forkChild(Queue.take(q), { startImmediately: true })
        } else {
          fibers[i] = yield* Effect.forkChild(Deferred.await(release), { startImmediately: true })
        }
      }
      yield* Effect.sync(ready.fire)
      yield* Deferred.await(release)
      if (mailbox) for (const q of queues) Queue.offerUnsafe(q!, 1)
      yield* Fiber.joinAll(fibers as AnyFiber[])
    }),
  )
  await ready.promise
  await nextTurn()
  p.stop()
  p.heapDelta()
  Deferred.doneUnsafe(release, Effect.void)
  await Effect.runPromise(Fiber.join(main))
}

/**
 * Wake + join: n fibers parked in `Queue.take`; timed from the parent's first offer until it has
 * joined them all (`Fiber.joinAll`, or `Fiber.join` one by one).
 */
export async function effectWakeJoin(n: number, p: Probe, all: boolean): Promise<void> {
  const go = Deferred.makeUnsafe<void>()
  const ready = signal()
  const main = Effect.runFork(
    Effect.gen(function* () {
      const queues: Queue.Queue<number>[] = []
      const fibers: Fiber.Fiber<number>[] = []
      for (let i = 0; i < n; i++) {
        const q = yield* Queue.unbounded<number>()
        queues.push(q)
        fibers.push(yield* Effect.forkChild(Queue.take(q), { startImmediately: true }))
      }
      yield* Effect.sync(ready.fire)
      yield* Deferred.await(go)
      for (const q of queues) Queue.offerUnsafe(q, 1)
      let sum = 0
      if (all) for (const v of yield* Fiber.joinAll(fibers)) sum += v
      else for (const f of fibers) sum += yield* Fiber.join(f)
      return sum
    }),
  )
  await ready.promise
  p.start()
  Deferred.doneUnsafe(go, Effect.void)
  await Effect.runPromise(Fiber.join(main))
  p.stop()
}

/** Spawn to parked: a parent forks n fibers (each with its own queue) that park in `Queue.take`. */
export async function effectSpawn(n: number, p: Probe): Promise<void> {
  const release = Deferred.makeUnsafe<void>()
  const ready = signal()
  p.start()
  const main = Effect.runFork(
    Effect.gen(function* () {
      const queues: Queue.Queue<number>[] = []
      const fibers: Fiber.Fiber<number>[] = []
      for (let i = 0; i < n; i++) {
        const q = yield* Queue.unbounded<number>()
        queues.push(q)
        fibers.push(yield* Effect.forkChild(Queue.take(q), { startImmediately: true }))
      }
      yield* Effect.sync(ready.fire)
      yield* Deferred.await(release)
      for (const q of queues) Queue.offerUnsafe(q, 1)
      yield* Fiber.joinAll(fibers)
    }),
  )
  await ready.promise
  await nextTurn()
  p.stop()
  Deferred.doneUnsafe(release, Effect.void)
  await Effect.runPromise(Fiber.join(main))
}

/** Spawn + join: a parent forks a child that succeeds at once, joins it, n times. */
export async function effectSpawnJoin(n: number, p: Probe, startImmediately: boolean): Promise<void> {
  const options = { startImmediately }
  p.start()
  await Effect.runPromise(
    Effect.gen(function* () {
      let sum = 0
      for (let i = 0; i < n; i++)
        sum += yield* Fiber.join(yield* Effect.forkChild(Effect.succeed(1), options))
      return sum
    }),
  )
  p.stop()
}

/** Ping-pong: two fibers, a queue each way; n round trips. */
export async function effectPingPong(n: number, p: Probe): Promise<void> {
  p.start()
  await Effect.runPromise(
    Effect.gen(function* () {
      const ping = yield* Queue.unbounded<number>()
      const pong = yield* Queue.unbounded<number>()
      const peer = yield* Effect.forkChild(
        Effect.gen(function* () {
          for (;;) {
            const m = yield* Queue.take(pong)
            if (m < 0) return
            yield* Queue.offer(ping, m)
          }
        }),
      )
      let sum = 0
      for (let i = 0; i < n; i++) {
        yield* Queue.offer(pong, i)
        sum += yield* Queue.take(ping)
      }
      yield* Queue.offer(pong, -1)
      yield* Fiber.join(peer)
      return sum
    }),
  )
  p.stop()
}
