// Importing taskos must not load the monitor's HTTP server or prom-client (a pool worker whose task
// module imports taskos would pay for them): they load when a monitor first serves or is scraped.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { trace } from '../fixtures/trace-imports.js'

const src = (path: string): string => pathToFileURL(fileURLToPath(new URL(`../../src/${path}`, import.meta.url))).href
const heavy = (url: string): boolean => url === 'node:http' || url.includes('/node_modules/prom-client/')

test('monitor: importing taskos loads neither node:http nor prom-client; listen() and metrics() do', { timeout: 90_000 }, async () => {
  const mark = (s: string): string => `;(await import('node:fs')).appendFileSync(process.env.TRACE_FILE, ${JSON.stringify(`MARK ${s}\n`)})`
  const urls = await trace(`
    const { Monitor, Kernel } = await import(${JSON.stringify(src('index.ts'))})
    const monitor = new Monitor({ k: new Kernel() })
    ${mark('constructed')}
    await monitor.listen()
    await monitor.metrics()
    ${mark('served')}
    await monitor.close()
  `)
  const constructed = urls.indexOf('MARK constructed')
  const served = urls.indexOf('MARK served')
  assert.ok(constructed > 0 && served > constructed, 'the trace has both marks')
  assert.ok(urls.slice(0, constructed).some((u) => u.endsWith('/src/monitor/monitor.ts')), 'the monitor module was traced')
  assert.deepEqual(urls.slice(0, constructed).filter(heavy), [])
  const after = urls.slice(constructed, served).filter(heavy)
  assert.ok(after.includes('node:http'), 'node:http on listen()')
  assert.ok(after.some((u) => u.includes('/prom-client/')), 'prom-client on metrics()')
})
