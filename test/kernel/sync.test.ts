import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import {
  Barrier,
  CancelledError,
  Condition,
  Event,
  Lock,
  Semaphore,
  TaskosError,
  TimeoutError,
} from '../../src/kernel/index.js'
import type { Kernel, WaitOptions } from '../../src/kernel/index.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

/** Starts `op` now (synchronously) and records how it settles. */
function track<T>(op: PromiseLike<T>): { done: boolean; ok: boolean; value: T | undefined; error: unknown } {
  const s = { done: false, ok: false, value: undefined as T | undefined, error: undefined as unknown }
  op.then(
    (value) => Object.assign(s, { done: true, ok: true, value }),
    (error: unknown) => Object.assign(s, { done: true, ok: false, error }),
  )
  return s
}

function code(error: unknown): string {
  return error instanceof TaskosError ? error.code : String(error)
}

describe('Lock', () => {
  test('lock: tryAcquire, release and locked; releasing a free lock is ERR_INVALID_STATE', () => {
    const lock = new Lock()
    assert.equal(lock.locked, false)
    assert.equal(lock.tryAcquire(), true)
    assert.equal(lock.locked, true)
    assert.equal(lock.tryAcquire(), false)
    lock.release()
    assert.equal(lock.locked, false)
    throwsCode(() => lock.release(), 'ERR_INVALID_STATE', /not locked/)
    assert.deepEqual(lock.stats(), { locked: false, waiting: 0, acquired: 1, contended: 0, withdrawn: 0 })
  })

  test('lock: a free lock is taken at once; a generator task continues without waiting', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const log: string[] = []
    const task = k.spawn(function* () {
      yield* lock.acquire()
      log.push('in')
      lock.release()
    })
    assert.deepEqual(log, ['in']) // ran to the end inside spawn
    await task.join()
    await lock.acquire()
    assert.equal(lock.locked, true)
    await done(k, clock)
  })

  test('lock: waiters get the lock in FIFO order (generator tasks)', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const log: string[] = []
    assert.ok(lock.tryAcquire())
    const tasks = ['a', 'b', 'c'].map((name) =>
      k.spawn(function* (t) {
        yield* lock.acquire()
        log.push(`${name}+${clock.now()}`)
        yield* t.sleep(10)
        log.push(`${name}-`)
        lock.release()
      }),
    )
    await clock.advance(5)
    assert.equal(log.length, 0)
    assert.equal(lock.stats().waiting, 3)
    lock.release()
    await clock.advance(30)
    for (const task of tasks) await task.join()
    assert.deepEqual(log, ['a+5', 'a-', 'b+15', 'b-', 'c+25', 'c-'])
    assert.deepEqual(lock.stats(), { locked: false, waiting: 0, acquired: 4, contended: 3, withdrawn: 0 })
    await done(k, clock)
  })

  test('lock: FIFO across async and generator tasks, in the order their waits begin; no barging', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const order: number[] = []
    assert.ok(lock.tryAcquire())
    const tasks = []
    for (const i of [1, 2, 3, 4]) {
      tasks.push(
        i % 2 === 0
          ? k.spawn(async (t) => {
              await lock.acquire() // `await` begins the wait one microtask later
              order.push(i)
              await t.sleep(1)
              lock.release()
            })
          : k.spawn(function* (t) {
              yield* lock.acquire() // `yield*` begins it at once
              order.push(i)
              yield* t.sleep(1)
              lock.release()
            }),
      )
      await clock.advance(0)
    }
    assert.equal(lock.stats().waiting, 4)
    lock.release()
    assert.equal(lock.locked, true, 'handed to the oldest waiter, not freed')
    assert.equal(lock.tryAcquire(), false, 'no barging while a waiter owns it')
    await clock.advance(10)
    for (const task of tasks) await task.join()
    assert.deepEqual(order, [1, 2, 3, 4])
    assert.equal(lock.locked, false)
    await done(k, clock)
  })

  test('lock: a timed-out acquire rejects with ERR_TIMEOUT and leaves the queue', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    assert.ok(lock.tryAcquire())
    const timed = track(lock.acquire({ timeout: 10 }))
    const later = track(lock.acquire())
    await clock.advance(9)
    assert.equal(timed.done, false)
    await clock.advance(1)
    assert.equal(timed.done, true)
    assert.ok(timed.error instanceof TimeoutError)
    assert.equal(timed.error.code, 'ERR_TIMEOUT')
    assert.match(timed.error.message, /lock acquire timed out after 10 ms/)
    assert.equal(lock.stats().waiting, 1)
    lock.release() // goes to `later`, not to the timed-out waiter
    await clock.advance(0)
    assert.equal(later.done && later.ok, true)
    assert.equal(lock.locked, true)
    lock.release()
    assert.equal(lock.locked, false)
    assert.deepEqual(lock.stats(), { locked: false, waiting: 0, acquired: 2, contended: 2, withdrawn: 1 })
    await done(k, clock)
  })

  test('lock: a generator task catches its acquire timeout; the time is the kernel clock', async () => {
    const { k, clock } = setup()
    const lock = new Lock({ kernel: k })
    assert.ok(lock.tryAcquire())
    const task = k.spawn(function* () {
      try {
        yield* lock.acquire({ timeout: 60_000 })
        return 'acquired'
      } catch (error) {
        return `${code(error)} @${clock.now()}`
      }
    })
    assert.equal(await task.join(), 'ERR_TIMEOUT @60000')
    assert.equal(lock.stats().waiting, 0)
    lock.release()
    assert.equal(lock.locked, false)
    await done(k, clock)
  })

  test('lock: cancelling a generator task blocked in acquire rejects its wait; the lock is not leaked', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const log: string[] = []
    assert.ok(lock.tryAcquire())
    const a = k.spawn(function* () {
      try {
        yield* lock.acquire()
        log.push('a got it')
      } catch (error) {
        log.push(`a: ${code(error)}`)
        throw error
      }
    })
    const b = k.spawn(function* () {
      yield* lock.acquire()
      log.push('b got it')
      lock.release()
    })
    await clock.advance(0)
    assert.equal(lock.stats().waiting, 2)
    assert.equal(a.cancel('stop'), true)
    await rejectsWith(a.join(), 'ERR_CANCELLED', /cancelled: stop/)
    assert.equal(a.status, 'cancelled')
    assert.equal(lock.stats().waiting, 1)
    lock.release()
    await b.join()
    assert.deepEqual(log, ['a: ERR_CANCELLED', 'b got it'])
    assert.equal(lock.locked, false)
    assert.equal(lock.stats().withdrawn, 1)
    await done(k, clock)
  })

  test('lock: a task cancelled right after it was handed the lock still releases it in finally', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const log: string[] = []
    assert.ok(lock.tryAcquire())
    const a = k.spawn(function* (t) {
      yield* lock.acquire()
      try {
        log.push('holding')
        yield* t.sleep(100)
      } finally {
        lock.release()
      }
    })
    await clock.advance(0)
    lock.release() // hands the lock to `a` (resumed later through the run queue)
    a.cancel() // before `a` runs again
    await rejectsWith(a.join(), 'ERR_CANCELLED')
    assert.deepEqual(log, ['holding'])
    assert.equal(lock.locked, false)
    await done(k, clock)
  })

  test('lock: an async task passes t.signal, so cancelling it ends the acquire', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    assert.ok(lock.tryAcquire())
    const a = k.spawn(async (t) => {
      await lock.acquire({ signal: t.signal })
      return 'acquired'
    })
    await clock.advance(0)
    assert.equal(lock.stats().waiting, 1)
    a.cancel()
    const error = await rejectsWith(a.join(), 'ERR_CANCELLED')
    assert.ok(error instanceof CancelledError)
    assert.equal(lock.stats().waiting, 0)
    lock.release()
    assert.equal(lock.locked, false)
    await done(k, clock)
  })

  test('lock: an aborted signal rejects with its reason and removes its listener', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const ac = new AbortController()
    assert.ok(lock.tryAcquire())
    const waiting = track(lock.acquire({ signal: ac.signal }))
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1)
    const reason = new Error('give up')
    ac.abort(reason)
    await clock.advance(0)
    assert.equal(waiting.error, reason)
    assert.equal(lock.stats().waiting, 0)
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
    lock.release()
    // an already aborted signal: rejects even though the lock is free, and does not take it
    const early = new Error('too late')
    await assert.rejects(lock.acquire({ signal: AbortSignal.abort(early) }), (e) => e === early)
    assert.equal(lock.locked, false)
    // a successful acquire and a timeout remove the listener too
    const ac2 = new AbortController()
    await lock.acquire({ signal: ac2.signal, timeout: 50 })
    assert.equal(getEventListeners(ac2.signal, 'abort').length, 0)
    const timed = track(lock.acquire({ signal: ac2.signal, timeout: 5 }))
    assert.equal(getEventListeners(ac2.signal, 'abort').length, 1)
    await clock.advance(5)
    assert.equal(code(timed.error), 'ERR_TIMEOUT')
    assert.equal(getEventListeners(ac2.signal, 'abort').length, 0)
    assert.equal(clock.pending, 0, 'the timeout timer of the first acquire was cleared')
    lock.release()
    await done(k, clock)
  })

  test('lock: bad options are ERR_INVALID_OPTION naming the option; bad arguments ERR_INVALID_ARGUMENT', () => {
    const lock = new Lock()
    throwsCode(() => lock.acquire({ timeout: -1 }), 'ERR_INVALID_OPTION', /timeout: -1/)
    throwsCode(() => lock.acquire({ timeout: '5' as unknown as number }), 'ERR_INVALID_OPTION', /timeout/)
    throwsCode(
      () => lock.acquire({ signal: {} as AbortSignal }),
      'ERR_INVALID_OPTION',
      /option signal: object Object/,
    )
    throwsCode(() => lock.acquire(5 as unknown as WaitOptions), 'ERR_INVALID_ARGUMENT', /options: 5/)
    throwsCode(() => new Lock({ kernel: {} as Kernel }), 'ERR_INVALID_OPTION', /option kernel/)
    throwsCode(() => new Lock(null as unknown as object), 'ERR_INVALID_ARGUMENT', /options: null/)
    assert.equal(lock.locked, false)
  })

  test('lock: an operation is waited once', async () => {
    const lock = new Lock()
    const op = lock.acquire()
    await op
    await op // the settled result again: not a second acquisition
    assert.equal(lock.stats().acquired, 1)
    lock.release()
  })
})

