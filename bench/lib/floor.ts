/**
 * The plain-Node floor: the least a "kernel-shaped" generator scheduler can cost on this runtime.
 * One object per task with the fields a real task needs (id, parent, intrusive child and sibling
 * links, lazy mailbox, joiner, result, run-queue link), a run queue threaded through the tasks and
 * drained in one microtask, and generator bodies that yield a wait marker: `yield RECV` for the
 * next message, `yield child` to join a child. Spawn runs the body at once until its first wait,
 * like the taskos kernel. No validation, no errors, no cancellation, no timers, no structured
 * concurrency beyond the child list: a floor, not a competitor.
 * @module
 */
import type { Probe } from './harness.js'
import { nextTurn } from './harness.js'

/** Yielded by a floor task to wait for its next message. */
export const RECV: unique symbol = Symbol('floor.recv')

/** A floor task body. */
export type FloorBody = (t: FloorTask, arg: number) => Generator<unknown, unknown, unknown>

const RUNNING = 0
const WAIT_RECV = 1
const WAIT_JOIN = 2
const DONE = 3

/** One task: every link a kernel task has, nothing else. */
export class FloorTask {
  readonly id: number
  readonly parent: FloorTask | undefined
  readonly sched: FloorScheduler
  state = RUNNING
  gen: Generator<unknown, unknown, unknown> | undefined = undefined
  /** resume value while queued, then the result */
  value: unknown = undefined
  mail: unknown[] | undefined = undefined
  joiner: FloorTask | undefined = undefined
  kidsHead: FloorTask | undefined = undefined
  kidsTail: FloorTask | undefined = undefined
  live = 0
  prev: FloorTask | undefined = undefined
  next: FloorTask | undefined = undefined
  rnext: FloorTask | undefined = undefined
  cancelled = false

  constructor(sched: FloorScheduler, id: number, parent: FloorTask | undefined) {
    this.sched = sched
    this.id = id
    this.parent = parent
  }

  /** Spawns a child of this task. */
  spawn(body: FloorBody, arg = 0): FloorTask {
    return this.sched.spawn(body, arg, this)
  }

  /** Puts a message into this task's mailbox, waking it if it waits for one. */
  send(message: unknown): void {
    if (this.state === WAIT_RECV) {
      this.state = RUNNING
      this.value = message
      this.sched.enqueue(this)
    } else if (this.state !== DONE) (this.mail ??= []).push(message)
  }
}

/** The scheduler: spawn, run queue, stepping of generator bodies. */
export class FloorScheduler {
  #head: FloorTask | undefined = undefined
  #tail: FloorTask | undefined = undefined
  #scheduled = false
  #nextId = 1

  /** Creates a task and runs it until its first wait (or its end). */
  spawn(body: FloorBody, arg: number, parent: FloorTask | undefined): FloorTask {
    const t = new FloorTask(this, this.#nextId++, parent)
    if (parent !== undefined) {
      t.prev = parent.kidsTail
      if (parent.kidsTail === undefined) parent.kidsHead = t
      else parent.kidsTail.next = t
      parent.kidsTail = t
      parent.live++
    }
    t.gen = body(t, arg)
    this.#step(t, undefined)
    return t
  }

  /** Appends a ready task to the run queue. */
  enqueue(t: FloorTask): void {
    if (this.#tail === undefined) this.#head = t
    else this.#tail.rnext = t
    this.#tail = t
    if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#drain)
    }
  }

  #drain = (): void => {
    this.#scheduled = false
    for (let t = this.#head; t !== undefined; t = this.#head) {
      this.#head = t.rnext
      if (this.#head === undefined) this.#tail = undefined
      t.rnext = undefined
      const value = t.value
      t.value = undefined
      this.#step(t, value)
    }
  }

  #step(t: FloorTask, value: unknown): void {
    const gen = t.gen!
    for (;;) {
      const r = gen.next(value)
      if (r.done === true) {
        this.#end(t, r.value)
        return
      }
      const wait = r.value
      if (wait === RECV) {
        const mail = t.mail
        if (mail !== undefined && mail.length > 0) {
          value = mail.shift()
          continue
        }
        t.state = WAIT_RECV
        return
      }
      const child = wait as FloorTask
      if (child.state === DONE) {
        value = child.value
        continue
      }
      child.joiner = t
      t.state = WAIT_JOIN
      return
    }
  }

  #end(t: FloorTask, result: unknown): void {
    t.state = DONE
    t.value = result
    t.gen = undefined
    t.mail = undefined
    const parent = t.parent
    if (parent !== undefined) {
      if (t.prev === undefined) parent.kidsHead = t.next
      else t.prev.next = t.next
      if (t.next === undefined) parent.kidsTail = t.prev
      else t.next.prev = t.prev
      t.prev = t.next = undefined
      parent.live--
    }
    const joiner = t.joiner
    if (joiner !== undefined) {
      t.joiner = undefined
      joiner.state = RUNNING
      joiner.value = result
      this.enqueue(joiner)
    }
  }
}

let captured: ((value: number) => void) | undefined
function capture(resolve: (value: number) => void): void {
  captured = resolve
}

/**
 * The floor of an async task: an async function parked on its own promise, woken by its resolver.
 * The executor is a shared function (no closure, so no context object per call).
 */
export async function parkAsync(resolvers: ((value: number) => void)[], i: number): Promise<number> {
  const parked = new Promise<number>(capture)
  resolvers[i] = captured!
  return (await parked) + 1
}

