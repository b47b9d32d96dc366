/**
 * Kernel benchmark: taskos light tasks against Effect 4 fibers and a plain-Node floor, in the same
 * run. Five metrics, the targets, and the reference figures measured earlier (quoted).
 *
 * 1. memory: heap retained (after forced GC) per task parked in receive, with its mailbox, parent
 *    and child links, join and cancel support
 * 2. spawn to parked: a parent spawns n children that run to their first receive
 * 3. wake + join: one message to each of n parked children, then the parent joins them all
 * 4. spawn + join: a parent spawns a child that returns at once and joins it, n times
 * 5. ping-pong: round trips between two tasks
 * @module
 */
import { Kernel } from '../src/kernel/index.js'
import type { KernelTask, TaskContext } from '../src/kernel/index.js'
import {
  effectParked,
  effectPingPong,
  effectSpawn,
  effectSpawnJoin,
  effectWakeJoin,
} from './lib/effect-peer.js'
import {
  asyncParked,
  asyncTaskParked,
  floorParked,
  floorPingPong,
  floorSpawnJoin,
  floorWakeJoin,
} from './lib/floor.js'
import type { BenchCase, Benchmark, CaseResult, Probe, RunInfo } from './lib/harness.js'
import { nextTurn } from './lib/harness.js'
import type { Metric, Target } from './lib/report.js'
import { checkTargets, printMetric, printTargets, summaries, table } from './lib/report.js'

// ---- task bodies ------------------------------------------------------------------------------------

function* parkGen(t: TaskContext): Generator<unknown, number, unknown> {
  return yield* t.receive<number>()
}

async function parkAsync(t: TaskContext): Promise<number> {
  return await t.receive<number>()
}

function* returnGen(): Generator<unknown, number, unknown> {
  return 1
}

async function returnAsync(): Promise<number> {
  return 1
}

function returnPlain(): number {
  return 1
}

function* pongGen(t: TaskContext, peer: KernelTask<unknown>): Generator<unknown, void, unknown> {
  for (;;) {
    const m = yield* t.receive<number>()
    if (m < 0) return
    peer.send(m)
  }
}

async function pongAsync(t: TaskContext, peer: KernelTask<unknown>): Promise<void> {
  for (;;) {
    const m = await t.receive<number>()
    if (m < 0) return
    peer.send(m)
  }
}

// ---- taskos cases -----------------------------------------------------------------------------------

/**
 * n children parked in receive (generator or async bodies) under one generator parent. The
 * measured time is spawn to parked (for async bodies: until the microtasks their `await` queued
 * have run, at the next turn of the event loop); with `measureHeap` the heap growth is read while
 * they wait.
 * Then each gets a message and the parent joins them.
 */
async function taskosParked(n: number, p: Probe, gen: boolean, measureHeap: boolean): Promise<void> {
  const k = new Kernel()
  const kids = new Array<KernelTask<number> | undefined>(n).fill(undefined)
  p.start()
  const parent = k.spawn(function* (t) {
    if (gen) for (let i = 0; i < n; i++) kids[i] = t.spawn(parkGen)
    else for (let i = 0; i < n; i++) kids[i] = t.spawn(parkAsync)
    yield* t.receive()
    for (const c of kids) c!.send(1)
    for (const c of kids) yield* t.join(c!)
  })
  await nextTurn()
  p.stop()
  if (measureHeap) p.heapDelta()
  parent.send('go')
  await parent.join()
  await k.close()
}

/** How a parent joins its n woken children. */
type JoinWay = 'each' | 'any' | 'scope'

/**
 * Wake + join: n children parked in receive; timed from the parent's first send until the parent
 * (and so every child) has ended. `each`: `yield* t.join(c)` / `await t.join(c)` in spawn order;
 * `any`: `t.joinAny()` until undefined; `scope`: the parent returns and structured concurrency
 * makes it wait for its children.
 */
async function taskosWakeJoin(n: number, p: Probe, genKids: boolean, genParent: boolean, way: JoinWay) {
  const k = new Kernel()
  const spawnKids = (t: TaskContext): KernelTask<number>[] => {
    const kids: KernelTask<number>[] = []
    if (genKids) for (let i = 0; i < n; i++) kids.push(t.spawn(parkGen))
    else for (let i = 0; i < n; i++) kids.push(t.spawn(parkAsync))
    return kids
  }
  const parent = genParent
    ? k.spawn(function* (t) {
        const kids = spawnKids(t)
        yield* t.receive()
        for (const c of kids) c.send(1)
        let sum = 0
        if (way === 'each') for (const c of kids) sum += yield* t.join(c)
        else if (way === 'any') {
          for (let r = yield* t.joinAny(); r !== undefined; r = yield* t.joinAny()) {
            if (r.status === 'done') sum += r.value as number
          }
        }
        return sum
      })
    : k.spawn(async (t) => {
        const kids = spawnKids(t)
        await t.receive()
        for (const c of kids) c.send(1)
        let sum = 0
        if (way === 'each') for (const c of kids) sum += await t.join(c)
        else if (way === 'any') {
          for (let r = await t.joinAny(); r !== undefined; r = await t.joinAny()) {
            if (r.status === 'done') sum += r.value as number
          }
        }
        return sum
      })
  await nextTurn() // an async parent reaches its receive
  p.start()
  parent.send('go')
  await parent.join()
  p.stop()
  await k.close()
}

