/**
 * 06-channels: publish-subscribe through a Channel registered under a name (deliver waits for
 * subscribers), then the synchronisation primitives together: an Event to start at once, a
 * Semaphore to bound concurrency, a Barrier between two phases, a Lock around shared state.
 *
 *   npx tsx examples/06-channels.ts
 */
import { Barrier, Channel, Event, Kernel, Lock, Semaphore } from '../src/index.js' // in your project: from 'taskos'
import type { TaskContext } from '../src/index.js'

const k = new Kernel()

// 1. A channel registered as 'news': t.send('news', …) reaches every subscribed task.
const news = new Channel<string>('news', { kernel: k })
k.register('news', news)

function* reader(t: TaskContext, name: string): Generator<unknown, string> {
  news.subscribe(t.task)
  const seen: string[] = []
  for (;;) {
    const m = yield* t.receive<string>()
    if (m === 'end') return `${name} read: ${seen.join(', ')}`
    seen.push(m)
  }
}

const editor = k.spawn(function* (t) {
  // waits until three readers have subscribed, then sends; resolves with the mailboxes reached
  const reached = yield* news.deliver('first edition', { n: 3, timeout: 1000 })
  t.send('news', 'second edition')
  t.send('news', 'end')
  return reached
})
const readers = ['ann', 'bob', 'cy'].map((name) => k.spawn(reader, [name]))
console.log(`first edition reached ${await editor.join()} readers`) // 3
for (const r of readers) console.log(await r.join()) // ann read: first edition, second edition …
news.close()
k.unregister('news')

// 2. Four workers: they start together (Event), at most two work at once (Semaphore), all finish
//    phase 1 before any starts phase 2 (Barrier), and phase 2 updates a shared total (Lock).
const start = new Event({ kernel: k })
const slots = new Semaphore(2, { kernel: k })
const phases = new Barrier(4, { kernel: k })
const lock = new Lock({ kernel: k })
let running = 0
let peak = 0
let total = 0

// async tasks pass t.signal to every wait, so that cancelling them (k.close()) ends the waits
async function worker(t: TaskContext, ms: number): Promise<void> {
  await start.wait({ signal: t.signal })
  await slots.acquire({ signal: t.signal })
  try {
    peak = Math.max(peak, ++running)
    await t.sleep(ms) // phase 1
  } finally {
    running--
    slots.release()
  }
  await phases.wait({ signal: t.signal })
  await lock.acquire({ signal: t.signal })
  try {
    const before = total
    await t.sleep(1) // a read-modify-write across a wait: safe only under the lock
    total = before + ms
  } finally {
    lock.release()
  }
}

const workers = [20, 5, 15, 10].map((ms) => k.spawn(worker, [ms]))
start.set()
for (const w of workers) await w.join()
console.log(`peak concurrency ${peak}, total ${total}, barrier cycles ${phases.stats().cycles}`)
// peak concurrency 2, total 50, barrier cycles 1

await k.close()
