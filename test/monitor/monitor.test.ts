// The monitor: options, sources, sampling on a virtual clock, the HTTP routes, the live stream,
// /metrics, and that watching changes nothing about the sources.
import assert from 'node:assert/strict'
import { get } from 'node:http'
import { describe, test } from 'node:test'
import { Boss, Kernel, Pool, TaskosError, VirtualClock, schedulers } from '../../src/index.js'
import { Monitor } from '../../src/monitor/index.js'
import type { MonitorSource } from '../../src/monitor/index.js'
import { add, exit, fail } from '../fixtures/pool-tasks.js'
import { LIMIT, within } from '../pool/helpers.js'

function throwsCode(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TaskosError && e.code === code && pattern.test((e as Error).message))
}

/** The value of one sample line of the Prometheus text, e.g. `taskos_free{source="pool",kind="pool"}`. */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** Reads Server-Sent Events frames from `url` until `until` says it has enough. */
function readStream(url: string, until: (frames: { event: string; data: unknown }[]) => boolean): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const frames: { event: string; data: unknown }[] = []
    const req = get(url, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream')
      let buffer = ''
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) frames.push({ event, data: JSON.parse(data) })
        }
        if (until(frames)) {
          req.destroy()
          resolve(frames)
        }
      })
      res.on('end', () => resolve(frames))
    })
    req.on('error', reject)
  })
}

