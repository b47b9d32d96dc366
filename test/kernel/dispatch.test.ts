import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Kernel, KernelTask, Operation, VirtualClock, job } from '../../src/kernel/index.js'
import type { DispatchResult, Executor, Job, Task, TaskContext, TaskFn } from '../../src/kernel/index.js'
import { runTsx } from '../fixtures/run-tsx.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

const square = function* (t: TaskContext, n: number, ms: number) {
  yield* t.sleep(ms)
  return n * n
}

describe('dispatch (COS Dispatch)', () => {
  test('results come back in job order, whatever the finishing order', async () => {
    const { k, clock } = setup()
    const jobs: Job[] = [5, 1, 4, 2].map((n) => ({ fn: square, args: [n, 10 * n] }))
    assert.deepEqual(await k.dispatch(jobs), [25, 1, 16, 4])
    assert.equal(clock.now(), 50, 'jobs ran concurrently')
    await done(k, clock)
  })

  test('the collector sees { index, job, value } as each finishes; no result list unless asked', async () => {
    const { k, clock } = setup()
    const seen: string[] = []
    const jobs = [3, 1, 2].map((n) => ({ fn: square, args: [n, n] as [number, number], extra: `job${n}` }))
    const collector = (r: DispatchResult<(typeof jobs)[number]>) =>
      seen.push(`${r.index}:${r.value}:${String(r.job.extra)}`)
    assert.equal(await k.dispatch(jobs, { collector }), undefined)
    assert.deepEqual(seen, ['1:1:job1', '2:4:job2', '0:9:job3'])
    seen.length = 0
    assert.deepEqual(await k.dispatch(jobs, { collector, results: true }), [9, 1, 4])
    assert.equal(seen.length, 3)
    await done(k, clock)
  })

  test('a generator of jobs is pulled lazily, as slots free (never materialised up front)', async () => {
    const { k, clock } = setup(false)
    let pulled = 0
    let maxRunning = 0
    let running = 0
    const job = function* (t: TaskContext, n: number) {
      running++
      maxRunning = Math.max(maxRunning, running)
      yield* t.sleep(10)
      running--
      return n
    }
    function* jobs(): Generator<Job> {
      for (let i = 0; i < 10; i++) {
        pulled++
        yield { fn: job, args: [i] }
      }
    }
    const op = k.dispatch(jobs(), { concurrency: 3 })
    await new Promise((r) => setImmediate(r))
    assert.equal(pulled, 3, 'only as many jobs as slots pulled at first')
    await clock.advance(10)
    assert.equal(pulled, 6, 'three more pulled when three slots freed')
    await clock.runAll()
    assert.deepEqual(await op, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.equal(maxRunning, 3)
    assert.equal(clock.now(), 40)
    await done(k, clock)
  })

  test('job(): args checked against the function, extra kept for the collector', async () => {
    const { k, clock } = setup()
    const seen: unknown[] = []
    const jobs = [job(square, [2, 1]), job(square, [3, 2], { extra: 'three' })]
    // @ts-expect-error the arguments must fit the function
    job(square, ['two', 1])
    assert.deepEqual(
      await k.dispatch(jobs, { collector: (r) => seen.push(r.job.extra), results: true }),
      [4, 9],
    )
    assert.deepEqual(seen, [undefined, 'three'])
    await done(k, clock)
  })

  test('async iterables of jobs work too', async () => {
    const { k, clock } = setup()
    async function* jobs(): AsyncGenerator<Job> {
      for (let i = 1; i <= 3; i++) yield { fn: (_t: TaskContext, n: number) => n * 10, args: [i] }
    }
    assert.deepEqual(await k.dispatch(jobs()), [10, 20, 30])
    await done(k, clock)
  })

  test('works from inside a generator task with yield*', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* () {
      const results = yield* k.dispatch([{ fn: square, args: [3, 1] }])
      return results
    })
    assert.deepEqual(await task.join(), [9])
    await done(k, clock)
  })

  test('a failing job rejects the dispatch with the job named, and cancels the others', async () => {
    const { k, clock } = setup()
    const slow: KernelTask<unknown>[] = []
    const jobs: Job[] = [
      { fn: (t: TaskContext) => (slow.push(t.task), t.sleep(1000)) },
      {
        fn: function* failing(t: TaskContext) {
          yield* t.sleep(5)
          throw new Error('job broke')
        },
      },
    ]
    const e = await rejectsWith(
      k.dispatch(jobs),
      'ERR_TASK_FAILED',
      /dispatch: job 1 \(failing\) failed: job broke/,
    )
    assert.equal((e.cause as Error).message, 'job broke')
    assert.equal(slow[0]!.status, 'cancelled')
    assert.equal(clock.now(), 5)
    await done(k, clock)
  })

  test('bad jobs and options are refused with a clear error', async () => {
    const { k, clock } = setup()
    throwsCode(() => k.dispatch(5 as never), 'ERR_INVALID_ARGUMENT', /jobs/)
    throwsCode(() => k.dispatch([], { concurrency: 0 }), 'ERR_INVALID_OPTION', /concurrency: 0/)
    throwsCode(() => k.dispatch([], { collector: 'x' as never }), 'ERR_INVALID_OPTION', /collector/)
    await rejectsWith(k.dispatch([{ fn: 'nope' as never }]), 'ERR_INVALID_ARGUMENT', /job 0/)
    assert.deepEqual(await k.dispatch([]), [])
    await done(k, clock)
  })

  test('the signal option cancels the dispatch and its jobs', async () => {
    const { k, clock } = setup(false)
    const ac = new AbortController()
    const op = k.dispatch([{ fn: square, args: [1, 1000] }], { signal: ac.signal })
    await new Promise((r) => setImmediate(r))
    ac.abort('enough')
    await rejectsWith(op, 'ERR_CANCELLED', /enough/)
    await done(k, clock)
  })
})

