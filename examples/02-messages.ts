/**
 * 02-messages: a server registered under a name, request/reply with a filtered receive,
 * tryReceive, a receive timeout, and sending to a task that has ended.
 *
 *   npx tsx examples/02-messages.ts
 */
import { Kernel, TaskosError } from '../src/index.js' // in your project: from 'taskos'
import type { Task } from '../src/index.js'

interface Request {
  from: Task
  id: number
  n: number
}
interface Reply {
  id: number
  square: number
}

const k = new Kernel()

// A server: answers each request with the square of n, until it receives 'stop'.
const server = k.spawn(
  function* (t) {
    let served = 0
    for (;;) {
      const m = yield* t.receive<Request | 'stop'>()
      if (m === 'stop') return served
      m.from.send({ id: m.id, square: m.n * m.n } satisfies Reply)
      served++
    }
  },
  [],
  { name: 'squarer' },
)
k.register('squarer', server) // now `t.send('squarer', …)` reaches it; the name goes when it ends

const client = k.spawn(async (t) => {
  for (let id = 1; id <= 3; id++) t.send('squarer', { from: t.task, id, n: id + 1 } satisfies Request)

  // Take reply 3 first: a filter picks the oldest message it accepts; the others stay, in order.
  const third = await t.receive<Reply>({ filter: (m) => (m as Reply).id === 3 })
  // tryReceive never waits: the oldest message, or undefined.
  const first = t.tryReceive<Reply>()
  const second = t.tryReceive<Reply>()
  const none = t.tryReceive<Reply>()
  console.log('replies:', third, first, second, none) // {id 3, 16} {id 1, 4} {id 2, 9} undefined

  // A receive with a timeout rejects with a TimeoutError (code ERR_TIMEOUT).
  try {
    await t.receive({ timeout: 20 })
  } catch (error) {
    if (error instanceof TaskosError) console.log(`receive gave up: ${error.code}`)
  }
  return [first?.square, second?.square, third.square]
})

console.log('client got', await client.join()) // [4, 9, 16]

server.send('stop')
console.log('server served', await server.join(), 'requests') // 3
console.log('send to the ended server:', server.send('anyone there?')) // false: nothing is kept
console.log('its name is gone:', k.tryLocate('squarer')) // undefined
await k.close()