/** Spawn + join: a parent spawns a child whose body returns at once and joins it, n times. */
async function taskosSpawnJoin(n: number, p: Probe, kind: 'gen' | 'async' | 'plain-child'): Promise<void> {
  const k = new Kernel()
  p.start()
  const parent =
    kind === 'async'
      ? k.spawn(async (t) => {
          let sum = 0
          for (let i = 0; i < n; i++) sum += await t.join(t.spawn(returnAsync))
          return sum
        })
      : k.spawn(function* (t) {
          let sum = 0
          if (kind === 'gen') for (let i = 0; i < n; i++) sum += yield* t.join(t.spawn(returnGen))
          else for (let i = 0; i < n; i++) sum += yield* t.join(t.spawn(returnPlain))
          return sum
        })
  await parent.join()
  p.stop()
  await k.close()
}

/** Ping-pong: the parent sends i to its child, the child sends it back; n round trips. */
async function taskosPingPong(n: number, p: Probe, gen: boolean): Promise<void> {
  const k = new Kernel()
  p.start()
  const parent = gen
    ? k.spawn(function* (t) {
        const pong = t.spawn(pongGen, [t.task])
        let sum = 0
        for (let i = 0; i < n; i++) {
          pong.send(i)
          sum += yield* t.receive<number>()
        }
        pong.send(-1)
        yield* t.join(pong)
        return sum
      })
    : k.spawn(async (t) => {
        const pong = t.spawn(pongAsync, [t.task])
        let sum = 0
        for (let i = 0; i < n; i++) {
          pong.send(i)
          sum += await t.receive<number>()
        }
        pong.send(-1)
        await t.join(pong)
        return sum
      })
  await parent.join()
  p.stop()
  await k.close()
}

// ---- the cases ----------------------------------------------------------------------------------------

const M = 1_000_000
const K = 1_000

function memoryCase(id: string, n: number, run: (n: number, p: Probe) => Promise<void>): BenchCase {
  return { id, kind: 'memory', n, quickN: 10 * K, run }
}

function rateCase(id: string, n: number, run: (n: number, p: Probe) => Promise<void>): BenchCase {
  return { id, kind: 'rate', n, quickN: Math.min(n, 20 * K), run }
}

const cases: BenchCase[] = [
  memoryCase('memory/taskos-gen', M, (n, p) => taskosParked(n, p, true, true)),
  memoryCase('memory/taskos-async', 500 * K, (n, p) => taskosParked(n, p, false, true)),
  memoryCase('memory/effect-queue', 200 * K, (n, p) => effectParked(n, p, true)),
  memoryCase('memory/effect-deferred', 200 * K, (n, p) => effectParked(n, p, false)),
  memoryCase('memory/floor-gen', M, (n, p) => floorParked(n, p, true)),
  memoryCase('memory/floor-async', 500 * K, asyncParked),
  memoryCase('memory/floor-async-task', 500 * K, asyncTaskParked),

  rateCase('spawn/taskos-gen', 200 * K, (n, p) => taskosParked(n, p, true, false)),
  rateCase('spawn/taskos-async', 200 * K, (n, p) => taskosParked(n, p, false, false)),
  rateCase('spawn/effect', 100 * K, effectSpawn),
  rateCase('spawn/floor-gen', 200 * K, (n, p) => floorParked(n, p, false)),

  rateCase('wake-join/taskos-gen-each', 200 * K, (n, p) => taskosWakeJoin(n, p, true, true, 'each')),
  rateCase('wake-join/taskos-gen-any', 200 * K, (n, p) => taskosWakeJoin(n, p, true, true, 'any')),
  rateCase('wake-join/taskos-gen-scope', 200 * K, (n, p) => taskosWakeJoin(n, p, true, true, 'scope')),
  rateCase('wake-join/taskos-async-each', 200 * K, (n, p) => taskosWakeJoin(n, p, false, false, 'each')),
  rateCase('wake-join/taskos-async-any', 200 * K, (n, p) => taskosWakeJoin(n, p, false, false, 'any')),
  rateCase('wake-join/taskos-async-scope', 200 * K, (n, p) => taskosWakeJoin(n, p, false, false, 'scope')),
  rateCase('wake-join/taskos-async-genparent', 200 * K, (n, p) => taskosWakeJoin(n, p, false, true, 'scope')),
  rateCase('wake-join/effect-joinall', 100 * K, (n, p) => effectWakeJoin(n, p, true)),
  rateCase('wake-join/effect-each', 100 * K, (n, p) => effectWakeJoin(n, p, false)),
  rateCase('wake-join/floor-gen', 200 * K, floorWakeJoin),

  rateCase('spawn-join/taskos-gen', 500 * K, (n, p) => taskosSpawnJoin(n, p, 'gen')),
  rateCase('spawn-join/taskos-plain-child', 500 * K, (n, p) => taskosSpawnJoin(n, p, 'plain-child')),
  rateCase('spawn-join/taskos-async', 200 * K, (n, p) => taskosSpawnJoin(n, p, 'async')),
  rateCase('spawn-join/effect', 200 * K, (n, p) => effectSpawnJoin(n, p, false)),
  rateCase('spawn-join/effect-immediate', 500 * K, (n, p) => effectSpawnJoin(n, p, true)),
  rateCase('spawn-join/floor-gen', M, floorSpawnJoin),

  rateCase('ping-pong/taskos-gen', M, (n, p) => taskosPingPong(n, p, true)),
  rateCase('ping-pong/taskos-async', 300 * K, (n, p) => taskosPingPong(n, p, false)),
  rateCase('ping-pong/effect', 200 * K, effectPingPong),
  rateCase('ping-pong/floor-gen', 2 * M, floorPingPong),
]