describe('Semaphore', () => {
  test('semaphore: value counts permits; tryAcquire and release; default value 1', () => {
    const one = new Semaphore()
    assert.equal(one.value, 1)
    const sem = new Semaphore(2)
    assert.equal(sem.tryAcquire(), true)
    assert.equal(sem.tryAcquire(), true)
    assert.equal(sem.tryAcquire(), false)
    assert.equal(sem.value, 0)
    assert.equal(sem.locked, true)
    sem.release()
    assert.equal(sem.value, 1)
    assert.deepEqual(sem.stats(), {
      value: 1,
      initial: 2,
      waiting: 0,
      acquired: 2,
      contended: 0,
      withdrawn: 0,
    })
  })

  test('semaphore: bad value is ERR_INVALID_ARGUMENT; bad bounded ERR_INVALID_OPTION', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, '2']) {
      throwsCode(() => new Semaphore(bad as number), 'ERR_INVALID_ARGUMENT', /semaphore value/)
    }
    throwsCode(
      () => new Semaphore(1, { bounded: 'yes' as unknown as boolean }),
      'ERR_INVALID_OPTION',
      /bounded/,
    )
    assert.equal(new Semaphore(0).value, 0)
  })

  test('semaphore: at most `value` holders; permits go to waiters in FIFO order', async () => {
    const { k, clock } = setup(false)
    const sem = new Semaphore(2, { kernel: k })
    const log: string[] = []
    const tasks = []
    for (const [i, name] of ['a', 'b', 'c', 'd', 'e'].entries()) {
      tasks.push(
        i % 2 === 0
          ? k.spawn(function* (t) {
              yield* sem.acquire()
              log.push(`${name}@${clock.now()}`)
              yield* t.sleep(10)
              sem.release()
            })
          : k.spawn(async (t) => {
              await sem.acquire()
              log.push(`${name}@${clock.now()}`)
              await t.sleep(10)
              sem.release()
            }),
      )
      await clock.advance(0)
    }
    assert.equal(sem.stats().waiting, 3)
    await clock.advance(30)
    for (const task of tasks) await task.join()
    assert.deepEqual(log, ['a@0', 'b@0', 'c@10', 'd@10', 'e@20'])
    assert.equal(sem.value, 2)
    assert.deepEqual(sem.stats(), {
      value: 2,
      initial: 2,
      waiting: 0,
      acquired: 5,
      contended: 3,
      withdrawn: 0,
    })
    await done(k, clock)
  })

  test('semaphore: release above the initial value is allowed, unless bounded', () => {
    const sem = new Semaphore(1)
    sem.release()
    assert.equal(sem.value, 2)
    const bounded = new Semaphore(1, { bounded: true })
    throwsCode(() => bounded.release(), 'ERR_INVALID_STATE', /above its initial value 1/)
    assert.ok(bounded.tryAcquire())
    bounded.release()
    assert.equal(bounded.value, 1)
  })

  test('semaphore: a timed-out or cancelled waiter never receives a permit', async () => {
    const { k, clock } = setup(false)
    const sem = new Semaphore(0, { kernel: k })
    const timed = track(sem.acquire({ timeout: 5 }))
    const gen = k.spawn(function* () {
      yield* sem.acquire()
    })
    const last = track(sem.acquire())
    await clock.advance(5)
    assert.equal(code(timed.error), 'ERR_TIMEOUT')
    assert.match((timed.error as Error).message, /semaphore acquire timed out after 5 ms/)
    gen.cancel()
    await rejectsWith(gen.join(), 'ERR_CANCELLED')
    assert.equal(sem.stats().waiting, 1)
    sem.release()
    await clock.advance(0)
    assert.equal(last.ok, true)
    assert.equal(sem.value, 0)
    sem.release()
    assert.equal(sem.value, 1)
    assert.equal(sem.stats().withdrawn, 2)
    await done(k, clock)
  })
})

