import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CancelledError, Kernel, KernelTask, TaskosError } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

describe('spawn, join, settle', () => {
  test('spawn: both body styles get the context first, then the args', async () => {
    const { k, clock } = setup()
    const gen = k.spawn(
      function* (t, a: number, b: string) {
        return `${t.id}:${a}${b}`
        yield* t.yield()
      },
      [1, 'x'],
    )
    const asy = k.spawn(async (t, a: number) => t.id * 100 + a, [7])
    const plain = k.spawn((_t: TaskContext, s: string) => s.toUpperCase(), ['ok'])
    assert.equal(await gen.join(), `${gen.id}:1x`)
    assert.equal(await asy.join(), asy.id * 100 + 7)
    assert.equal(await plain.join(), 'OK')
    assert.deepEqual([gen.status, asy.status, plain.status], ['done', 'done', 'done'])
    await done(k, clock)
  })

  test('spawn: ids count from 1, names are kept, status and parent are exposed', async () => {
    const { k, clock } = setup()
    const a = k.spawn(
      function* (t) {
        const c = t.spawn(function* (t) {
          return t.parent?.id
        })
        return yield* t.join(c)
      },
      [],
      { name: 'alpha' },
    )
    assert.equal(a.id, 1)
    assert.equal(a.name, 'alpha')
    assert.equal(a.parent, undefined)
    assert.equal(await a.join(), 1)
    assert.equal(a.label, "task 'alpha' #1")
    await done(k, clock)
  })

  test('join: rejects with the task error itself; settle gives the outcome and never rejects', async () => {
    const { k, clock } = setup()
    class MyError extends Error {}
    const boom = new MyError('boom')
    const gen = k.spawn(function* () {
      throw boom
    })
    const asy = k.spawn(async () => {
      throw boom
    })
    await assert.rejects(gen.join(), (e) => e === boom)
    await assert.rejects(asy.join(), (e) => e === boom)
    assert.deepEqual(await gen.settle(), { status: 'failed', error: boom })
    assert.deepEqual(await k.spawn(() => 5).settle(), { status: 'done', value: 5 })
    assert.equal(gen.status, 'failed')
    await done(k, clock)
  })

  test('join: a task is awaitable from outside and from inside both task styles', async () => {
    const { k, clock } = setup()
    const target = k.spawn(async (t) => {
      await t.sleep(10)
      return 'v'
    })
    const fromGen = k.spawn(function* () {
      return yield* target.join()
    })
    const fromAsync = k.spawn(async () => target.join())
    assert.deepEqual(await Promise.all([target.join(), fromGen.join(), fromAsync.join()]), ['v', 'v', 'v'])
    await done(k, clock)
  })

  test('spawn: a child runs before its parent resumes (COS order)', async () => {
    const { k, clock } = setup()
    const log: string[] = []
    await k
      .spawn(function* (t) {
        log.push('parent before')
        const c = t.spawn(function* (t) {
          log.push('child start')
          yield* t.yield()
          log.push('child after yield')
        })
        log.push('parent after spawn')
        yield* t.join(c)
        log.push('parent joined')
      })
      .join()
    assert.deepEqual(log, [
      'parent before',
      'child start',
      'parent after spawn',
      'child after yield',
      'parent joined',
    ])
    await done(k, clock)
  })

  test('yield: puts the task behind every other ready task', async () => {
    const { k, clock } = setup()
    const log: string[] = []
    const body = function* (t: TaskContext, name: string) {
      for (let i = 0; i < 3; i++) {
        log.push(`${name}${i}`)
        yield* t.yield()
      }
    }
    const a = k.spawn(body, ['a'])
    const b = k.spawn(body, ['b'])
    const c = k.spawn(body, ['c'])
    await Promise.all([a.join(), b.join(), c.join()])
    assert.deepEqual(log, ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2'])
    await done(k, clock)
  })

  test('yield: works in async tasks too', async () => {
    const { k, clock } = setup()
    let turns = 0
    const t1 = k.spawn(async (t) => {
      for (let i = 0; i < 5; i++) {
        turns++
        await t.yield()
      }
      return turns
    })
    assert.equal(await t1.join(), 5)
    await done(k, clock)
  })

  test('spawn: bad input gets typed errors naming the problem', async () => {
    const { k, clock } = setup()
    throwsCode(() => k.spawn(42 as never), 'ERR_INVALID_ARGUMENT', /task function: 42/)
    throwsCode(() => k.spawn(() => 1, 'x' as never), 'ERR_INVALID_ARGUMENT', /args/)
    throwsCode(() => k.spawn(() => 1, [], { timeout: -5 }), 'ERR_INVALID_OPTION', /timeout: -5/)
    throwsCode(() => k.spawn(() => 1, [], { name: 3 as never }), 'ERR_INVALID_OPTION', /name/)
    throwsCode(() => k.spawn(() => 1, [], { signal: {} as never }), 'ERR_INVALID_OPTION', /signal/)
    throwsCode(() => new Kernel({ budget: 0 }), 'ERR_INVALID_OPTION', /budget/)
    await done(k, clock)
  })

  test('yield of something that is not an operation raises ERR_INVALID_YIELD inside the task', async () => {
    const { k, clock } = setup()
    const t1 = k.spawn(function* (t) {
      yield 42
      return 'unreachable'
      yield* t.yield()
    })
    await rejectsWith(t1.join(), 'ERR_INVALID_YIELD', /yielded number/)
    // a plain `yield op` (without *) works, untyped; a yielded promise is awaited
    const t2 = k.spawn(function* (t) {
      t.task.send('m')
      const m = (yield t.receive()) as string
      const p = (yield Promise.resolve(2)) as number
      return m + p
    })
    assert.equal(await t2.join(), 'm2')
    await done(k, clock)
  })
})

describe('messages', () => {
  test('receive: messages arrive in order, in both task styles', async () => {
    const { k, clock } = setup()
    const gen = k.spawn(function* (t) {
      const got: number[] = []
      for (let i = 0; i < 3; i++) got.push(yield* t.receive<number>())
      return got
    })
    const asy = k.spawn(async (t) => {
      const got: number[] = []
      for (let i = 0; i < 3; i++) got.push(await t.receive<number>())
      return got
    })
    for (const m of [1, 2, 3]) {
      assert.equal(gen.send(m), true)
      assert.equal(asy.send(m), true)
    }
    assert.deepEqual(await gen.join(), [1, 2, 3])
    assert.deepEqual(await asy.join(), [1, 2, 3])
    assert.equal(k.stats().messages, 6)
    await done(k, clock)
  })

  test('receive: filter takes the oldest matching message and leaves the rest in order', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      const even = yield* t.receive<number>({ filter: (m) => (m as number) % 2 === 0 })
      const rest = [yield* t.receive<number>(), yield* t.receive<number>()]
      return { even, rest }
    })
    task.send(1)
    task.send(3)
    task.send(4)
    assert.deepEqual(await task.join(), { even: 4, rest: [1, 3] })
    await done(k, clock)
  })

  test('receive: a waiting filtered receive skips messages it rejects', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      const m = await t.receive<string>({ filter: (m) => m === 'b' })
      return [m, t.tryReceive()]
    })
    task.send('a')
    task.send('b')
    assert.deepEqual(await task.join(), ['b', 'a'])
    await done(k, clock)
  })

  test('receive: timeout rejects with ERR_TIMEOUT on the kernel clock, naming the task', async () => {
    const { k, clock } = setup()
    const task = k.spawn(
      function* (t) {
        yield* t.receive({ timeout: 250 })
      },
      [],
      { name: 'waiter' },
    )
    const e = await rejectsWith(
      task.join(),
      'ERR_TIMEOUT',
      /task 'waiter' #1: receive timed out after 250 ms/,
    )
    assert.equal(clock.now(), 250)
    assert.equal((e as { timeout?: number }).timeout, 250)
    await done(k, clock)
  })

  test('receive: a message before the timeout wins and the timer is cleared', async () => {
    const { k, clock } = setup(false)
    const task = k.spawn(function* (t) {
      return yield* t.receive<string>({ timeout: 1000 })
    })
    assert.equal(clock.pending, 1)
    await clock.advance(999)
    task.send('just in time')
    assert.equal(await task.join(), 'just in time')
    assert.equal(clock.pending, 0)
    await done(k, clock)
  })

  test('tryReceive: never waits', async () => {
    const { k, clock } = setup()
    const task = k.spawn((t) => {
      const first = t.tryReceive()
      t.task.send('x')
      return [first, t.tryReceive(), t.tryReceive()]
    })
    assert.deepEqual(await task.join(), [undefined, 'x', undefined])
    await done(k, clock)
  })

  test('send: to an ended task returns false and keeps nothing', async () => {
    const { k, clock } = setup()
    const task = k.spawn(() => 1)
    await task.join()
    assert.equal(task.send('late'), false)
    assert.equal(task.mailboxSize, 0)
    await done(k, clock)
  })

  test('send: t.send reaches a task, a registered name, and fails clearly for unknown names', async () => {
    const { k, clock } = setup()
    const server = k.spawn(function* (t) {
      const [from, n] = yield* t.receive<[KernelTask, number]>()
      from.send(n + 1)
    })
    k.register('server', server)
    const client = k.spawn(function* (t) {
      assert.equal(t.send('server', [t.task, 41]), true)
      return yield* t.receive<number>()
    })
    assert.equal(await client.join(), 42)
    const bad = k.spawn((t) => t.send('nobody', 1))
    await rejectsWith(bad.join(), 'ERR_UNKNOWN_NAME', /"nobody"/)
    await done(k, clock)
  })

  test('receive: one receive at a time per task', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      const first = t.receive()
      const second = t.receive()
      const p = Promise.race([first, second])
      return p
    })
    await rejectsWith(task.join(), 'ERR_INVALID_STATE', /already waits in receive/)
    await done(k, clock)
  })

  test('an operation is waited once; the plain receive of a generator task is a reusable flyweight', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      const op = t.sleep(1)
      yield* op
      yield* op
    })
    await rejectsWith(task.join(), 'ERR_INVALID_STATE', /waited once \(sleep\(1\)\)/)
    const flyweight = k.spawn(function* (t) {
      const receive = t.receive<number>() // no options: shared, stateless, each yield* is a receive
      return (yield* receive) + (yield* receive)
    })
    flyweight.send(1)
    flyweight.send(2)
    assert.equal(await flyweight.join(), 3)
    const awaited = k.spawn(function* (t) {
      const op = t.receive()
      yield* t.sleep(1)
      return [op]
    })
    const [op] = await awaited.join()
    await rejectsWith(op!, 'ERR_INVALID_STATE', /yield\* inside that task/)
    await done(k, clock)
  })

  test('receive after cancel rejects with the cancellation error', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      try {
        await t.receive()
      } catch (e) {
        assert.ok(e instanceof CancelledError)
      }
      t.task.send('still here')
      return t.receive() // a further wait rejects too
    })
    task.cancel('stop')
    const e = await rejectsWith(task.join(), 'ERR_CANCELLED', /was cancelled: stop/)
    assert.equal(e.cause, 'stop')
    assert.equal(task.status, 'cancelled')
    await done(k, clock)
  })
})

