import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { KernelTask } from '../../src/kernel/index.js'
import type { TaskContext } from '../../src/kernel/index.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

describe('supervise', () => {
  test('one-for-one: only the failed child restarts; names follow the current instance', async () => {
    const { k, clock } = setup()
    const starts: string[] = []
    let failuresLeft = 2
    const flaky = function* (t: TaskContext) {
      starts.push(`flaky#${t.id}`)
      yield* t.sleep(10)
      if (failuresLeft-- > 0) throw new Error('flaky failed')
      return 'flaky ok'
    }
    const steady = function* (t: TaskContext) {
      starts.push('steady')
      const m = yield* t.receive<string>()
      return m
    }
    const sup = k.supervise([{ fn: flaky }, { fn: steady, name: 'steady' }], { maxRestarts: 5, within: 1000 })
    await clock.advance(0)
    await new Promise((r) => setImmediate(r))
    while (starts.filter((s) => s.startsWith('flaky')).length < 3 || failuresLeft >= 0) {
      await new Promise((r) => setImmediate(r))
      if (sup.ended) break
    }
    k.spawn((t) => t.send('steady', 'stop'))
    await sup.join()
    assert.equal(starts.filter((s) => s === 'steady').length, 1, 'steady never restarted')
    assert.equal(starts.filter((s) => s.startsWith('flaky')).length, 3, 'flaky started 3 times')
    await done(k, clock)
  })

  test('one-for-all: a failure restarts every child', async () => {
    const { k, clock } = setup()
    const starts: number[] = []
    let failed = false
    const worker = function* (t: TaskContext, n: number) {
      starts.push(n)
      yield* t.sleep(10 * n)
      if (n === 1 && !failed) {
        failed = true
        throw new Error('first run of 1 fails')
      }
      return n
    }
    const sup = k.supervise(
      [
        { fn: worker, args: [1] },
        { fn: worker, args: [2] },
        { fn: worker, args: [3] },
      ],
      { strategy: 'one-for-all' },
    )
    await sup.join()
    assert.deepEqual(starts, [1, 2, 3, 1, 2, 3])
    await done(k, clock)
  })

  test('rest-for-one: the failed child and those started after it restart', async () => {
    const { k, clock } = setup()
    const starts: number[] = []
    let failed = false
    const worker = function* (t: TaskContext, n: number) {
      starts.push(n)
      yield* t.sleep(10 * n)
      if (n === 2 && !failed) {
        failed = true
        throw new Error('2 fails once')
      }
      return n
    }
    const sup = k.supervise(
      [1, 2, 3].map((n) => ({ fn: worker, args: [n] as [number] })),
      { strategy: 'rest-for-one' },
    )
    await sup.join()
    assert.deepEqual(starts, [1, 2, 3, 2, 3])
    await done(k, clock)
  })

  test('restart policies: permanent restarts after a return, temporary never restarts', async () => {
    const { k, clock } = setup()
    let permanentRuns = 0
    let temporaryRuns = 0
    const sup = k.supervise(
      [
        {
          fn: function* (t: TaskContext) {
            permanentRuns++
            yield* t.sleep(1)
            return 'again'
          },
          restart: 'permanent',
        },
        {
          fn: function* () {
            temporaryRuns++
            throw new Error('temporary fails')
          },
          restart: 'temporary',
        },
      ],
      { maxRestarts: 3, within: 1000 },
    )
    await rejectsWith(sup.join(), 'ERR_RESTART_LIMIT', /more than 3 restarts within 1000 ms/)
    assert.equal(permanentRuns, 4)
    assert.equal(temporaryRuns, 1)
    await done(k, clock)
  })

  test('restart limit: too many failures within the window fail the supervisor (escalation)', async () => {
    const { k, clock } = setup()
    const always = function* (t: TaskContext) {
      yield* t.sleep(1)
      throw new Error('always fails')
    }
    const parent = k.spawn(function* (t) {
      t.supervise([{ fn: always }], { maxRestarts: 2, within: 100 })
      yield* t.receive()
    })
    await rejectsWith(parent.join(), 'ERR_TASK_FAILED', /more than 2 restarts within 100 ms/)
    await done(k, clock)
  })

  test('restart limit window: failures spread wider than `within` are fine', async () => {
    const { k, clock } = setup()
    let runs = 0
    const sup = k.supervise(
      [
        {
          fn: function* (t: TaskContext) {
            runs++
            yield* t.sleep(110)
            if (runs < 6) throw new Error('slow failure')
            return 'ok'
          },
        },
      ],
      { maxRestarts: 1, within: 100 },
    )
    await sup.join()
    assert.equal(runs, 6)
    await done(k, clock)
  })

  test('cancelling the supervisor cancels its children', async () => {
    const { k, clock } = setup()
    const sup = k.supervise([{ fn: (t: TaskContext) => t.receive() }])
    await new Promise((r) => setImmediate(r))
    sup.cancel()
    await rejectsWith(sup.join(), 'ERR_CANCELLED')
    await done(k, clock)
  })

  test('bad input is refused with the option named', async () => {
    const { k, clock } = setup()
    const fn = () => 1
    throwsCode(() => k.supervise([]), 'ERR_INVALID_ARGUMENT', /children/)
    throwsCode(() => k.supervise([{ fn }], { strategy: 'all' as never }), 'ERR_INVALID_OPTION', /strategy/)
    throwsCode(() => k.supervise([{ fn }], { maxRestarts: -1 }), 'ERR_INVALID_OPTION', /maxRestarts/)
    throwsCode(() => k.supervise([{ fn }], { within: 0 }), 'ERR_INVALID_OPTION', /within/)
    throwsCode(() => k.supervise([{ fn, restart: 'sometimes' as never }]), 'ERR_INVALID_OPTION', /restart/)
    await done(k, clock)
  })
})