describe('Event', () => {
  test('event: wait resolves at once while set; a generator task does not even pause', async () => {
    const { k, clock } = setup(false)
    const ev = new Event({ kernel: k })
    assert.equal(ev.isSet, false)
    ev.set()
    assert.equal(ev.isSet, true)
    const log: string[] = []
    const task = k.spawn(function* () {
      yield* ev.wait()
      log.push('passed')
    })
    assert.deepEqual(log, ['passed'])
    await task.join()
    await ev.wait()
    await done(k, clock)
  })

  test('event: set wakes every waiter, oldest first; clear makes later waits park again', async () => {
    const { k, clock } = setup(false)
    const ev = new Event({ kernel: k })
    const log: string[] = []
    const tasks = ['a', 'b', 'c'].map((name) =>
      k.spawn(async () => {
        await ev.wait()
        log.push(name)
      }),
    )
    const gen = k.spawn(function* () {
      yield* ev.wait()
      log.push('gen')
    })
    await clock.advance(0)
    assert.equal(log.length, 0)
    assert.equal(ev.stats().waiting, 4)
    ev.set()
    ev.set() // no-op
    for (const task of [...tasks, gen]) await task.join()
    assert.deepEqual(
      log.filter((x) => x !== 'gen'),
      ['a', 'b', 'c'],
    )
    assert.equal(log.length, 4)
    ev.clear()
    assert.equal(ev.isSet, false)
    const again = track(ev.wait())
    await clock.advance(0)
    assert.equal(again.done, false)
    ev.set()
    await clock.advance(0)
    assert.equal(again.ok, true)
    assert.deepEqual(ev.stats(), { isSet: true, waiting: 0, sets: 2, woken: 5 })
    await done(k, clock)
  })

  test('event: wait times out (ERR_TIMEOUT), aborts with the signal reason, and leaves the waiters', async () => {
    const { k, clock } = setup(false)
    const ev = new Event({ kernel: k })
    const ac = new AbortController()
    const timed = track(ev.wait({ timeout: 20 }))
    const aborted = track(ev.wait({ signal: ac.signal }))
    const task = k.spawn(function* () {
      yield* ev.wait()
    })
    assert.equal(ev.stats().waiting, 3)
    ac.abort('enough')
    await clock.advance(20)
    assert.equal(code(timed.error), 'ERR_TIMEOUT')
    assert.match((timed.error as Error).message, /event wait timed out after 20 ms/)
    assert.equal(aborted.error, 'enough')
    task.cancel()
    await rejectsWith(task.join(), 'ERR_CANCELLED')
    assert.equal(ev.stats().waiting, 0)
    ev.set()
    assert.equal(ev.stats().woken, 0)
    throwsCode(() => ev.wait({ timeout: NaN }), 'ERR_INVALID_OPTION', /timeout/)
    await done(k, clock)
  })
})