describe('sleep and virtual time', () => {
  test('sleep: tasks wake in time order on the virtual clock', async () => {
    const { k, clock } = setup()
    const log: string[] = []
    const sleeper = function* (t: TaskContext, ms: number) {
      yield* t.sleep(ms)
      log.push(`${ms}@${clock.now()}`)
    }
    const tasks = [30, 10, 20].map((ms) => k.spawn(sleeper, [ms]))
    await Promise.all(tasks.map((t) => t.join()))
    assert.deepEqual(log, ['10@10', '20@20', '30@30'])
    await done(k, clock)
  })

  test('advance: manual time only fires due timers', async () => {
    const { k, clock } = setup(false)
    let woke = false
    const task = k.spawn(async (t) => {
      await t.sleep(100)
      woke = true
    })
    await clock.advance(99)
    assert.equal(woke, false)
    assert.equal(task.status, 'running')
    await clock.advance(1)
    assert.equal(woke, true)
    await task.join()
    await done(k, clock)
  })

  test('sleep: bad durations are refused', async () => {
    const { k, clock } = setup()
    const task = k.spawn((t) => t.sleep(-1))
    await rejectsWith(task.join(), 'ERR_INVALID_ARGUMENT', /sleep time: -1/)
    await done(k, clock)
  })
})