/** An executor that runs task functions on another kernel: what a pool or cluster plugs in. */
class KernelExecutor implements Executor {
  readonly inner: Kernel
  runs = 0
  closed = false
  #slots: number
  constructor(slots: number, clock: VirtualClock) {
    this.#slots = slots
    this.inner = new Kernel({ clock })
  }
  slots(): number {
    return this.#slots
  }
  freeSlots(): number {
    return this.#slots - this.inner.stats().tasks.running
  }
  run<A extends unknown[], X>(
    fn: (t: TaskContext, ...args: A) => X,
    args: A,
    options: { signal?: AbortSignal } = {},
  ) {
    this.runs++
    return this.inner.spawn(
      fn as unknown as TaskFn,
      args as unknown as never[],
      options,
    ) as unknown as Task<never>
  }
  async close(): Promise<void> {
    this.closed = true
    await this.inner.close()
  }
}

describe('executors (COS setVM)', () => {
  test('dispatch and offload run on the executor; stats count remote tasks; close closes it', async () => {
    const { k, clock } = setup()
    const executor = new KernelExecutor(2, clock)
    k.setExecutor(executor)
    assert.equal(k.slots(), 2)
    assert.equal(k.freeSlots(), 2)
    const op = k.dispatch([1, 2, 3].map((n) => ({ fn: square, args: [n, 10] })))
    await new Promise((r) => setImmediate(r))
    assert.equal(k.stats().remote, 2, 'concurrency defaults to the executor slots')
    throwsCode(() => k.setExecutor(undefined), 'ERR_INVALID_STATE', /remote task/)
    assert.deepEqual(await op, [1, 4, 9])
    assert.equal(executor.runs, 3)
    const offloaded = k.spawn((t) => t.offload(square, [7, 1]))
    assert.equal(await offloaded.join(), 49)
    await new Promise((r) => setImmediate(r))
    assert.equal(k.stats().remote, 0)
    await k.close()
    assert.equal(executor.closed, true)
  })

  test('cancelling a task cancels the work it offloaded', async () => {
    const { k, clock } = setup(false)
    const executor = new KernelExecutor(1, clock)
    k.setExecutor(executor)
    const task = k.spawn((t) => t.offload(square, [2, 10_000]))
    await new Promise((r) => setImmediate(r))
    task.cancel('no longer needed')
    await rejectsWith(task.join(), 'ERR_CANCELLED')
    await new Promise((r) => setImmediate(r))
    assert.equal(executor.inner.stats().tasks.cancelled, 1)
    await done(k, clock)
  })

  test('a failing job on an executor: the dispatch settles only after the cancelled jobs ended', async () => {
    const { k, clock } = setup(false)
    const executor = new KernelExecutor(2, clock)
    k.setExecutor(executor)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let stubbornEnded = false
    const stubborn = async () => {
      await gate // a plain promise: cancellation cannot interrupt it
      stubbornEnded = true
      return 1
    }
    const failing = () => {
      throw new Error('job broke')
    }
    let settled = false
    const op = k.dispatch([{ fn: stubborn }, { fn: failing }])
    const watched = op.then(
      () => (settled = true),
      (e: unknown) => ((settled = true), e),
    )
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    assert.equal(settled, false, 'the dispatch waits for the cancelled remote job')
    release()
    const e = (await watched) as Error & { code: string }
    assert.equal(e.code, 'ERR_TASK_FAILED')
    assert.match(e.message, /job 1 \(failing\) failed: job broke/)
    assert.equal(stubbornEnded, true)
    await done(k, clock)
  })

  test('spawn with remote: true runs the body on the executor behind a local child handle (COS remote spawn)', async () => {
    const { k, clock } = setup()
    const executor = new KernelExecutor(2, clock)
    k.setExecutor(executor)
    const echo = function* (t: TaskContext) {
      const m = yield* t.receive<{ from: Task; n: number }>()
      t.send(m.from, m.n * 2)
      return 'echoed'
    }
    const parent = k.spawn(function* (t) {
      const sq = t.spawn(square, [3, 10], { remote: true })
      const ec = t.spawn(echo, [], { remote: true })
      assert.equal(t.kernel.stats().remote, 2, 'both run on the executor')
      ec.send({ from: t.task, n: 21 }) // forwarded to the remote task
      const reply = yield* t.receive<number>()
      return [yield* t.join(sq), reply, yield* t.join(ec), sq.name]
    })
    assert.deepEqual(await parent.join(), [9, 42, 'echoed', 'square'])
    assert.equal(executor.runs, 2)
    await done(k, clock)
  })

  test('remote spawn: a remote failure fails the handle with the same error; cancel reaches the remote task', async () => {
    const { k, clock } = setup(false)
    const executor = new KernelExecutor(2, clock)
    k.setExecutor(executor)
    const failure = new RangeError('remote broke')
    const failing = () => {
      throw failure
    }
    const joined = k.spawn(async (t) => t.join(t.spawn(failing, [], { remote: true })))
    await assert.rejects(joined.join(), (e) => e === failure)
    // unjoined: the failure fails the parent, as for a local child
    const parent = k.spawn(async (t) => {
      t.spawn(failing, [], { remote: true })
      await t.sleep(10_000)
    })
    await rejectsWith(parent.join(), 'ERR_TASK_FAILED', /remote broke/)
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const stubborn = async (t: TaskContext) => {
      await gate // a plain promise: the cancellation is seen only after it
      t.signal.throwIfAborted()
    }
    const slow = k.spawn(stubborn, [], { remote: true })
    await new Promise((r) => setImmediate(r))
    assert.equal(executor.inner.stats().tasks.running, 1)
    slow.cancel('enough')
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    assert.equal(slow.status, 'running', 'the handle waits for the cancelled remote task')
    release()
    await rejectsWith(slow.join(), 'ERR_CANCELLED')
    assert.equal(executor.inner.stats().tasks.running, 0, 'the remote task ended before its handle')
    assert.equal(executor.inner.stats().tasks.cancelled, 1)
    await done(k, clock)
  })

  test('remote spawn without an executor, or with a bad remote option, is refused', async () => {
    const { k, clock } = setup()
    throwsCode(() => k.spawn(square, [1, 1], { remote: true }), 'ERR_NO_EXECUTOR', /remote spawn of square/)
    throwsCode(() => k.spawn(square, [1, 1], { remote: 'yes' as never }), 'ERR_INVALID_OPTION', /remote/)
    await done(k, clock)
  })

  test('setExecutor refuses things that are not executors', async () => {
    const { k, clock } = setup()
    throwsCode(() => k.setExecutor({} as never), 'ERR_INVALID_ARGUMENT', /executor/)
    await done(k, clock)
  })
})

