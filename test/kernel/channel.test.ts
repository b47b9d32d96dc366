import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import { Channel, Kernel, TaskosError, TimeoutError } from '../../src/kernel/index.js'
import type { DeliverOptions, KernelTask, Task } from '../../src/kernel/index.js'
import { done, rejectsWith, setup, throwsCode } from './helpers.js'

/** A task that collects every message until 'stop', then returns them. */
function collector(k: Kernel): KernelTask<unknown[]> {
  return k.spawn(function* (t) {
    const got: unknown[] = []
    for (;;) {
      const message = yield* t.receive()
      if (message === 'stop') return got
      got.push(message)
    }
  })
}

async function stop(...tasks: KernelTask<unknown[]>[]): Promise<unknown[][]> {
  const out: unknown[][] = []
  for (const task of tasks) {
    task.send('stop')
    out.push(await task.join())
  }
  return out
}

/** Starts `op` now (synchronously) and records how it settles. */
function track<T>(op: PromiseLike<T>): { done: boolean; ok: boolean; value: T | undefined; error: unknown } {
  const s = { done: false, ok: false, value: undefined as T | undefined, error: undefined as unknown }
  op.then(
    (value) => Object.assign(s, { done: true, ok: true, value }),
    (error: unknown) => Object.assign(s, { done: true, ok: false, error }),
  )
  return s
}