describe('Condition', () => {
  test('condition: wait and notify need the lock held; bad arguments are refused', async () => {
    const cond = new Condition()
    await rejectsWith(cond.wait(), 'ERR_INVALID_STATE', /condition wait needs the condition's lock held/)
    await rejectsWith(
      cond.waitFor(() => true),
      'ERR_INVALID_STATE',
      /condition waitFor needs the condition's lock held/,
    )
    throwsCode(() => cond.notify(), 'ERR_INVALID_STATE', /notify needs/)
    throwsCode(() => cond.notifyAll(), 'ERR_INVALID_STATE', /notifyAll needs/)
    assert.ok(cond.tryAcquire())
    throwsCode(() => cond.notify(-1), 'ERR_INVALID_ARGUMENT', /invalid n: -1/)
    throwsCode(() => cond.notify(0.5), 'ERR_INVALID_ARGUMENT', /invalid n/)
    assert.equal(cond.notify(), 0, 'nobody waits')
    throwsCode(() => cond.waitFor('ready' as unknown as () => boolean), 'ERR_INVALID_ARGUMENT', /predicate/)
    throwsCode(() => cond.wait({ timeout: -5 }), 'ERR_INVALID_OPTION', /timeout/)
    throwsCode(() => new Condition({} as Lock), 'ERR_INVALID_ARGUMENT', /invalid lock/)
    throwsCode(
      () => new Condition(undefined, { kernel: 1 as unknown as Kernel }),
      'ERR_INVALID_OPTION',
      /kernel/,
    )
    cond.release()
    assert.equal(cond.locked, false)
  })

  test('condition: wait releases the lock; the woken waiter resumes only once the notifier releases', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const log: string[] = []
    const waiter = k.spawn(function* () {
      yield* cond.acquire()
      log.push('waiting')
      yield* cond.wait()
      log.push(`woken, locked=${cond.locked}`)
      cond.release()
    })
    await clock.advance(0)
    assert.deepEqual(log, ['waiting'])
    assert.equal(cond.locked, false, 'wait released the lock')
    assert.equal(cond.waiting, 1)
    assert.ok(cond.tryAcquire())
    assert.equal(cond.notify(), 1)
    assert.equal(cond.waiting, 0)
    await clock.advance(0)
    assert.deepEqual(log, ['waiting'], 'still waits for the lock')
    cond.release()
    assert.equal(cond.locked, true, 'handed to the woken waiter')
    await waiter.join()
    assert.deepEqual(log, ['waiting', 'woken, locked=true'])
    assert.equal(cond.locked, false)
    assert.deepEqual(cond.stats(), { locked: false, waiting: 0, notified: 1, withdrawn: 0 })
    await done(k, clock)
  })

  test('condition: notify(n) wakes the oldest n, notifyAll the rest; they re-acquire one at a time', async () => {
    const { k, clock } = setup(false)
    const lock = new Lock({ kernel: k })
    const cond = new Condition(lock)
    assert.equal(cond.lock, lock)
    const log: string[] = []
    const tasks = ['a', 'b', 'c', 'd'].map((name) =>
      k.spawn(async (t) => {
        await lock.acquire()
        try {
          await cond.wait()
          log.push(`${name}+`)
          await t.sleep(1) // holds the lock across a wait: the others queue for it
          log.push(`${name}-`)
        } finally {
          lock.release()
        }
      }),
    )
    await clock.advance(0)
    assert.equal(cond.waiting, 4)
    await lock.acquire()
    assert.equal(cond.notify(2), 2)
    assert.equal(cond.waiting, 2)
    lock.release()
    await clock.advance(10)
    assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-'])
    await lock.acquire()
    assert.equal(cond.notifyAll(), 2)
    lock.release()
    await clock.advance(10)
    for (const task of tasks) await task.join()
    assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-', 'd+', 'd-'])
    assert.equal(lock.locked, false)
    await done(k, clock)
  })

  test('condition: a timed-out wait rejects with ERR_TIMEOUT only once it holds the lock again', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const log: string[] = []
    const waiter = k.spawn(async () => {
      await cond.acquire()
      try {
        await cond.wait({ timeout: 10 })
      } catch (error) {
        log.push(`${code(error)} locked=${cond.locked} @${clock.now()}`)
        throw error
      } finally {
        cond.release()
      }
    })
    await clock.advance(0)
    assert.ok(cond.tryAcquire(), 'someone else holds the lock when the timeout fires')
    await clock.advance(15)
    assert.equal(log.length, 0, 'timed out, but waits for the lock before failing')
    assert.equal(cond.waiting, 0)
    assert.equal(cond.notify(), 0, 'the timed-out waiter cannot be notified any more')
    cond.release()
    await rejectsWith(waiter.join(), 'ERR_TIMEOUT', /condition wait timed out after 10 ms/)
    assert.deepEqual(log, ['ERR_TIMEOUT locked=true @15'])
    assert.equal(cond.locked, false)
    assert.deepEqual(cond.stats(), { locked: false, waiting: 0, notified: 0, withdrawn: 1 })
    await done(k, clock)
  })

  test('condition: the timeout bounds the wait for a notification, not the re-acquisition', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    await cond.acquire()
    const w = track(cond.wait({ timeout: 10 }))
    assert.ok(cond.tryAcquire())
    await clock.advance(5)
    cond.notify()
    await clock.advance(15) // holds the lock past the waiter's deadline
    assert.equal(w.done, false)
    assert.equal(clock.pending, 0, 'the timeout timer was cleared by the notify')
    cond.release()
    await clock.advance(0)
    assert.equal(w.ok, true)
    assert.equal(cond.locked, true)
    cond.release()
    await done(k, clock)
  })

  test('condition: waitFor past its deadline when it re-acquires rejects at once, keeping the lock', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    let checks = 0
    await cond.acquire()
    const w = track(
      cond.waitFor(
        () => {
          checks++
          return false
        },
        { timeout: 10 },
      ),
    )
    assert.ok(cond.tryAcquire())
    await clock.advance(5)
    cond.notify()
    await clock.advance(10)
    const other = track(cond.acquire()) // queues behind the notified waiter
    cond.release()
    await clock.advance(0)
    assert.equal(checks, 2)
    assert.equal((w.error as TaskosError).code, 'ERR_TIMEOUT')
    assert.equal(other.done, false, 'the failed waitFor holds the lock; it did not wait again')
    cond.release()
    await clock.advance(0)
    assert.equal(other.ok, true)
    cond.release()
    await done(k, clock)
  })

  test('condition: cancelling a generator task in wait raises the error after re-acquiring the lock', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const log: string[] = []
    const waiter = k.spawn(function* () {
      yield* cond.acquire()
      try {
        yield* cond.wait()
      } catch (error) {
        log.push(`${code(error)} locked=${cond.locked}`)
        throw error
      } finally {
        cond.release()
      }
    })
    await clock.advance(0)
    assert.ok(cond.tryAcquire())
    waiter.cancel()
    await clock.advance(0)
    assert.equal(waiter.status, 'running', 'waits for the lock first')
    assert.equal(log.length, 0)
    cond.release()
    await rejectsWith(waiter.join(), 'ERR_CANCELLED')
    assert.deepEqual(log, ['ERR_CANCELLED locked=true'])
    assert.equal(cond.locked, false, 'the lock is not leaked')
    await done(k, clock)
  })

  test('condition: a notified waiter cancelled while re-acquiring passes the notification on', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const log: string[] = []
    const make = (name: string) =>
      k.spawn(function* () {
        yield* cond.acquire()
        try {
          yield* cond.wait()
          log.push(`${name} woken`)
        } catch (error) {
          log.push(`${name}: ${code(error)}`)
        } finally {
          cond.release()
        }
      })
    const a = make('a')
    const b = make('b')
    await clock.advance(0)
    assert.equal(cond.waiting, 2)
    assert.ok(cond.tryAcquire())
    assert.equal(cond.notify(1), 1)
    assert.equal(cond.waiting, 1)
    a.cancel() // notified, re-acquiring: its notification goes to b
    assert.equal(cond.waiting, 0)
    cond.release()
    await a.join()
    await b.join()
    assert.deepEqual(log, ['a: ERR_CANCELLED', 'b woken'])
    assert.equal(cond.stats().notified, 2)
    assert.equal(cond.locked, false)
    await done(k, clock)
  })

  test('condition: an aborted signal fails the wait after re-acquiring the lock', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const ac = new AbortController()
    await cond.acquire()
    const w = track(cond.wait({ signal: ac.signal }))
    assert.equal(cond.locked, false)
    assert.ok(cond.tryAcquire())
    ac.abort('stop')
    await clock.advance(0)
    assert.equal(w.done, false)
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
    cond.release()
    await clock.advance(0)
    assert.equal(w.error, 'stop')
    assert.equal(cond.locked, true, 'the failed wait holds the lock again')
    cond.release()
    await done(k, clock)
  })

  test('condition: waitFor checks at once, then after each notify, and resolves with the value', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    const items: number[] = []
    let checks = 0
    const consumer = k.spawn(function* () {
      yield* cond.acquire()
      try {
        return yield* cond.waitFor(() => {
          checks++
          return items.shift()
        })
      } finally {
        cond.release()
      }
    })
    await clock.advance(0)
    assert.equal(checks, 1)
    assert.equal(cond.locked, false)
    await cond.acquire()
    cond.notify() // nothing there yet: the consumer checks and waits again
    cond.release()
    await clock.advance(0)
    assert.equal(checks, 2)
    assert.equal(cond.waiting, 1)
    assert.equal(cond.locked, false)
    await cond.acquire()
    items.push(7)
    cond.notify()
    cond.release()
    assert.equal(await consumer.join(), 7)
    assert.equal(checks, 3)
    // true at once: resolves without releasing the lock
    await cond.acquire()
    assert.equal(await cond.waitFor(() => 'now'), 'now')
    assert.equal(cond.locked, true)
    assert.equal(cond.waiting, 0)
    cond.release()
    await done(k, clock)
  })

  test('condition: the waitFor timeout covers the whole wait; a throwing predicate rejects', async () => {
    const { k, clock } = setup(false)
    const cond = new Condition(undefined, { kernel: k })
    let checks = 0
    const waiter = k.spawn(async () => {
      await cond.acquire()
      try {
        await cond.waitFor(
          () => {
            checks++
            return false
          },
          { timeout: 25 },
        )
      } finally {
        cond.release()
      }
    })
    for (const at of [10, 20]) {
      await clock.advance(at - clock.now())
      await cond.acquire()
      cond.notify()
      cond.release()
    }
    await clock.advance(4)
    assert.equal(waiter.status, 'running')
    assert.equal(checks, 3)
    const failed = rejectsWith(waiter.join(), 'ERR_TIMEOUT', /condition waitFor timed out after 25 ms/)
    await clock.advance(1)
    await failed
    assert.equal(clock.now(), 25)
    assert.equal(cond.locked, false)
    const bad = new Error('bad predicate')
    await cond.acquire()
    const thrower = track(
      cond.waitFor(() => {
        if (checks++ > 3) throw bad
        return 0
      }),
    )
    assert.ok(cond.tryAcquire())
    cond.notify()
    cond.release()
    await clock.advance(0)
    assert.equal(thrower.error, bad)
    assert.equal(cond.locked, true, 'rejected with the lock held')
    cond.release()
    await done(k, clock)
  })
})

