/**
 * 03-structured: children end before their parent; joinAny collects them as they finish (COS Join);
 * a failing child fails its parent; cancellation and timeouts reach every descendant.
 *
 *   npx tsx examples/03-structured.ts
 */
import { setTimeout as delay } from 'node:timers/promises'
import { Kernel } from '../src/index.js' // in your project: from 'taskos'
import type { TaskContext } from '../src/index.js'

const k = new Kernel()

function* work(t: TaskContext, name: string, ms: number): Generator<unknown, string> {
  yield* t.sleep(ms)
  return name
}

// 1. joinAny: whichever child finishes first comes first; undefined once there are no children.
const finishOrder = await k
  .spawn(function* (t) {
    t.spawn(work, ['slow', 30])
    t.spawn(work, ['fast', 5])
    t.spawn(work, ['medium', 15])
    const order: string[] = []
    for (let r = yield* t.joinAny(); r !== undefined; r = yield* t.joinAny()) {
      if (r.status === 'done') order.push(r.value as string)
    }
    return order
  })
  .join()
console.log('joinAny order:', finishOrder.join(', ')) // fast, medium, slow

// 2. A child that fails, and that nobody joins, fails its parent; its siblings are cancelled.
const parent = k.spawn(
  function* (t) {
    t.spawn(work, ['sibling', 10_000])
    t.spawn(function* (t) {
      yield* t.sleep(5)
      throw new Error('disk full')
    })
    yield* t.sleep(10_000) // interrupted by the child's failure
    return 'never'
  },
  [],
  { name: 'parent' },
)
const outcome = await parent.settle()
if (outcome.status !== 'done') {
  console.log(`parent ${outcome.status}:`, (outcome.error as Error).message)
  // parent failed: task 'parent' #…: child task #… failed: disk full
}

// 3. A timeout cancels the task and all its descendants; t.signal stops non-kernel waits too.
const slow = k.spawn(
  async (t) => {
    t.spawn(work, ['grandchild', 10_000])
    try {
      await delay(10_000, undefined, { signal: t.signal }) // a Node timer, aborted by t.signal
    } catch (error) {
      // an AbortError caused by the cancellation ends the task 'cancelled' too; rethrowing the
      // kernel's own TimeoutError makes the error printed below name the task and the timeout
      t.signal.throwIfAborted()
      throw error
    }
  },
  [],
  { name: 'slow', timeout: 20 },
)
const timedOut = await slow.settle()
console.log(`slow ${timedOut.status}:`, timedOut.status === 'done' ? '' : (timedOut.error as Error).message)
// slow cancelled: task 'slow' #… timed out after 20 ms

console.log('tasks left running:', k.stats().tasks.running) // 0
await k.close()