// ---- the report -------------------------------------------------------------------------------------

const metrics: Metric[] = [
  {
    title: '1. Memory: heap after GC per task parked in receive (lower is better)',
    kind: 'memory',
    op: 'spawns',
    effect: 'memory/effect-queue',
    floor: 'memory/floor-gen',
    rows: [
      { id: 'memory/taskos-gen', label: 'taskos generator, yield* t.receive()', party: 'taskos' },
      {
        id: 'memory/taskos-async',
        label: 'taskos async, await t.receive()',
        party: 'taskos',
        floor: 'memory/floor-async-task',
      },
      { id: 'memory/effect-queue', label: 'Effect fiber + own Queue, Queue.take', party: 'effect' },
      { id: 'memory/effect-deferred', label: 'Effect fiber, Deferred.await (no mailbox)', party: 'effect' },
      { id: 'memory/floor-gen', label: 'floor generator task, yield RECV', party: 'floor' },
      { id: 'memory/floor-async', label: 'floor async fn parked on own promise', party: 'floor' },
      {
        id: 'memory/floor-async-task',
        label: 'floor async task: + task object, .then on end',
        party: 'floor',
      },
    ],
  },
  {
    title: '2. Spawn to parked: a parent spawns children that run to their first receive',
    kind: 'rate',
    op: 'spawns',
    effect: 'spawn/effect',
    floor: 'spawn/floor-gen',
    rows: [
      { id: 'spawn/taskos-gen', label: 'taskos generator children', party: 'taskos' },
      { id: 'spawn/taskos-async', label: 'taskos async children', party: 'taskos' },
      { id: 'spawn/effect', label: 'Effect forkChild(startImmediately) + Queue', party: 'effect' },
      { id: 'spawn/floor-gen', label: 'floor generator children', party: 'floor' },
    ],
  },
  {
    title: '3. Wake + join: one message to each parked child, then join them all',
    kind: 'rate',
    op: 'tasks',
    effect: 'wake-join/effect-joinall',
    floor: 'wake-join/floor-gen',
    rows: [
      {
        id: 'wake-join/taskos-gen-each',
        label: 'taskos gen: for (c of kids) yield* t.join(c)',
        party: 'taskos',
      },
      { id: 'wake-join/taskos-gen-any', label: 'taskos gen: yield* t.joinAny() until none', party: 'taskos' },
      { id: 'wake-join/taskos-gen-scope', label: 'taskos gen: parent returns, scope joins', party: 'taskos' },
      { id: 'wake-join/taskos-async-each', label: 'taskos async: await t.join(c) each', party: 'taskos' },
      {
        id: 'wake-join/taskos-async-any',
        label: 'taskos async: await t.joinAny() until none',
        party: 'taskos',
      },
      {
        id: 'wake-join/taskos-async-scope',
        label: 'taskos async: parent returns, scope joins',
        party: 'taskos',
      },
      {
        id: 'wake-join/taskos-async-genparent',
        label: 'taskos async kids, gen parent, scope joins',
        party: 'taskos',
      },
      { id: 'wake-join/effect-joinall', label: 'Effect Queue.offerUnsafe + Fiber.joinAll', party: 'effect' },
      { id: 'wake-join/effect-each', label: 'Effect Queue.offerUnsafe + Fiber.join each', party: 'effect' },
      { id: 'wake-join/floor-gen', label: 'floor generator, join each', party: 'floor' },
    ],
  },
  {
    title: '4. Spawn + join: a parent spawns a child that returns at once, then joins it',
    kind: 'rate',
    op: 'children',
    effect: 'spawn-join/effect-immediate',
    floor: 'spawn-join/floor-gen',
    rows: [
      { id: 'spawn-join/taskos-gen', label: 'taskos gen parent, gen child', party: 'taskos' },
      {
        id: 'spawn-join/taskos-plain-child',
        label: 'taskos gen parent, plain-function child',
        party: 'taskos',
      },
      { id: 'spawn-join/taskos-async', label: 'taskos async parent, async child', party: 'taskos' },
      { id: 'spawn-join/effect', label: 'Effect forkChild + Fiber.join', party: 'effect' },
      {
        id: 'spawn-join/effect-immediate',
        label: 'Effect forkChild(startImmediately) + join',
        party: 'effect',
      },
      { id: 'spawn-join/floor-gen', label: 'floor generator', party: 'floor' },
    ],
  },
  {
    title: '5. Ping-pong: round trips between two tasks',
    kind: 'rate',
    op: 'round trips',
    effect: 'ping-pong/effect',
    floor: 'ping-pong/floor-gen',
    rows: [
      { id: 'ping-pong/taskos-gen', label: 'taskos generator tasks', party: 'taskos' },
      { id: 'ping-pong/taskos-async', label: 'taskos async tasks', party: 'taskos' },
      { id: 'ping-pong/effect', label: 'Effect fibers, a Queue each way', party: 'effect' },
      { id: 'ping-pong/floor-gen', label: 'floor generator tasks', party: 'floor' },
    ],
  },
]