describe('Barrier', () => {
  test('barrier: parties must be an integer >= 1', () => {
    for (const bad of [0, -2, 1.5, NaN, '3']) {
      throwsCode(() => new Barrier(bad as number), 'ERR_INVALID_ARGUMENT', /barrier parties/)
    }
    const b = new Barrier(3)
    assert.equal(b.parties, 3)
    assert.equal(b.waiting, 0)
  })

  test('barrier: everyone passes once `parties` arrived, each with its arrival index', async () => {
    const { k, clock } = setup(false)
    const barrier = new Barrier(3, { kernel: k })
    const log: string[] = []
    const tasks = [20, 0, 10].map((delay, i) =>
      i === 1
        ? k.spawn(async (t) => {
            await t.sleep(delay)
            const index = await barrier.wait()
            log.push(`${delay}:${index}@${clock.now()}`)
            return index
          })
        : k.spawn(function* (t) {
            yield* t.sleep(delay)
            const index = yield* barrier.wait()
            log.push(`${delay}:${index}@${clock.now()}`)
            return index
          }),
    )
    await clock.advance(15)
    assert.equal(barrier.waiting, 2)
    assert.equal(log.length, 0)
    await clock.advance(5)
    const indices = []
    for (const task of tasks) indices.push(await task.join())
    assert.deepEqual(indices, [2, 0, 1])
    assert.equal(log.length, 3)
    assert.ok(log.every((entry) => entry.endsWith('@20')))
    assert.equal(barrier.waiting, 0)
    await done(k, clock)
  })

  test('barrier: it is cyclic; parties 1 passes at once', async () => {
    const { k, clock } = setup(false)
    const barrier = new Barrier(2, { kernel: k })
    const rounds: number[][] = []
    for (let round = 0; round < 3; round++) {
      const a = track(barrier.wait())
      assert.equal(barrier.waiting, 1)
      const b = track(barrier.wait())
      assert.equal(barrier.waiting, 0)
      await clock.advance(0)
      rounds.push([a.value!, b.value!])
    }
    assert.deepEqual(rounds, [
      [0, 1],
      [0, 1],
      [0, 1],
    ])
    assert.deepEqual(barrier.stats(), { parties: 2, waiting: 0, cycles: 3, withdrawn: 0 })
    assert.equal(await new Barrier(1).wait(), 0)
    await done(k, clock)
  })

  test('barrier: a timed-out or cancelled waiter withdraws; its arrival no longer counts', async () => {
    const { k, clock } = setup(false)
    const barrier = new Barrier(3, { kernel: k })
    const a = track(barrier.wait({ timeout: 5 }))
    const b = track(barrier.wait())
    assert.equal(barrier.waiting, 2)
    await clock.advance(5)
    assert.equal(code(a.error), 'ERR_TIMEOUT')
    assert.match((a.error as Error).message, /barrier wait \(2 of 3 arrived\) timed out after 5 ms/)
    assert.equal(barrier.waiting, 1)
    const c = track(barrier.wait())
    assert.equal(barrier.waiting, 2, 'the timed-out arrival does not count')
    const d = k.spawn(function* () {
      return yield* barrier.wait()
    })
    assert.equal(d.status, 'done', 'the third arrival completes the cycle and passes at once')
    assert.equal(await d.join(), 2)
    await clock.advance(0)
    assert.deepEqual([b.value, c.value], [0, 1])

    const y = k.spawn(function* () {
      return yield* barrier.wait()
    })
    assert.equal(barrier.waiting, 1)
    y.cancel()
    await rejectsWith(y.join(), 'ERR_CANCELLED')
    assert.equal(barrier.waiting, 0)
    const p = track(barrier.wait())
    const q = track(barrier.wait())
    assert.equal(barrier.waiting, 2, 'the cancelled arrival does not count')
    const r = track(barrier.wait())
    await clock.advance(0)
    assert.deepEqual([p.value, q.value, r.value], [0, 1, 2])
    assert.deepEqual(barrier.stats(), { parties: 3, waiting: 0, cycles: 2, withdrawn: 2 })
    await done(k, clock)
  })
})
