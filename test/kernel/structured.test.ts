import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CancelledError, KernelTask, TaskFailedError, TimeoutError } from '../../src/kernel/index.js'
import type { ExitNotice, JoinAnyResult, KernelEvent, TaskContext } from '../../src/kernel/index.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

const sleeper = function* (t: TaskContext, ms: number, value: unknown) {
  yield* t.sleep(ms)
  return value
}

describe('structured concurrency', () => {
  test('children end before their parent: its result waits for them', async () => {
    const { k, clock } = setup()
    const log: string[] = []
    const parent = k.spawn(function* (t) {
      t.spawn(function* (t) {
        yield* t.sleep(50)
        log.push(`child ends @${clock.now()}`)
      })
      log.push('parent body returns')
      return 'p'
    })
    assert.equal(await parent.join(), 'p')
    log.push(`parent joined @${clock.now()}`)
    assert.deepEqual(log, ['parent body returns', 'child ends @50', 'parent joined @50'])
    await done(k, clock)
  })

  test('a failed child that is not joined fails its parent (TaskFailedError, cause = child error)', async () => {
    const { k, clock } = setup()
    const boom = new Error('child boom')
    for (const style of ['generator', 'async'] as const) {
      const parent =
        style === 'generator'
          ? k.spawn(function* (t) {
              t.spawn(function* (t) {
                yield* t.sleep(5)
                throw boom
              })
              return 'ignored'
            })
          : k.spawn(async (t) => {
              t.spawn(async (t) => {
                await t.sleep(5)
                throw boom
              })
              return 'ignored'
            })
      const e = await rejectsWith(parent.join(), 'ERR_TASK_FAILED', /child task #\d+ failed: child boom/)
      assert.ok(e instanceof TaskFailedError)
      assert.equal(e.cause, boom)
      assert.equal(parent.status, 'failed')
    }
    await done(k, clock)
  })

  test('a failed child that is joined does not fail its parent', async () => {
    const { k, clock } = setup()
    const parent = k.spawn(function* (t) {
      const c = t.spawn(function* () {
        throw new Error('handled')
      })
      try {
        yield* t.join(c)
      } catch (e) {
        return `caught ${(e as Error).message}`
      }
    })
    assert.equal(await parent.join(), 'caught handled')
    await done(k, clock)
  })

  test('a failing body cancels its live children and keeps its own error', async () => {
    const { k, clock } = setup()
    let child!: KernelTask<unknown>
    const own = new Error('parent fails')
    const parent = k.spawn(async (t) => {
      child = t.spawn(sleeper, [1000, 'never'])
      await t.sleep(1)
      throw own
    })
    await assert.rejects(parent.join(), (e) => e === own)
    assert.equal(child.status, 'cancelled')
    assert.equal(clock.now(), 1)
    await done(k, clock)
  })

  test('an unjoined failed child cancels its siblings when the parent waits for them', async () => {
    const { k, clock } = setup()
    let slow!: KernelTask<unknown>
    const parent = k.spawn(function* (t) {
      slow = t.spawn(sleeper, [1000, 'slow'])
      t.spawn(function* (t) {
        yield* t.sleep(10)
        throw new Error('fast fail')
      })
    })
    await rejectsWith(parent.join(), 'ERR_TASK_FAILED', /fast fail/)
    assert.equal(slow.status, 'cancelled')
    assert.equal(clock.now(), 10)
    await done(k, clock)
  })

  test('cancelling a parent cancels its children (recursively) and their waits reject', async () => {
    const { k, clock } = setup()
    const seen: string[] = []
    let grandchild!: KernelTask<unknown>
    const parent = k.spawn(function* (t) {
      t.spawn(function* (t) {
        grandchild = t.spawn(async (t) => {
          try {
            await t.receive()
          } catch (e) {
            seen.push((e as Error).constructor.name)
            throw e
          }
        })
        yield* t.receive()
      })
      yield* t.receive()
    })
    assert.equal(parent.cancel('shutdown'), true)
    assert.equal(parent.cancel('again'), true)
    const e = await rejectsWith(parent.join(), 'ERR_CANCELLED', /was cancelled: shutdown/)
    assert.ok(e instanceof CancelledError)
    assert.equal(grandchild.status, 'cancelled')
    assert.deepEqual(seen, ['CancelledError'])
    assert.equal(parent.cancel(), false, 'cancel after the end returns false')
    await done(k, clock)
  })

  test('cancel: t.signal aborts with the cancellation error', async () => {
    const { k, clock } = setup()
    let reason: unknown
    const task = k.spawn(async (t) => {
      t.signal.addEventListener('abort', () => {
        reason = t.signal.reason as unknown
      })
      await t.receive()
    })
    task.cancel('because')
    await task.settle()
    assert.ok(reason instanceof CancelledError)
    assert.equal(reason.cause, 'because')
    await done(k, clock)
  })

  test('cancel: a task that catches the cancellation and returns ends done (the race is documented)', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      try {
        yield* t.receive()
      } catch {
        return 'cleaned up'
      }
    })
    task.cancel()
    assert.equal(await task.join(), 'cleaned up')
    assert.equal(task.status, 'done')
    await done(k, clock)
  })

  test('cancel: an AbortError caused by the cancellation (an API given t.signal) ends the task cancelled', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      const { setTimeout: sleepReal } = await import('node:timers/promises')
      await sleepReal(60_000, undefined, { signal: t.signal })
    })
    await new Promise((r) => setImmediate(r))
    task.cancel('user stop')
    const outcome = await task.settle()
    assert.equal(outcome.status, 'cancelled')
    assert.equal(
      ((outcome as { error: Error }).error.cause as Error).message,
      `${task.label} was cancelled: user stop`,
    )
    await done(k, clock)
  })

  test('spawn timeout: cancels with a TimeoutError on the kernel clock', async () => {
    const { k, clock } = setup()
    const task = k.spawn(sleeper, [10_000, 'late'], { timeout: 300, name: 'slow' })
    const e = await rejectsWith(task.join(), 'ERR_TIMEOUT', /task 'slow' #1 timed out after 300 ms/)
    assert.ok(e instanceof TimeoutError)
    assert.equal(task.status, 'cancelled')
    assert.equal(clock.now(), 300)
    await done(k, clock)
  })

  test('spawn signal: aborting cancels; an aborted signal cancels before the first wait', async () => {
    const { k, clock } = setup()
    const ac = new AbortController()
    const task = k.spawn(sleeper, [1000, 'x'], { signal: ac.signal })
    ac.abort('stop now')
    await rejectsWith(task.join(), 'ERR_CANCELLED', /stop now/)
    const early = k.spawn(sleeper, [1000, 'x'], { signal: AbortSignal.abort('already') })
    await rejectsWith(early.join(), 'ERR_CANCELLED', /already/)
    await done(k, clock)
  })

  test('detached tasks outlive their spawner; their unobserved failure is reported as an event', async () => {
    const { k, clock } = setup()
    const events: KernelEvent[] = []
    k.on('unobserved-failure', (e) => events.push(e))
    let detached!: KernelTask<unknown>
    const parent = k.spawn(function* (t) {
      detached = t.spawnDetached(function* (t) {
        yield* t.sleep(100)
        throw new Error('lonely failure')
      })
      return 'parent done'
    })
    assert.equal(await parent.join(), 'parent done')
    assert.equal(detached.status, 'running')
    assert.equal(detached.parent, undefined)
    await clock.advance(0)
    while (detached.status === 'running') await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    assert.equal(events.length, 1)
    const ev = events[0] as Extract<KernelEvent, { type: 'unobserved-failure' }>
    assert.equal(ev.task, detached)
    assert.equal((ev.error as Error).message, 'lonely failure')
    await done(k, clock)
  })

  test('join: joining a task that is not a child, or an unknown id, is a typed error for the caller', async () => {
    const { k, clock } = setup()
    const stranger = k.spawn(sleeper, [5, 's'])
    const task = k.spawn(function* (t) {
      const errors: string[] = []
      try {
        yield* t.join(stranger)
      } catch (e) {
        errors.push((e as { code: string }).code)
      }
      try {
        yield* t.join(9999)
      } catch (e) {
        errors.push((e as { code: string }).code)
      }
      const c = t.spawn(sleeper, [1, 'by id'])
      const byId = yield* t.join<string>(c.id)
      return { errors, byId, stranger: yield* stranger.join() }
    })
    assert.deepEqual(await task.join(), {
      errors: ['ERR_NOT_CHILD', 'ERR_UNKNOWN_TASK'],
      byId: 'by id',
      stranger: 's',
    })
    await done(k, clock)
  })
})