describe('monitor', () => {
  test('monitor: bad options, names and sources give typed errors naming them', async () => {
    throwsCode(() => new Monitor({}, { port: 70000 }), 'ERR_INVALID_OPTION', /option port: 70000/)
    throwsCode(() => new Monitor({}, { host: '' }), 'ERR_INVALID_OPTION', /option host/)
    throwsCode(() => new Monitor({}, { interval: 5 }), 'ERR_INVALID_OPTION', /option interval: 5 \(expected an integer >= 10\)/)
    throwsCode(() => new Monitor({}, { history: 1 }), 'ERR_INVALID_OPTION', /option history/)
    throwsCode(() => new Monitor({}, { events: 0 }), 'ERR_INVALID_OPTION', /option events/)
    throwsCode(() => new Monitor({}, { processMetrics: 'yes' as unknown as boolean }), 'ERR_INVALID_OPTION', /option processMetrics/)
    throwsCode(() => new Monitor({ x: {} as unknown as MonitorSource }), 'ERR_INVALID_ARGUMENT', /invalid source x: .*expected a Kernel, Pool, Boss or Cluster/)
    const k = new Kernel()
    const m = new Monitor({ k })
    throwsCode(() => m.add('has space', k), 'ERR_INVALID_ARGUMENT', /invalid source name/)
    throwsCode(() => m.add('k', k), 'ERR_NAME_TAKEN', /named k/)
    assert.equal(m.remove('k'), true)
    assert.equal(m.remove('k'), false)
    await m.close()
    await m.close()
    throwsCode(() => m.add('k', k), 'ERR_CLOSED', /closed/)
    await assert.rejects(m.listen(), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_CLOSED')
    await k.close()
  })

  test('monitor: samples on its clock: throughput per source, a bounded history, summaries of a kernel', async () => {
    const clock = new VirtualClock()
    const k = new Kernel()
    const before = k.spawn(() => 'before the monitor')
    await before.join()
    const m = new Monitor({ k }, { clock, interval: 1000, history: 3 })
    try {
      await Promise.all(Array.from({ length: 10 }, (_, i) => k.spawn((_t, x: number) => x, [i]).join()))
      await clock.advance(1000)
      let samples = m.history()
      assert.equal(samples.length, 1)
      assert.equal(samples[0]!.sources.k!.rate, 10, 'ended per second since the monitor started, not counting the past')
      assert.equal(samples[0]!.sources.k!.done, 11)
      const failing = k.spawn(() => {
        throw new Error('boom')
      })
      await failing.settle()
      for (let i = 0; i < 3; i++) await k.spawn(() => i).join()
      await clock.advance(2000)
      samples = m.history()
      assert.equal(samples.length, 3)
      assert.equal(samples[1]!.sources.k!.rate, 4)
      assert.equal(samples[1]!.sources.k!.failed, 1)
      assert.equal(samples[2]!.sources.k!.rate, 0)
      await clock.advance(1000)
      assert.equal(m.history().length, 3, 'at most `history` samples')
      assert.equal(m.history()[0]!.sources.k!.rate, 4, 'the oldest dropped first')
      assert.deepEqual(m.stats(), { sources: 1, samples: 3, events: 0, streams: 0, requests: 0, listening: false })
    } finally {
      await m.close()
      await k.close()
    }
    assert.equal(clock.pending, 0, 'close() clears the sampler')
  })

  test('monitor: a pool source: counts by outcome, crash events, /metrics, every route', { timeout: LIMIT }, async () => {
    const pool = new Pool({ workers: 2 })
    const m = new Monitor({ pool }, { interval: 60_000 })
    try {
      const url = await m.listen()
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'loopback by default')
      assert.equal(await m.listen(), url)
      assert.equal(await pool.run(add, [1, 2]), 3)
      await assert.rejects(async () => pool.run(fail, ['/x']))
      await assert.rejects(async () => pool.run(exit, [3]), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_WORKER_CRASHED')
      await within(
        (async () => {
          while (!m.events().some((e) => e.type === 'worker-exit')) await new Promise((r) => setTimeout(r, 5))
        })(),
        5000,
        'the worker-exit event',
      )

      const snap = (await (await fetch(`${url}api/snapshot`)).json()) as { sources: { pool: { summary: Record<string, unknown>; stats: { completed: number } } } }
      assert.deepEqual(
        { ...snap.sources.pool.summary, capacity: undefined, free: undefined },
        { kind: 'pool', running: 0, queued: 0, done: 1, failed: 1, crashed: 1, cancelled: 0, capacity: undefined, free: undefined },
      )
      assert.equal(snap.sources.pool.stats.completed, 1, "the source's own stats() too")
      const events = (await (await fetch(`${url}api/events`)).json()) as { events: { source: string; type: string; text: string }[] }
      const crash = events.events.find((e) => e.type === 'worker-exit')!
      assert.equal(crash.source, 'pool')
      assert.match(crash.text, /worker \d+ exited \(crashed, code 3\)/)

      const res = await fetch(`${url}metrics`)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
      const text = await res.text()
      assert.equal(metric(text, 'taskos_tasks_ended_total{source="pool",kind="pool",status="done"}'), 1)
      assert.equal(metric(text, 'taskos_tasks_ended_total{source="pool",kind="pool",status="failed"}'), 1)
      assert.equal(metric(text, 'taskos_tasks_ended_total{source="pool",kind="pool",status="crashed"}'), 1)
      assert.equal(metric(text, 'taskos_tasks_running{source="pool",kind="pool"}'), 0)
      assert.match(text, /^# TYPE taskos_tasks_ended_total counter$/m)
      assert.match(text, /^process_cpu_seconds_total \d/m, 'the process metrics too')
      assert.equal(metric(await m.metrics(), 'taskos_tasks_ended_total{source="pool",kind="pool",status="done"}'), 1, 'the same from the API')

      const page = await fetch(url)
      assert.equal(page.status, 200)
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
      assert.match(await page.text(), /<title>taskos monitor<\/title>/)
      assert.match(await (await fetch(`${url}dashboard.js`)).text(), /EventSource\('\/api\/stream'\)/)
      assert.equal(await (await fetch(`${url}healthz`)).text(), 'ok\n')
      const history = (await (await fetch(`${url}api/history`)).json()) as { interval: number; samples: unknown[] }
      assert.deepEqual(history, { interval: 60_000, samples: [] })
      const missing = await fetch(`${url}nothing`)
      assert.equal(missing.status, 404)
      assert.deepEqual(await missing.json(), { error: 'no route /nothing' })
      const post = await fetch(`${url}api/snapshot`, { method: 'POST', body: '{}' })
      assert.equal(post.status, 405)
      assert.equal(post.headers.get('allow'), 'GET, HEAD')
      const head = await fetch(url, { method: 'HEAD' })
      assert.equal(head.status, 200)
      assert.equal(await head.text(), '')
      assert.ok(m.stats().requests >= 10)
    } finally {
      await m.close()
      await pool.destroy()
    }
  })

  test('monitor: the live stream sends samples and events as they happen; close() ends it', { timeout: LIMIT }, async () => {
    const pool = new Pool({ workers: 1 })
    const m = new Monitor({ pool }, { interval: 60_000 })
    try {
      const url = await m.listen()
      const reading = readStream(`${url}api/stream`, (frames) => frames.some((f) => f.event === 'event') && frames.some((f) => f.event === 'sample'))
      while (m.stats().streams === 0) await new Promise((r) => setTimeout(r, 5))
      await pool.run(add, [2, 2])
      m.sample()
      await assert.rejects(async () => pool.run(exit, [4]))
      const frames = await within(reading, 10_000, 'the stream')
      const sample = frames.find((f) => f.event === 'sample')!.data as { sources: { pool: { done: number; rate: number } } }
      assert.equal(sample.sources.pool.done, 1)
      const event = frames.find((f) => f.event === 'event')!.data as { type: string; source: string }
      assert.deepEqual([event.type, event.source], ['worker-exit', 'pool'])

      while (m.stats().streams > 0) await new Promise((r) => setTimeout(r, 5)) // the first one has gone
      const open = readStream(`${url}api/stream`, () => false)
      while (m.stats().streams === 0) await new Promise((r) => setTimeout(r, 5))
      await m.close()
      assert.deepEqual(await within(open, 5000, 'the stream ending'), [])
    } finally {
      await m.close()
      await pool.destroy()
    }
  })

  test('monitor: a batch source: slots, retries as events, outcomes', { timeout: LIMIT }, async () => {
    const boss = new Boss({
      worker: { command: ['sh', '-c', 'exit {code}'] },
      individual: { code: [0, 1, 0] },
      retries: 1,
      backoff: { initial: 1, factor: 1, max: 1 },
      scheduler: schedulers.maxWorkers(2),
    })
    const m = new Monitor({ jobs: boss })
    try {
      boss.end()
      await boss.wait()
      const s = m.snapshot().sources.jobs!.summary
      assert.deepEqual(s, { kind: 'batch', running: 0, queued: 0, done: 2, failed: 1, crashed: 0, cancelled: 0, capacity: 2, free: 2 })
      const retries = m.events().filter((e) => e.type === 'job-retry')
      assert.equal(retries.length, 1)
      assert.match(retries[0]!.text, /^job job-2, attempt 1: command "sh" exited with code 1; runs again in 1 ms$/)
    } finally {
      await m.close()
    }
  })

  test('monitor: watching changes nothing: an unobserved kernel failure still warns', async () => {
    const k = new Kernel()
    const m = new Monitor({ k })
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
    try {
      k.spawn(() => {
        throw new Error('nobody joins me')
      })
      const warning = await within(warned, 5000, 'the warning')
      assert.match(warning.message, /nobody joins me/)
    } finally {
      await m.close()
      await k.close().catch(() => undefined)
    }
  })

  test('monitor: listening on a port in use gives ERR_INVALID_STATE naming the address', async () => {
    const a = new Monitor()
    const url = await a.listen()
    const b = new Monitor({}, { port: Number(new URL(url).port) })
    try {
      await assert.rejects(b.listen(), (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_STATE' && /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/.test((e as Error).message))
    } finally {
      await a.close()
      await b.close()
    }
  })
})
