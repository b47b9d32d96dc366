/**
 * Task functions for the batch example and guide (a worker process imports this module by URL).
 * A batch worker is called as `(t, instructions, job)`.
 */
import { defineTask, UnrecoverableError } from '../../src/index.js' // in your project: from 'taskos'
import type { JobInfo, TaskContext } from '../../src/index.js'

/** Counts the words of `text`; says which slot ran it. */
export const countWords = defineTask(
  import.meta.url,
  function countWords(_t: TaskContext, ins: { text: string }, job: JobInfo) {
    if (typeof ins.text !== 'string') throw new UnrecoverableError(`job ${job.name}: no text`)
    return { words: ins.text.split(/\s+/).filter((w) => w !== '').length, slot: job.slot }
  },
)

/** Dies with its worker process when `crash` is set (to show crash isolation). */
export const fragile = defineTask(
  import.meta.url,
  function fragile(_t: TaskContext, ins: { n: number; crash?: boolean }) {
    if (ins.crash === true) process.kill(process.pid, 'SIGKILL')
    return ins.n * ins.n
  },
)