const targets: Target[] = [
  {
    label: 'memory, generator task parked',
    kind: 'memory',
    candidates: ['memory/taskos-gen'],
    op: '<=',
    value: 400,
  },
  {
    label: 'memory, async task parked',
    kind: 'memory',
    candidates: ['memory/taskos-async'],
    op: '<=',
    value: 800,
  },
  {
    label: 'spawn to parked, generator',
    kind: 'rate',
    candidates: ['spawn/taskos-gen'],
    op: '>=',
    value: 600 * K,
  },
  {
    label: 'wake + join, generator',
    kind: 'rate',
    candidates: ['wake-join/taskos-gen-each', 'wake-join/taskos-gen-any', 'wake-join/taskos-gen-scope'],
    op: '>=',
    value: 3 * M,
  },
  {
    label: 'wake + join, async',
    kind: 'rate',
    candidates: [
      'wake-join/taskos-async-each',
      'wake-join/taskos-async-any',
      'wake-join/taskos-async-scope',
      'wake-join/taskos-async-genparent',
    ],
    op: '>=',
    value: 800 * K,
  },
  {
    label: 'spawn + join',
    kind: 'rate',
    candidates: ['spawn-join/taskos-gen', 'spawn-join/taskos-plain-child'],
    op: '>=',
    value: 600 * K,
  },
  {
    label: 'ping-pong, generator',
    kind: 'rate',
    candidates: ['ping-pong/taskos-gen'],
    op: '>=',
    value: 2 * M,
  },
]

/** Figures measured earlier on this machine, quoted (not run here). */
const REFERENCE: readonly (readonly string[])[] = [
  ['pycos', '≈ 1,600', '20–40k', '—', '50–100k'],
  ['Erlang/OTP 25', '≈ 2,650', '190–270k', '80–190k', '1.1–1.35M'],
  ['Effect 4 fibers', '840–1,960', '90–175k', '—', '118k'],
  ['plain-Node floor, generator task', '240', '1.2M', '7.8M (wake+join)', '7.3M'],
  ['plain-Node floor, async fn on own promise', '568', '—', '—', '—'],
]

function report(results: ReadonlyMap<string, CaseResult>, run: RunInfo): void {
  const s = summaries(results)
  console.log(
    'medians of repetitions; ratios are taskos ÷ peer (rates: above 1 is faster; bytes: below 1 is smaller)',
  )
  if (run.quick) console.log('--quick: small n, figures are a smoke test, not measurements')
  for (const m of metrics) printMetric(m, s)
  const labels = new Map<string, string>()
  for (const m of metrics) for (const r of m.rows) labels.set(r.id, r.label)
  printTargets(checkTargets(targets, s), labels)
  console.log('\nReference figures measured earlier on this machine (quoted, not run)')
  console.log(table(['system', 'B/task', 'spawns/s', 'spawn+join/s', 'round trips/s'], REFERENCE))
}

/** The kernel benchmark. */
export const benchmark: Benchmark = { name: 'kernel', cases, report }
