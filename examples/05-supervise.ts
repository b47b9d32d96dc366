/**
 * 05-supervise: a supervised service restarted after it crashes, reached by name across restarts,
 * and a monitor that gets an exit notice in its mailbox.
 *
 *   npx tsx examples/05-supervise.ts
 */
import { Kernel } from '../src/index.js' // in your project: from 'taskos'
import type { ExitNotice, Task, TaskContext } from '../src/index.js'

type Command = { op: 'add'; n: number } | { op: 'get'; from: Task } | { op: 'boom' }

const k = new Kernel()

// A counter service. Its state lives in the task, so a restart starts again from zero.
function* counter(t: TaskContext): Generator<unknown, void> {
  let total = 0
  for (;;) {
    const m = yield* t.receive<Command>()
    if (m.op === 'add') total += m.n
    else if (m.op === 'get') m.from.send(total)
    else throw new Error('counter crashed')
  }
}

// The supervisor registers each instance under 'counter' and restarts it when it fails.
const supervisor = k.supervise([{ fn: counter, name: 'counter' }], {
  strategy: 'one-for-one',
  maxRestarts: 3,
  within: 1000,
})

const client = k.spawn(async (t) => {
  // locate waits until something is registered under the name (a restart takes a moment).
  const ask = async (): Promise<number> => {
    t.send(await k.locate<Task>('counter', { timeout: 1000 }), { op: 'get', from: t.task })
    return t.receive<number>({ timeout: 1000 })
  }
  const first = await k.locate<Task>('counter')
  t.monitor(first) // its exit notice will arrive in our mailbox
  t.send('counter', { op: 'add', n: 5 })
  t.send('counter', { op: 'add', n: 7 })
  console.log('total before the crash:', await ask()) // 12

  t.send('counter', { op: 'boom' })
  const notice = await t.receive<ExitNotice>({ filter: (m) => (m as ExitNotice).type === 'exit' })
  console.log(`monitor: counter #${notice.task.id} ${notice.status}`) // failed

  const second = await k.locate<Task>('counter', { timeout: 1000 })
  console.log(`restarted as #${second.id}; total after the restart:`, await ask()) // 0
})
await client.join()

supervisor.cancel('shutting down')
console.log('supervisor:', (await supervisor.settle()).status) // cancelled
await k.close()
