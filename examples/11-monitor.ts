/**
 * 11-monitor: a dashboard, a JSON API and Prometheus metrics over a pool and a kernel. The monitor
 * reads only their `stats()` and rare events (a crash here), so watching costs the tasks nothing.
 * Open the printed URL in a browser while it runs to see the dashboard (pass `--hold` to keep it
 * running until Ctrl-C).
 *
 *   npx tsx examples/11-monitor.ts [--hold]
 */
import { Kernel, Pool } from '../src/index.js' // in your project: from 'taskos'
import { Monitor } from '../src/monitor/index.js' // or: from 'taskos/monitor'
import { exit, square } from './tasks/math.js'

const pool = new Pool({ workers: 2 })
const kernel = new Kernel()
const monitor = new Monitor({ pool, kernel }, { interval: 100 }) // binds 127.0.0.1; port 0 = any free port
const url = await monitor.listen()
console.log('dashboard:', url)

// some work: 2,000 tasks on the pool, one that crashes its worker, 100 light tasks in the kernel
await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.run(square, [i])))
await pool.run(exit, [7]).then(undefined, () => undefined)
await Promise.all(Array.from({ length: 100 }, (_, i) => kernel.spawn((_t, x: number) => x + 1, [i]).join()))
monitor.sample()

// the JSON API: every source now (a summary in one shape for all kinds, plus its own stats())
const snapshot = (await (await fetch(`${url}api/snapshot`)).json()) as {
  sources: Record<string, { summary: { kind: string; done: number; crashed: number } }>
}
for (const [name, { summary }] of Object.entries(snapshot.sources)) {
  console.log(`${name} (${summary.kind}): ${summary.done} done, ${summary.crashed} crashed`)
}

// what a Prometheus server scrapes
const metrics = await (await fetch(`${url}metrics`)).text()
console.log(metrics.split('\n').filter((line) => line.startsWith('taskos_tasks_ended_total{source="pool"')).join('\n'))

// the notable events kept (also streamed live at /api/stream)
for (const event of monitor.events()) console.log(`event: ${event.source} ${event.type}: ${event.text}`)

if (process.argv.includes('--hold')) {
  console.log('serving until Ctrl-C')
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
}
await monitor.close()
await pool.close()
await kernel.close()
console.log('monitor closed')