describe('operations', () => {
  test('Operation.from turns a promise into a wait usable with yield* and await', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* () {
      const a = yield* Operation.from(Promise.resolve(20))
      const b = yield* Operation.from(new Promise<number>((r) => setTimeout(() => r(22), 1)))
      return a + b
    })
    assert.equal(await task.join(), 42)
    assert.equal(await Operation.from(Promise.resolve('x')), 'x')
    const failure = new Error('rejected')
    await assert.rejects(Operation.from(Promise.reject(failure)), (e) => e === failure)
    await done(k, clock)
  })

  test('operations pass for promises: Promise.all, finally, toString tag', async () => {
    const { k, clock } = setup()
    const a = k.spawn(() => 1)
    const b = k.spawn(async () => 2)
    assert.deepEqual(await Promise.all([a.join(), b.join()]), [1, 2])
    let fin = false
    assert.equal(
      await k
        .spawn(() => 3)
        .join()
        .finally(() => (fin = true)),
      3,
    )
    assert.equal(fin, true)
    assert.equal(Object.prototype.toString.call(a.join()), '[object Operation]')
    await done(k, clock)
  })
})

describe('operations keep promise semantics', () => {
  test('then chains on the callback result, also when chained after the operation settled', async () => {
    const { k, clock } = setup()
    const task = k.spawn(() => 20)
    const chained = task.join().then((v) => v + 1)
    assert.equal(await chained.then((v) => v * 2), 42)
    const late = task.join().then((v) => `late ${v}`)
    await new Promise((r) => setImmediate(r))
    assert.equal(await late, 'late 20')
    const thenable = task.join().then((v) => Promise.resolve(v + 2))
    await new Promise((r) => setImmediate(r))
    assert.equal(await thenable, 22)
    await done(k, clock)
  })

  test('callbacks never run synchronously, and a throwing callback rejects the chained promise', async () => {
    const { k, clock } = setup()
    const task = k.spawn(() => 'v')
    await task.join()
    const order: string[] = []
    const p = task.join().then(() => {
      order.push('callback')
      throw new Error('from callback')
    })
    order.push('after then')
    await assert.rejects(p, /from callback/)
    assert.deepEqual(order, ['after then', 'callback'])
    await done(k, clock)
  })

  test('several awaiters of one operation all get its outcome; catch and finally work', async () => {
    const { k, clock } = setup()
    const task = k.spawn(function* (t) {
      yield* t.sleep(5)
      throw new Error('nope')
    })
    const op = task.join()
    const results = await Promise.allSettled([
      op,
      op.then(() => 'x'),
      op.catch((e) => `caught ${(e as Error).message}`),
    ])
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['nope', 'nope', 'caught nope'],
    )
    let finalized = false
    await assert.rejects(
      op.finally(() => (finalized = true)),
      /nope/,
    )
    assert.equal(finalized, true)
    await done(k, clock)
  })

  test('a failure nobody handles surfaces as an unhandled rejection, as with promises', async () => {
    // node:test intercepts unhandled rejections itself, so this runs in a child process
    const r = await runTsx('test/fixtures/unhandled-operation.ts')
    assert.equal(r.stdout.trim(), 'unhandled: ignored failure | handled late: no report')
    assert.equal(r.code, 0, r.stderr)
  })
})
