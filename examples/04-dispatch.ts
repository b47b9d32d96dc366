/**
 * 04-dispatch: COS Dispatch. Jobs come lazily from a generator, run a few at a time, a collector
 * sees each result as it finishes, and the results come back in job order.
 *
 *   npx tsx examples/04-dispatch.ts
 */
import { Kernel } from '../src/index.js' // in your project: from 'taskos'
import type { Job, TaskContext } from '../src/index.js'

const k = new Kernel()

// A job's task function: context first, then its arguments.
async function wordCount(t: TaskContext, text: string): Promise<number> {
  await t.sleep(text.length) // stands in for I/O of varying length
  return text.split(/\s+/).filter(Boolean).length
}

const texts = [
  'a task function runs anywhere',
  'light tasks',
  'in this thread, in a pool of workers, or on a cluster',
  'one typed API',
]

// Jobs may be an array, any iterable, a generator or an async iterable: pulled as slots free.
function* jobs(): Generator<Job<typeof wordCount>> {
  for (const text of texts) yield { fn: wordCount, args: [text], extra: text.slice(0, 12) }
}

const counts = await k.dispatch(jobs(), {
  concurrency: 2, // at most two jobs run at once
  results: true, // a collector alone does not build the result list; ask for both
  collector: ({ index, job, value }) =>
    console.log(`  finished job ${index} (${String(job.extra)}…): ${value}`),
})
console.log('word counts in job order:', counts) // [5, 2, 12, 3]

// The first failing job rejects the dispatch with a TaskFailedError naming it, and the others stop.
async function parse(_t: TaskContext, json: string): Promise<unknown> {
  return JSON.parse(json)
}
try {
  await k.dispatch([
    { fn: parse, args: ['{"ok":true}'] },
    { fn: parse, args: ['{oops'] },
  ])
} catch (error) {
  console.log('dispatch failed:', (error as Error).message)
  // dispatch: job 1 (parse) failed: Expected property name or '}' in JSON at position 1
}
await k.close()
