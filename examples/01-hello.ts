/**
 * 01-hello: spawn a task, send it a message, join it, in both task styles.
 *
 *   npx tsx examples/01-hello.ts
 */
import { Kernel } from '../src/index.js' // in your project: from 'taskos'

const k = new Kernel()

// The light form: a generator body, driven by the kernel itself. Kernel waits are `yield*`ed.
const doubler = k.spawn(function* (t) {
  const n = yield* t.receive<number>()
  return n * 2
})

// The same operations in an async body are awaited. Arguments after the context are typed from the
// function: `['Hello']` must be `[greeting: string]`.
const greeter = k.spawn(
  async (t, greeting: string) => {
    const name = await t.receive<string>({ timeout: 1000 })
    return `${greeting}, ${name}!`
  },
  ['Hello'],
  { name: 'greeter' },
)

// A spawned task runs at once, up to its first wait: both are parked in receive now.
console.log(`${doubler.label} is ${doubler.status}; ${greeter.label} is ${greeter.status}`)

doubler.send(21)
greeter.send('taskos')
console.log('doubler returned', await doubler.join()) // 42
console.log('greeter returned', await greeter.join()) // Hello, taskos!

// settle() gives the outcome instead of throwing; close() cancels what is left and waits for it.
console.log('outcome:', await doubler.settle())
await k.close()