describe('stats and close', () => {
  test('stats: counts tasks by status, spawned, finished and messages', async () => {
    const { k, clock } = setup()
    const parked = k.spawn(function* (t) {
      yield* t.receive()
    })
    await k.spawn(() => 1).join()
    await k
      .spawn(() => {
        throw new Error('x')
      })
      .settle()
    const before = k.stats()
    assert.deepEqual(before.tasks, { running: 1, done: 1, failed: 1, crashed: 0, cancelled: 0 })
    assert.equal(before.local, 1)
    assert.equal(before.remote, 0)
    assert.equal(before.spawned, 3)
    assert.equal(before.finished, 2)
    parked.cancel()
    await parked.settle()
    assert.equal(k.stats().tasks.cancelled, 1)
    JSON.stringify(k.stats())
    await done(k, clock)
  })

  test('close: cancels what is left, waits for it, then refuses new tasks', async () => {
    const { k, clock } = setup()
    const cleaned: string[] = []
    const a = k.spawn(function* (t) {
      try {
        yield* t.receive()
      } finally {
        cleaned.push('a')
      }
    })
    const b = k.spawn(async (t) => {
      try {
        await t.sleep(1e9)
      } finally {
        cleaned.push('b')
      }
    })
    await k.close()
    assert.deepEqual(cleaned.sort(), ['a', 'b'])
    assert.equal(a.status, 'cancelled')
    assert.equal(b.status, 'cancelled')
    throwsCode(() => k.spawn(() => 1), 'ERR_CLOSED')
    assert.equal(clock.pending, 0)
    await k.close() // idempotent
  })

  test('slots: -1 without an executor (COS)', async () => {
    const { k, clock } = setup()
    assert.equal(k.slots(), -1)
    assert.equal(k.freeSlots(), -1)
    const task = k.spawn((t) => t.offload(() => 1, []))
    await rejectsWith(task.join(), 'ERR_NO_EXECUTOR')
    await done(k, clock)
  })

  test('errors: every error is a TaskosError with a stable code', () => {
    const e = new CancelledError('x')
    assert.ok(e instanceof TaskosError)
    assert.equal(e.code, 'ERR_CANCELLED')
    assert.equal(e.name, 'CancelledError')
  })
})