describe('joinAny (COS Join)', () => {
  test('gives finished children oldest-finished first, then undefined when none are left', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      t.spawn(sleeper, [30, 'c'])
      t.spawn(sleeper, [10, 'a'])
      t.spawn(function* (t) {
        yield* t.sleep(20)
        throw new Error('b failed')
      })
      const got: string[] = []
      for (;;) {
        const r: JoinAnyResult | undefined = yield* t.joinAny()
        if (r === undefined) break
        got.push(
          r.status === 'done'
            ? `${r.value as string}@${clock.now()}`
            : `${r.status}:${(r.error as Error).message}`,
        )
      }
      return got
    })
    assert.deepEqual(await task.join(), ['a@10', 'failed:b failed', 'c@30'])
    await done(k, clock)
  })

  test('undefined at once without children; non-blocking undefined when none finished', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      const none = await t.joinAny()
      t.spawn(sleeper, [10, 'x'])
      const notYet = await t.joinAny({ block: false })
      const later = await t.joinAny()
      return [none, notYet, later?.status === 'done' ? later.value : '?']
    })
    assert.deepEqual(await task.join(), [undefined, undefined, 'x'])
    await done(k, clock)
  })

  test('several children finishing at once are all collected, in finish order', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      for (let i = 0; i < 5; i++) t.spawn((_t: TaskContext, n: number) => n, [i])
      const got: unknown[] = []
      for (let r = yield* t.joinAny(); r !== undefined; r = yield* t.joinAny())
        got.push(r.status === 'done' && r.value)
      return got
    })
    assert.deepEqual(await task.join(), [0, 1, 2, 3, 4])
    await done(k, clock)
  })

  test('timeout: rejects with ERR_TIMEOUT', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      t.spawn(sleeper, [100, 'x'])
      yield* t.joinAny({ timeout: 10 })
    })
    await rejectsWith(task.join(), 'ERR_TIMEOUT', /joinAny timed out after 10 ms/)
    await done(k, clock)
  })

  test('bad options are refused', async () => {
    const { k, clock } = setup()
    const task = k.spawn((t) => t.joinAny({ block: 'yes' as never }))
    await rejectsWith(task.join(), 'ERR_INVALID_OPTION', /block/)
    await done(k, clock)
  })
})

