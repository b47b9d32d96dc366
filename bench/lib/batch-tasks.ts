// Task functions of the batch benchmark (worker threads and processes import this module by URL).
import { defineTask } from '../../src/pool/index.js'
import type { TaskContext } from '../../src/kernel/index.js'

/** The tiny job: returns its index. */
export const tiny = defineTask(import.meta.url, function tiny(_t: TaskContext, ins: { i: number }) {
  return ins.i
})

/** A job of `ms` milliseconds (a timer: it does not compete for the CPU). */
export const wait = defineTask(import.meta.url, async function wait(_t: TaskContext, ins: { ms: number }) {
  await new Promise((resolve) => setTimeout(resolve, ins.ms))
  return ins.ms
})