describe('Channel', () => {
  test('channel: send puts a copy into every subscriber mailbox and returns how many got it', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('news', { kernel: k })
    assert.equal(ch.name, 'news')
    assert.equal(ch.send('nobody listens'), 0)
    const got: string[] = []
    const readers = [
      k.spawn(function* (t) {
        ch.subscribe(t.task)
        got.push(`gen:${yield* t.receive<string>()}`)
      }),
      k.spawn(async (t) => {
        ch.subscribe(t.task)
        got.push(`async:${await t.receive<string>()}`)
      }),
    ]
    const plain = collector(k)
    assert.equal(ch.subscribe(plain), true)
    assert.equal(ch.subscribe(plain), false, 'subscribing twice is a no-op')
    assert.equal(ch.subscribers, 3)
    assert.equal(ch.send('hi'), 3)
    for (const r of readers) await r.join()
    assert.deepEqual(got.sort(), ['async:hi', 'gen:hi'])
    assert.deepEqual(await stop(plain), [['hi']], 'one copy despite the double subscribe')
    await done(k, clock)
  })

  test('channel: unsubscribe stops delivery; ended subscribers are dropped automatically', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<number>(undefined, { kernel: k })
    const once = k.spawn(function* (t) {
      return yield* t.receive<number>()
    })
    const twice = k.spawn(function* (t) {
      return (yield* t.receive<number>()) + (yield* t.receive<number>())
    })
    const quitter = collector(k)
    ch.subscribe(once)
    ch.subscribe(twice)
    ch.subscribe(quitter)
    assert.equal(ch.send(1), 3)
    assert.equal(ch.unsubscribe(quitter), true)
    assert.equal(ch.unsubscribe(quitter), false)
    assert.equal(await once.join(), 1)
    assert.equal(ch.stats().subscribers, 2, 'stats does not prune')
    assert.equal(ch.subscribers, 1, 'the ended task is dropped')
    assert.equal(ch.send(2), 1)
    assert.equal(await twice.join(), 3)
    assert.equal(ch.send(3), 0, 'the ended task is dropped when a message finds it gone')
    assert.equal(ch.stats().subscribers, 0)
    assert.deepEqual(await stop(quitter), [[1]], 'nothing after unsubscribe')
    throwsCode(() => ch.subscribe(once), 'ERR_INVALID_STATE', /task #1 has ended \(done\)/)
    await done(k, clock)
  })

  test('channel: a subscribed channel forwards to its subscribers; they count as recipients', async () => {
    const { k, clock } = setup(false)
    const all = new Channel<string>('all', { kernel: k })
    const sports = new Channel<string>('sports', { kernel: k })
    const fan = collector(k)
    const reader = collector(k)
    sports.subscribe(fan)
    all.subscribe(sports)
    all.subscribe(reader)
    assert.equal(all.subscribers, 2)
    assert.equal(all.send('everything'), 2)
    assert.equal(sports.send('goal'), 1)
    sports.close()
    assert.equal(all.send('after close'), 1, 'the closed channel is dropped')
    assert.equal(all.subscribers, 1)
    assert.deepEqual(await stop(fan, reader), [
      ['everything', 'goal'],
      ['everything', 'after close'],
    ])
    await done(k, clock)
  })

  test('channel: subscriptions that would make a forwarding cycle are refused', async () => {
    const { k, clock } = setup(false)
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => new Channel<string>(name, { kernel: k })) as [
      Channel<string>,
      Channel<string>,
      Channel<string>,
      Channel<string>,
    ]
    throwsCode(() => a.subscribe(a), 'ERR_INVALID_ARGUMENT', /channel "a": subscribing itself would make a/)
    a.subscribe(b)
    b.subscribe(c)
    throwsCode(
      () => b.subscribe(a),
      'ERR_INVALID_ARGUMENT',
      /subscribing channel "a" would make a forwarding cycle/,
    )
    throwsCode(() => c.subscribe(a), 'ERR_INVALID_ARGUMENT', /forwarding cycle/)
    throwsCode(() => c.subscribe(b), 'ERR_INVALID_ARGUMENT', /forwarding cycle/)
    // a diamond is no cycle: a → b → c → d and a → d; the task gets one copy per path
    c.subscribe(d)
    a.subscribe(d)
    const sink = collector(k)
    d.subscribe(sink)
    assert.equal(a.send('x'), 2)
    assert.equal(b.subscribers, 1)
    assert.deepEqual(await stop(sink), [['x', 'x']])
    await done(k, clock)
  })

  test('channel: deliver waits until n subscribers, then sends and resolves with the count', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('jobs', { kernel: k })
    const d = track(ch.deliver('job', { n: 3 }))
    await clock.advance(0)
    assert.equal(d.done, false)
    assert.equal(ch.stats().delivering, 1)
    const first = collector(k)
    ch.subscribe(first)
    const d2 = track(ch.deliver('job2', { n: 2 })) // starts with one subscriber: waits too
    await clock.advance(0)
    assert.equal(d.done || d2.done, false, 'one subscriber is not enough')
    assert.equal(first.mailboxSize, 0, 'nothing sent yet')
    const second = collector(k)
    ch.subscribe(second)
    await clock.advance(0)
    assert.equal(d.done, false)
    assert.equal(d2.value, 2)
    assert.equal(ch.stats().delivering, 1)
    const third = collector(k)
    ch.subscribe(third)
    await clock.advance(0)
    assert.equal(d.value, 3)
    assert.equal(ch.stats().delivering, 0)
    // with enough subscribers it sends at once; n = 0 never waits
    assert.equal(await ch.deliver('now'), 3)
    assert.equal(await new Channel<string>('empty', { kernel: k }).deliver('lost', { n: 0 }), 0)
    assert.deepEqual(await stop(first, second, third), [
      ['job2', 'job', 'now'],
      ['job2', 'job', 'now'],
      ['job', 'now'],
    ])
    await done(k, clock)
  })

  test('channel: deliver from a generator task; pending deliveries complete in order', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('queue', { kernel: k })
    const producer = k.spawn(function* () {
      const n1 = yield* ch.deliver('one')
      return n1
    })
    const second = track(ch.deliver('two'))
    const later = track(ch.deliver('three', { n: 2 }))
    await clock.advance(0)
    assert.equal(ch.stats().delivering, 3)
    const sink = collector(k)
    ch.subscribe(sink) // enough for 'one' and 'two', not for 'three'
    assert.equal(await producer.join(), 1)
    await clock.advance(0)
    assert.equal(second.value, 1)
    assert.equal(later.done, false)
    const other = collector(k)
    ch.subscribe(other)
    await clock.advance(0)
    assert.equal(later.value, 2)
    assert.deepEqual(await stop(sink, other), [['one', 'two', 'three'], ['three']])
    await done(k, clock)
  })

  test('channel: a subscribed channel counts for deliver too', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('top', { kernel: k })
    const sub = new Channel<string>('sub', { kernel: k })
    const d = track(ch.deliver('m'))
    const a = collector(k)
    const b = collector(k)
    sub.subscribe(a)
    sub.subscribe(b)
    ch.subscribe(sub)
    await clock.advance(0)
    assert.equal(d.value, 2, 'the forwarding channel is one subscriber that reaches two tasks')
    assert.deepEqual(await stop(a, b), [['m'], ['m']])
    await done(k, clock)
  })

  test('channel: a deliver that times out, aborts or is cancelled is withdrawn and never sent', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('jobs', { kernel: k })
    const timed = track(ch.deliver('late', { timeout: 10 }))
    const ac = new AbortController()
    const aborted = track(ch.deliver('aborted', { signal: ac.signal }))
    const producer = k.spawn(function* () {
      yield* ch.deliver('cancelled')
    })
    assert.equal(ch.stats().delivering, 3)
    ac.abort(new Error('no'))
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
    producer.cancel()
    await rejectsWith(producer.join(), 'ERR_CANCELLED')
    await clock.advance(10)
    assert.ok(timed.error instanceof TimeoutError)
    assert.match(
      timed.error.message,
      /deliver on channel "jobs" \(waiting for 1 subscribers, 0 now\) timed out after 10 ms/,
    )
    assert.equal((aborted.error as Error).message, 'no')
    assert.equal(ch.stats().delivering, 0)
    const sink = collector(k)
    ch.subscribe(sink)
    assert.equal(ch.send('fresh'), 1)
    assert.deepEqual(await stop(sink), [['fresh']])
    await done(k, clock)
  })

  test('channel: close rejects pending deliveries with ERR_CLOSED; send, deliver, subscribe then fail', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('news', { kernel: k })
    const sink = collector(k)
    const pending = track(ch.deliver('x', { n: 2 }))
    ch.subscribe(sink)
    await clock.advance(0)
    ch.close()
    ch.close() // idempotent
    assert.equal(ch.closed, true)
    await clock.advance(0)
    assert.ok(pending.error instanceof TaskosError)
    assert.equal(pending.error.code, 'ERR_CLOSED')
    assert.match(pending.error.message, /channel "news" was closed/)
    throwsCode(() => ch.send('y'), 'ERR_CLOSED', /channel "news" is closed: cannot send/)
    throwsCode(() => ch.subscribe(sink), 'ERR_CLOSED', /cannot subscribe/)
    await rejectsWith(ch.deliver('z', { n: 0 }), 'ERR_CLOSED')
    throwsCode(() => new Channel('open', { kernel: k }).subscribe(ch), 'ERR_INVALID_STATE', /is closed/)
    assert.equal(ch.subscribers, 0, 'closing drops the subscribers')
    assert.deepEqual(await stop(sink), [[]])
    await done(k, clock)
  })

  test('channel: registered under a name, it is reached by t.send(name, message)', async () => {
    const { k, clock } = setup()
    const ch = new Channel<string>('news', { kernel: k })
    k.register('news', ch)
    assert.equal(await k.locate('news'), ch)
    const early = k.spawn((t) => t.send('news', 'nobody yet'))
    assert.equal(await early.join(), false, 'no subscriber: not delivered')
    const readers = [collector(k), collector(k)]
    for (const r of readers) ch.subscribe(r)
    const sender = k.spawn(function* (t) {
      return t.send('news', 'headline')
    })
    assert.equal(await sender.join(), true)
    assert.deepEqual(await stop(...readers), [['headline'], ['headline']])
    ch.close()
    const afterClose = k.spawn((t) => t.send('news', 'too late'))
    await rejectsWith(afterClose.join(), 'ERR_CLOSED')
    assert.equal(k.unregister('news', ch), true)
    await done(k, clock)
  })

  test('channel: any Task can subscribe (send/status); bad input is refused', () => {
    const received: unknown[] = []
    let status: Task['status'] = 'running'
    const remote = {
      id: 99,
      name: undefined,
      get status() {
        return status
      },
      send: (m: unknown) => (status === 'running' ? received.push(m) > 0 : false),
    } as unknown as Task
    const ch = new Channel<number>()
    ch.subscribe(remote)
    assert.equal(ch.send(5), 1)
    status = 'done'
    assert.equal(ch.subscribers, 0)
    assert.deepEqual(received, [5])
    throwsCode(() => ch.subscribe(remote), 'ERR_INVALID_STATE', /task #99 has ended \(done\)/)

    throwsCode(() => new Channel(42 as unknown as string), 'ERR_INVALID_ARGUMENT', /channel name: 42/)
    throwsCode(
      () => new Channel('x', { kernel: 'k' as unknown as Kernel }),
      'ERR_INVALID_OPTION',
      /option kernel/,
    )
    throwsCode(() => ch.subscribe(42 as unknown as Task), 'ERR_INVALID_ARGUMENT', /invalid subscriber: 42/)
    throwsCode(() => ch.subscribe({} as Task), 'ERR_INVALID_ARGUMENT', /invalid subscriber/)
    for (const n of [-1, 1.5, '2']) {
      throwsCode(() => ch.deliver(1, { n } as unknown as DeliverOptions), 'ERR_INVALID_OPTION', /option n/)
    }
    throwsCode(() => ch.deliver(1, { timeout: -1 }), 'ERR_INVALID_OPTION', /option timeout/)
    throwsCode(
      () => ch.deliver(1, { signal: 'x' as unknown as AbortSignal }),
      'ERR_INVALID_OPTION',
      /option signal/,
    )
    assert.equal(ch.stats().delivering, 0)
  })

  test('channel: stats are plain counters', async () => {
    const { k, clock } = setup(false)
    const ch = new Channel<string>('s', { kernel: k })
    const a = collector(k)
    const b = collector(k)
    ch.subscribe(a)
    ch.subscribe(b)
    ch.send('1')
    ch.send('2')
    const pending = track(ch.deliver('3', { n: 3 }))
    const stats = ch.stats()
    assert.deepEqual(stats, { name: 's', subscribers: 2, sent: 2, received: 4, delivering: 1, closed: false })
    assert.deepEqual(JSON.parse(JSON.stringify(stats)), stats)
    assert.equal(new Channel().stats().name, null)
    ch.close()
    await clock.advance(0)
    assert.equal((pending.error as TaskosError).code, 'ERR_CLOSED')
    const disposable = new Channel('d', { kernel: k })
    disposable[Symbol.dispose]()
    assert.equal(disposable.closed, true)
    await stop(a, b)
    await done(k, clock)
  })
})