describe('hot swap', () => {
  test('generator: the new body takes over at the next receive, same id and mailbox; old finally runs', async () => {
    const { k, clock } = setup()
    const log: string[] = []
    const v1 = function* (t: TaskContext) {
      t.hotSwappable(true)
      try {
        for (;;) log.push(`v1 got ${yield* t.receive<string>()}`)
      } finally {
        log.push('v1 closed')
      }
    }
    const v2 = function* (t: TaskContext, tag: string) {
      const m = yield* t.receive<string>()
      log.push(`${tag} got ${m} as #${t.id}`)
      return 'v2 done'
    }
    const task = k.spawn(v1)
    task.send('a')
    await clock.advance(0)
    task.hotSwap(v2, ['v2'])
    task.send('b')
    assert.equal(await task.join(), 'v2 done')
    assert.deepEqual(log, ['v1 got a', 'v1 closed', `v2 got b as #${task.id}`])
    await done(k, clock)
  })

  test('a swap waits until the task is hot-swappable and in receive; queued messages survive', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      yield* t.sleep(10) // not swappable yet
      t.hotSwappable()
      yield* t.receive()
      return 'old body'
    })
    task.hotSwap(function* (t: TaskContext) {
      return `new body got ${yield* t.receive<string>()}`
    })
    task.send('kept')
    assert.equal(await task.join(), 'new body got kept')
    await done(k, clock)
  })

  test('async: the old body sees ERR_HOT_SWAPPED and its result is ignored', async () => {
    const { k, clock } = setup()
    let oldSaw = ''
    const task = k.spawn(async (t) => {
      t.hotSwappable(true)
      try {
        await t.receive()
      } catch (e) {
        oldSaw = (e as { code: string }).code
        throw e
      }
    })
    await new Promise((r) => setImmediate(r))
    task.hotSwap(async (t: TaskContext) => `swapped #${t.id}`)
    assert.equal(await task.join(), `swapped #${task.id}`)
    await new Promise((r) => setImmediate(r))
    assert.equal(oldSaw, 'ERR_HOT_SWAPPED')
    assert.equal(task.status, 'done')
    await done(k, clock)
  })

  test('hotSwap on an ended task or with a non-function is refused', async () => {
    const { k, clock } = setup()
    const task = k.spawn(() => 1)
    await task.join()
    throwsCode(() => task.hotSwap(() => 2), 'ERR_INVALID_STATE', /has ended/)
    const live = k.spawn((t) => t.receive())
    throwsCode(() => live.hotSwap(5 as never), 'ERR_INVALID_ARGUMENT')
    live.cancel()
    await live.settle()
    await done(k, clock)
  })
})

describe('names', () => {
  test('register/locate: locate waits for the name, with timeout; names drop when the task ends', async () => {
    const { k, clock } = setup()
    const finder = k.spawn(function* () {
      const found = yield* k.locate<KernelTask>('svc')
      return found.id
    })
    const svc = k.spawn(function* (t) {
      t.kernel.register('svc', t.task)
      yield* t.receive()
    })
    assert.equal(await finder.join(), svc.id)
    assert.equal(k.tryLocate('svc'), svc)
    throwsCode(() => k.register('svc', svc), 'ERR_NAME_TAKEN', /"svc"/)
    svc.send('stop')
    await svc.join()
    assert.equal(k.tryLocate('svc'), undefined)
    await rejectsWith(
      k.locate('missing', { timeout: 50 }),
      'ERR_TIMEOUT',
      /locate\("missing"\) timed out after 50 ms/,
    )
    const ended = k.spawn(() => 1)
    await ended.join()
    throwsCode(() => k.register('late', ended), 'ERR_INVALID_STATE')
    await done(k, clock)
  })

  test('unregister: only the named entity, reports whether it removed', async () => {
    const { k, clock } = setup()
    const a = k.spawn((t) => t.receive())
    const b = k.spawn((t) => t.receive())
    k.register('x', a)
    assert.equal(k.unregister('x', b), false)
    assert.equal(k.unregister('x', a), true)
    assert.equal(k.unregister('x'), false)
    a.cancel()
    b.cancel()
    await Promise.all([a.settle(), b.settle()])
    await done(k, clock)
  })
})