describe('throw and monitor', () => {
  test('throw: raised at the current wait, or at the next one', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      const got: string[] = []
      try {
        yield* t.receive()
      } catch (e) {
        got.push(`caught ${(e as Error).message}`)
      }
      // not waiting now: the next wait raises it
      t.task.throw(new Error('second'))
      try {
        yield* t.sleep(5)
      } catch (e) {
        got.push(`caught ${(e as Error).message}`)
      }
      got.push(`then receive ${yield* t.receive<string>()}`)
      return got
    })
    assert.equal(task.throw(new Error('first')), true)
    task.send('ok')
    assert.deepEqual(await task.join(), ['caught first', 'caught second', 'then receive ok'])
    assert.equal(task.throw(new Error('late')), false)
    await done(k, clock)
  })

  test('monitor: an exit notice with status and value or error arrives in the mailbox', async () => {
    const { k, clock } = setup()
    const watcher = k.spawn(function* (t) {
      const ok = t.spawnDetached(sleeper, [10, 'fine'])
      const bad = t.spawnDetached(function* (t) {
        yield* t.sleep(20)
        throw new Error('bad')
      })
      t.monitor(ok)
      t.monitor(bad)
      const a = yield* t.receive<ExitNotice>()
      const b = yield* t.receive<ExitNotice>()
      const done = k.spawn(() => 'already')
      t.monitor(done) // already ended: notice at once
      const c = t.tryReceive<ExitNotice>()
      return [a, b, c].map((n) => [
        n?.task.id,
        n?.status,
        n?.status === 'done' ? n.value : (n?.error as Error).message,
      ])
    })
    assert.deepEqual(await watcher.join(), [
      [2, 'done', 'fine'],
      [3, 'failed', 'bad'],
      [4, 'done', 'already'],
    ])
    await done(k, clock)
  })

  test('demonitor: no notice after it', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      const other = t.spawnDetached(sleeper, [10, 'x'])
      t.monitor(other)
      t.demonitor(other)
      yield* other.join()
      return t.tryReceive()
    })
    assert.equal(await task.join(), undefined)
    await done(k, clock)
  })

  test('monitoring a child observes it: its failure arrives as a notice and does not fail the parent', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      const c = t.spawn(function* (t) {
        yield* t.sleep(5)
        throw new Error('x')
      })
      t.monitor(c)
      const notice = yield* t.receive<ExitNotice>()
      return [notice.status, (notice as { error: Error }).error.message]
    })
    assert.deepEqual(await task.join(), ['failed', 'x'])
    await done(k, clock)
  })

  test("a failed child interrupts the parent's non-join wait at once (TaskFailedError)", async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      t.spawn(function* (t) {
        yield* t.sleep(5)
        throw new Error('child broke')
      })
      try {
        yield* t.receive() // would wait forever
      } catch (e) {
        return `interrupted @${clock.now()}: ${(e as Error).message}`
      }
    })
    assert.match((await task.join()) ?? '', /^interrupted @5: task #1: child task #2 failed: child broke$/)
    await done(k, clock)
  })

  test('a child that failed before the parent waits is raised at its next non-join wait', async () => {
    const { k, clock } = setup()
    const task = k.spawn(async (t) => {
      t.spawn(() => {
        throw new Error('sync failure')
      })
      await t.sleep(1)
      return 'not reached'
    })
    await rejectsWith(task.join(), 'ERR_TASK_FAILED', /sync failure/)
    assert.equal(clock.now(), 0)
    await done(k, clock)
  })

  test('bad input: monitoring a non-task is refused', async () => {
    const { k, clock } = setup()
    const task = k.spawn((t) => t.monitor(42 as never))
    await rejectsWith(task.join(), 'ERR_INVALID_ARGUMENT', /monitored task/)
    throwsCode(() => k.register('', task), 'ERR_INVALID_ARGUMENT')
    await done(k, clock)
  })
})
