// Importing taskos must not load the NATS client packages: every pool worker whose task module
// imports taskos would pay for them. They load on first use (Cluster.connect, Node.start, …).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { uid } from '../../src/cluster/nats.js'
import { trace } from '../fixtures/trace-imports.js'

const src = (path: string): string => pathToFileURL(fileURLToPath(new URL(`../../src/${path}`, import.meta.url))).href

const isNats = (url: string): boolean => url.includes('/node_modules/@nats-io/')

test('cluster: importing taskos (root and cluster index) loads no @nats-io module; the first connect path does', { timeout: 90_000 }, async () => {
  const mark = (s: string): string => `;(await import('node:fs')).appendFileSync(process.env.TRACE_FILE, ${JSON.stringify(`MARK ${s}\n`)})`
  const urls = await trace(`
    await import(${JSON.stringify(src('index.ts'))})
    await import(${JSON.stringify(src('cluster/index.ts'))})
    ${mark('imported')}
    const nats = await import(${JSON.stringify(src('cluster/nats.ts'))})
    await nats.loadCore(); await nats.loadJetStream(); await nats.loadKv(); await nats.loadObj()
    ${mark('loaded')}
  `)
  const imported = urls.indexOf('MARK imported')
  const loaded = urls.indexOf('MARK loaded')
  assert.ok(imported > 0 && loaded > imported, 'the trace has both marks')
  const before = urls.slice(0, imported)
  // the tracer sees the modules it should: the cluster's own files were loaded …
  assert.ok(before.some((u) => u.endsWith('/src/cluster/cluster.ts')), 'the cluster modules were traced')
  assert.ok(before.some((u) => u.endsWith('/src/cluster/node.ts')), 'the node module was traced')
  // … but no NATS package
  assert.deepEqual(before.filter(isNats), [])
  // and the loaders do bring each package in
  const after = urls.slice(imported, loaded).filter(isNats).join('\n')
  for (const pkg of ['transport-node', 'jetstream', 'kv', 'obj']) assert.match(after, new RegExp(`/@nats-io/${pkg}/`), pkg)
})

test('cluster: uid() gives distinct 22-character ids usable in subjects', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 100_000; i++) {
    const id = uid()
    assert.match(id, /^[A-Za-z0-9]{22}$/)
    seen.add(id)
  }
  assert.equal(seen.size, 100_000)
})