// ---- the floor's cases ----------------------------------------------------------------------------

function* parkBody(_t: FloorTask): Generator<unknown, unknown, unknown> {
  return yield RECV
}

function* returnBody(_t: FloorTask, arg: number): Generator<unknown, unknown, unknown> {
  return arg
}

/**
 * n floor tasks parked in `yield RECV`, children of one parent. With `measureHeap` the heap growth is
 * read while they wait; the measured time is spawn to parked. Then each gets a message and is joined.
 */
export async function floorParked(n: number, p: Probe, measureHeap: boolean): Promise<void> {
  const sched = new FloorScheduler()
  const kids = new Array<FloorTask | undefined>(n).fill(undefined)
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  p.start()
  const parent = sched.spawn(
    function* (t) {
      for (let i = 0; i < n; i++) kids[i] = t.spawn(parkBody)
      yield RECV
      for (const c of kids) c!.send(1)
      for (const c of kids) yield c
      finish()
    },
    0,
    undefined,
  )
  await nextTurn()
  p.stop()
  if (measureHeap) p.heapDelta()
  parent.send('go')
  await finished
}

/** Wake + join: n parked children; timed from the first send until the parent joined them all. */
export async function floorWakeJoin(n: number, p: Probe): Promise<void> {
  const sched = new FloorScheduler()
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const parent = sched.spawn(
    function* (t) {
      const kids: FloorTask[] = []
      for (let i = 0; i < n; i++) kids.push(t.spawn(parkBody))
      yield RECV
      for (const c of kids) c.send(1)
      let sum = 0
      for (const c of kids) sum += (yield c) as number
      finish()
      return sum
    },
    0,
    undefined,
  )
  p.start()
  parent.send('go')
  await finished
  p.stop()
}

/** Spawn + join: a parent spawns a child whose body returns at once, joins it; n times. */
export async function floorSpawnJoin(n: number, p: Probe): Promise<void> {
  const sched = new FloorScheduler()
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  p.start()
  sched.spawn(
    function* (t) {
      let sum = 0
      for (let i = 0; i < n; i++) sum += (yield t.spawn(returnBody, 1)) as number
      finish()
      return sum
    },
    0,
    undefined,
  )
  await finished
  p.stop()
}

/** Ping-pong between two floor tasks: n round trips. */
export async function floorPingPong(n: number, p: Probe): Promise<void> {
  const sched = new FloorScheduler()
  let finish!: () => void
  const finished = new Promise<void>((resolve) => (finish = resolve))
  p.start()
  sched.spawn(
    function* (t) {
      const pong = t.spawn(function* () {
        for (;;) {
          const m = (yield RECV) as number
          if (m < 0) return
          t.send(m)
        }
      })
      let sum = 0
      for (let i = 0; i < n; i++) {
        pong.send(i)
        sum += (yield RECV) as number
      }
      pong.send(-1)
      yield pong
      finish()
      return sum
    },
    0,
    undefined,
  )
  await finished
  p.stop()
}

/** What an async floor task keeps while it waits in `receiveAsync`: its receive's resolver. */
type Resolver = (value: unknown) => void

let capturedAny: Resolver | undefined
function captureAny(resolve: Resolver): void {
  capturedAny = resolve
}

/** Receive for an async floor task: a native promise whose resolver the task keeps in `value`. */
function receiveAsync(t: FloorTask): Promise<unknown> {
  const p = new Promise<unknown>(captureAny)
  t.value = capturedAny
  return p
}

async function parkAsyncTask(t: FloorTask): Promise<unknown> {
  return await receiveAsync(t)
}

/**
 * The floor of an async kernel task: a floor task object, an async body parked on a native promise
 * (no thenable in between), and the one thing a kernel cannot skip, a `.then` on the body's promise
 * to learn that it ended. n of them under one parent; heap growth read while they wait.
 */
export async function asyncTaskParked(n: number, p: Probe): Promise<void> {
  const sched = new FloorScheduler()
  const parent = new FloorTask(sched, 0, undefined)
  const kids = new Array<FloorTask | undefined>(n).fill(undefined)
  let ended = 0
  const end = (t: FloorTask, value: unknown): void => {
    t.state = DONE
    t.value = value
    ended++
  }
  p.start()
  for (let i = 0; i < n; i++) {
    const t = new FloorTask(sched, i + 1, parent)
    t.prev = parent.kidsTail
    if (parent.kidsTail === undefined) parent.kidsHead = t
    else parent.kidsTail.next = t
    parent.kidsTail = t
    parent.live++
    kids[i] = t
    parkAsyncTask(t).then(
      (v) => end(t, v),
      (e: unknown) => end(t, e),
    )
  }
  await nextTurn()
  p.stop()
  p.heapDelta()
  for (const t of kids) (t!.value as Resolver)(1)
  while (ended < n) await nextTurn()
}

/** n async functions parked on their own promises; heap growth read while they wait. */
export async function asyncParked(n: number, p: Probe): Promise<void> {
  const resolvers = new Array<((value: number) => void) | undefined>(n).fill(undefined)
  const promises = new Array<Promise<number> | undefined>(n).fill(undefined)
  p.start()
  for (let i = 0; i < n; i++) promises[i] = parkAsync(resolvers as ((value: number) => void)[], i)
  await nextTurn()
  p.stop()
  p.heapDelta()
  for (const r of resolvers) r!(1)
  for (const q of promises) await q!
}
