/**
 * Task functions for the cluster example and docs/cluster.md: the client bundles this module (with
 * its local imports) and ships it to the nodes, which need no copy of it.
 */
import { defineTask } from '../../src/pool/index.js' // in your project: from 'taskos'
import type { TaskContext } from '../../src/index.js'

/** x², computed on a node. */
export const square = defineTask(import.meta.url, function square(_t: TaskContext, x: number) {
  return x * x
})

/** Which node process ran it. */
export const where = defineTask(import.meta.url, function where() {
  return process.pid
})

/** Answers each `{ reply, text }` with the text upper-cased, until it gets 'stop'. */
export const shout = defineTask(
  import.meta.url,
  async function shout(t: TaskContext): Promise<number> {
    let n = 0
    for (;;) {
      const m = await t.receive<{ reply: { send(m: unknown): unknown }; text: string } | 'stop'>()
      if (m === 'stop') return n
      t.send(m.reply as never, m.text.toUpperCase())
      n++
    }
  },
)

/** Throws: the error comes back with its class name, message and stack. */
export const validate = defineTask(import.meta.url, function validate(_t: TaskContext, age: number) {
  if (age < 0) throw new RangeError(`age must be >= 0, got ${age}`)
  return age
})

/** Gives its argument back (a round trip for large payloads). */
export const echo = defineTask(import.meta.url, function echo(_t: TaskContext, data: Uint8Array) {
  return data
})
