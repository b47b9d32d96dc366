// The built package, as an application that installed it uses it: the JavaScript is built by the
// package's build (scripts/build.mjs: the kernel and the pool in dist/core.cjs, the rest esbuild with
// shared chunks) into a temporary package folder
// (package.json + dist/, its dependencies linked from this checkout), which a temporary application
// has as node_modules/taskos. Everything runs in child `node` processes without tsx.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { ROOT } from '../fixtures/run-tsx.js'

const run = promisify(execFile)
const BUILD = pathToFileURL(join(ROOT, 'scripts', 'build.mjs')).href
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }

interface Build {
  buildJs: (options: { outdir: string }) => Promise<string[]>
  entryPoints: (src: string) => string[]
}

let dir = ''
let pkg = ''
let app = ''
let outputs: string[] = []

/** Runs `node <file> ...args` in the application folder; gives stdout (throws on a non-zero exit). */
async function node(file: string, args: string[] = []): Promise<string> {
  const r = await run(process.execPath, [file, ...args], { cwd: app, timeout: 60_000, encoding: 'utf8' })
  return r.stdout
}

/**
 * What a built file loads as it starts: its static `import`s and `export … from`s, a facade's
 * `createRequire(import.meta.url)(…)`, and a CommonJS file's top-level `require`s (esbuild's
 * `var x = require("…")`; a require inside a function runs on first use, not at load).
 */
function staticImports(text: string): string[] {
  const patterns = [
    /^(?:import|export)\b[^;]*?from\s*"([^"]+)"|^import\s*"([^"]+)"/gm,
    /createRequire\(import\.meta\.url\)\("([^"]+)"\)/g,
    /^var \w+ = (?:__toESM\()?require\("([^"]+)"\)/gm,
  ]
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => (m[1] ?? m[2])!))
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'taskos-dist-'))
  pkg = join(dir, 'taskos')
  app = join(dir, 'app')
  mkdirSync(pkg)
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir')
  const { buildJs } = (await import(BUILD)) as Build
  outputs = await buildJs({ outdir: join(pkg, 'dist') })
  mkdirSync(join(app, 'node_modules'), { recursive: true })
  symlinkSync(pkg, join(app, 'node_modules', 'taskos'), 'dir')
  writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n')
  // a task module of the application, importing the package's root
  writeFileSync(
    join(app, 'tasks.mjs'),
    `import { defineTask, TaskosError } from 'taskos'
export const inc = defineTask(import.meta.url, function inc(_t, x) { return x + 1 })
export const refuse = defineTask(import.meta.url, function refuse() { throw new TaskosError('ERR_INVALID_ARGUMENT', 'no') })
export const whereAmI = defineTask(import.meta.url, function whereAmI() { return process.pid })
export const quit = defineTask(import.meta.url, function quit() { process.exit(3) })
`,
  )
})

after(() => rmSync(dir, { recursive: true, force: true }))

describe('build', () => {
  test('build: the kernel and the pool are one CommonJS file, dist/core.cjs, that their entry points re-export; the rest is one file per entry point plus shared chunks', () => {
    const js = outputs.filter((f) => /\.c?js$/.test(f)).map((f) => f.slice(f.indexOf('/dist/') + 6))
    for (const entry of [
      'index.js',
      'core.cjs',
      'core.js',
      'kernel/index.js',
      'pool/index.js',
      'pool/worker.cjs',
      'cli/main.js',
    ]) {
      assert.ok(js.includes(entry), `dist/${entry} is built`)
    }
    const loose = js.filter(
      (f) => !f.startsWith('chunks/') && !f.includes('/') && !['index.js', 'core.js', 'core.cjs'].includes(f),
    )
    assert.deepEqual(loose, [], 'no other file at the top of dist/')
    // what a worker thread loads: its entry and the core, nothing else
    for (const [entry, core] of [
      ['core.js', './core.cjs'],
      ['kernel/index.js', '../core.cjs'],
      ['pool/index.js', '../core.cjs'],
    ] as const) {
      const text = readFileSync(join(pkg, 'dist', entry), 'utf8')
      assert.deepEqual(staticImports(text), ['node:module', core], `dist/${entry} takes the core alone`)
    }
    const worker = readFileSync(join(pkg, 'dist', 'pool', 'worker.cjs'), 'utf8')
    assert.deepEqual(
      staticImports(worker).filter((f) => !f.startsWith('node:')),
      [],
      'the worker entry requires node builtins only (it loads the core by its path)',
    )
    assert.match(worker, /"core\.cjs"/)
    const core = readFileSync(join(pkg, 'dist', 'core.cjs'), 'utf8')
    assert.match(core, /^"use strict";/, 'the core is strict code')
    for (const f of js) {
      // V8 holds a source with one other character as two bytes per character (the core: 190 KB)
      const text = readFileSync(join(pkg, 'dist', f), 'utf8')
      assert.ok(!/[^\p{ASCII}]/u.test(text), `dist/${f} is ASCII`)
    }
    assert.ok(staticImports(core).includes('node:worker_threads'), "the core's requires are seen")
    assert.deepEqual(
      staticImports(core).filter((f) => !f.startsWith('node:')),
      [],
      'the core requires node builtins only',
    )
    assert.ok(
      js.some((f) => f.startsWith('chunks/')),
      'shared code is in dist/chunks/',
    )
    for (const map of ['core.cjs.map', 'pool/worker.cjs.map'])
      assert.ok(readdirSync(join(pkg, 'dist', map, '..')).includes(map.split('/').pop()!), `dist/${map}`)
    assert.ok(
      readdirSync(join(pkg, 'dist', 'chunks')).some((f) => f.endsWith('.js.map')),
      'with source maps',
    )
  })

  test("build: the core's exports are one object of getters, made after its code, and its source map still points into src/", async () => {
    const core = join(pkg, 'dist', 'core.cjs')
    const annotated = /^0 && \(module\.exports = \{([^}]*)\}\);$/m.exec(readFileSync(core, 'utf8'))?.[1]
    assert.ok(annotated !== undefined, "esbuild's export annotation for Node is kept")
    const names = annotated.split(',').map((n) => n.trim())
    const r = await run(
      process.execPath,
      [
        '--enable-source-maps',
        '-e',
        `const core = require(${JSON.stringify(core)})
const getters = Object.keys(core).filter((k) => typeof Object.getOwnPropertyDescriptor(core, k).get === 'function')
let stack = ''
try { new core.Pool({ workers: 0 }) } catch (e) { stack = e.stack }
console.log(JSON.stringify({ keys: Object.keys(core), getters: getters.length, stack }))`,
      ],
      { cwd: app, encoding: 'utf8' },
    )
    const out = JSON.parse(r.stdout) as { keys: string[]; getters: number; stack: string }
    assert.deepEqual([...out.keys].sort(), [...names].sort(), 'every annotated name, nothing else')
    assert.equal(out.getters, names.length, 'each a getter (live, as esbuild made them)')
    // the frame of `new Pool` maps to the line of src/pool/pool.ts that throws
    const frame = /\(([^()]*src[\\/]pool[\\/]pool\.ts):(\d+):\d+\)\n\s+at [^\n]*\[eval\]/.exec(out.stack)
    assert.ok(frame !== null, `a frame in src/pool/pool.ts right under the caller:\n${out.stack}`)
    const line = readFileSync(frame[1]!, 'utf8').split('\n')[Number(frame[2]) - 1]!
    assert.match(line, /throw invalid\('workers'/)
  })

  test('build: a thread worker compiles the core from the code cache that the first thread of the process made (not with source maps on)', async () => {
    writeFileSync(
      join(app, 'code-cache.mjs'),
      `import { Pool } from 'taskos/pool'
import { inc } from './tasks.mjs'
const starts = []
for (let i = 0; i < 3; i++) {
  const pool = new Pool({ workers: 1 })
  if (await pool.run(inc, [i]) !== i + 1) throw new Error('wrong result')
  await pool.close()
  starts.push(pool._codeCacheStarts)
}
console.log(JSON.stringify(starts))
`,
    )
    assert.deepEqual(JSON.parse(await node('code-cache.mjs')), [0, 1, 1], 'the first thread made it')
    const r = await run(process.execPath, ['--enable-source-maps', 'code-cache.mjs'], {
      cwd: app,
      timeout: 60_000,
      encoding: 'utf8',
    })
    assert.deepEqual(JSON.parse(r.stdout), [0, 0, 0], 'with source maps, threads require the core')
  })

  test('build: a thread that dies is replaced by one that compiles the core from the code cache', async () => {
    writeFileSync(
      join(app, 'replace.mjs'),
      `import { Pool } from 'taskos/pool'
import { inc, quit } from './tasks.mjs'
const pool = new Pool({ workers: 1 })
const before = await pool.run(inc, [1])
const crash = await pool.run(quit, []).then(() => 'no crash', (e) => [e.code, e.exitCode])
const after = await pool.run(inc, [2])
await pool.close()
console.log(JSON.stringify({ before, crash, after, cached: pool._codeCacheStarts }))
`,
    )
    assert.deepEqual(JSON.parse(await node('replace.mjs')), {
      before: 2,
      crash: ['ERR_WORKER_CRASHED', 3],
      after: 3,
      cached: 1,
    })
  })

  test('build: a thread given a code cache that V8 refuses compiles the core from its source and says so', async () => {
    writeFileSync(
      join(app, 'bad-cache.mjs'),
      `import { Worker } from 'node:worker_threads'
import { once } from 'node:events'
const entry = new URL('./node_modules/taskos/dist/pool/worker.cjs', import.meta.url)
const worker = new Worker(entry, { workerData: { codeCache: new Uint8Array(64).fill(7) } })
const [ready] = await once(worker, 'message')
await worker.terminate()
console.log(JSON.stringify(ready))
`,
    )
    assert.deepEqual(JSON.parse(await node('bad-cache.mjs')), { t: 'ready', cached: false })
  })

  test('build: a pool runs a task module that imports taskos, in a thread and in a process', async () => {
    writeFileSync(
      join(app, 'pool.mjs'),
      `import { Pool } from 'taskos/pool'
import { inc, whereAmI } from './tasks.mjs'
const out = {}
for (const isolation of ['thread', 'process']) {
  const pool = new Pool({ workers: 2, isolation })
  out[isolation] = { value: await pool.run(inc, [41]), pid: await pool.run(whereAmI, []) }
  await pool.close()
}
console.log(JSON.stringify({ ...out, pid: process.pid }))
`,
    )
    const r = JSON.parse(await node('pool.mjs')) as Record<
      'thread' | 'process',
      { value: number; pid: number }
    > & {
      pid: number
    }
    assert.equal(r.thread.value, 42)
    assert.equal(r.thread.pid, r.pid, 'a thread worker runs in the same process')
    assert.equal(r.process.value, 42)
    assert.notEqual(r.process.pid, r.pid, 'a process worker runs in a process of its own')
  })

  test('build: a pool works in a program given as `node --input-type=module -e`, in a thread and in a process', async () => {
    // workers inherit --input-type (Node refuses it beside a file entry) and, as processes, the -e
    // code (they would run it again instead of their entry)
    const code = `import { Pool } from 'taskos/pool'
import { inc } from './tasks.mjs'
const out = {}
for (const isolation of ['thread', 'process']) {
  const pool = new Pool({ workers: 1, isolation })
  out[isolation] = await pool.run(inc, [41])
  await pool.close()
}
console.log(JSON.stringify(out))`
    for (const flags of [['--input-type=module'], ['--input-type', 'module']]) {
      const r = await run(process.execPath, [...flags, '-e', code], {
        cwd: app,
        timeout: 60_000,
        encoding: 'utf8',
      })
      assert.deepEqual(JSON.parse(r.stdout), { thread: 42, process: 42 }, flags.join(' '))
    }
  })

  test('build: one module instance per class across entry points (kernel + pool interoperate, instanceof holds)', async () => {
    writeFileSync(
      join(app, 'single.mjs'),
      `import * as root from 'taskos'
import { Kernel, TaskosError } from 'taskos/kernel'
import { Pool } from 'taskos/pool'
import * as batch from 'taskos/batch'
import * as testing from 'taskos/testing'
import { inc, refuse } from './tasks.mjs'
const pool = new Pool({ workers: 1 })
const k = new Kernel()
k.setExecutor(pool)
const offloaded = await k.spawn((t) => t.offload(inc, [1])).join()
const error = await pool.run(refuse, []).then(() => undefined, (e) => e)
await k.close() // closes its executor, the pool
console.log(JSON.stringify({
  offloaded,
  same: [root.TaskosError === TaskosError, root.Pool === Pool, root.Kernel === Kernel, batch.Boss === root.Boss, testing.VirtualClock === root.VirtualClock],
  instance: error instanceof TaskosError, instanceRoot: error instanceof root.TaskosError, code: error?.code,
}))
`,
    )
    const r = JSON.parse(await node('single.mjs')) as {
      offloaded: number
      same: boolean[]
      instance: boolean
      instanceRoot: boolean
      code: string
    }
    assert.equal(r.offloaded, 2, 'a Kernel of taskos/kernel offloads to a Pool of taskos/pool')
    assert.deepEqual(r.same, [true, true, true, true, true], 'every entry point exports the same classes')
    assert.equal(r.code, 'ERR_INVALID_ARGUMENT')
    assert.ok(r.instance && r.instanceRoot, "a worker's TaskosError is an instance of the one class")
  })

  test('build: the CLI prints its version and runs the demo (its pool task module is an entry point)', async () => {
    const bin = join(pkg, 'dist', 'cli', 'main.js')
    assert.equal((await node(bin, ['--version'])).trim(), version)
    const demo = await node(bin, ['demo', '--scale', '0.02'])
    assert.match(demo, /0 still running/)
  })

  test('build: every module that defines task functions is its own entry, and a worker finds them by URL', async () => {
    const { entryPoints } = (await import(BUILD)) as Build
    const src = join(ROOT, 'src')
    const entries = entryPoints(src)
    // found independently of the build's own pattern: a defineTask call anywhere in the code
    const taskModules = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('define-task.ts'))
      .map((f) => join(src, f))
      .filter((f) =>
        /^\s*(export )?const \w+(: [^=\n]+)? = defineTask(<[^\n]*>)?\(\s*import\.meta\.url/m.test(
          readFileSync(f, 'utf8'),
        ),
      )
    assert.ok(taskModules.length >= 3, `task modules found: ${taskModules.join(', ')}`)
    for (const f of taskModules) assert.ok(entries.includes(f), `${f} is an entry point`)
    const files = taskModules.map((f) => join(pkg, 'dist', f.slice(src.length + 1).replace(/\.ts$/, '.js')))
    // what a worker does: import fn.taskModule, look for an export whose taskName is fn.taskName
    writeFileSync(
      join(app, 'task-modules.mjs'),
      `const found = []
for (const file of process.argv.slice(2)) {
  for (const fn of Object.values(await import(file))) {
    if (typeof fn !== 'function' || typeof fn.taskModule !== 'string') continue
    const there = Object.values(await import(fn.taskModule)).some((f) => f?.taskName === fn.taskName)
    found.push([fn.taskName, there])
  }
}
console.log(JSON.stringify(found))
`,
    )
    const found = JSON.parse(await node('task-modules.mjs', files)) as [string, boolean][]
    assert.ok(found.length >= taskModules.length, JSON.stringify(found))
    for (const [name, there] of found) assert.ok(there, `${name} is exported by its taskModule`)
  })

  test('build: the CLI-only packages and the heavy builtins stay out of the import graph of taskos, taskos/pool and taskos/batch (and mostly of the CLI)', () => {
    /** The packages the static imports of a built file and of the files it imports name. */
    const packagesOf = (entry: string): Set<string> => {
      const seen = new Set<string>()
      const packages = new Set<string>()
      const visit = (file: string): void => {
        if (seen.has(file)) return
        seen.add(file)
        for (const spec of staticImports(readFileSync(file, 'utf8'))) {
          if (spec.startsWith('.')) visit(join(file, '..', spec))
          else packages.add(spec)
        }
      }
      visit(join(pkg, 'dist', entry))
      return packages
    }
    const cliOnly = ['yaml', 'cli-progress', 'commander']
    const cli = [...packagesOf('cli/main.js')].filter((name) => !name.startsWith('node:'))
    assert.deepEqual(
      cli,
      ['commander'],
      'the CLI loads yaml, cli-progress and NATS only for the commands that use them',
    )
    // builtins a new worker thread would compile for nothing (~2 ms each): loaded on first use
    const heavyBuiltins = ['node:child_process', 'node:crypto', 'node:net', 'node:http']
    for (const entry of ['index.js', 'pool/index.js', 'batch/index.js', 'pool/worker.cjs']) {
      const packages = packagesOf(entry)
      for (const name of [...cliOnly, ...heavyBuiltins]) {
        assert.ok(!packages.has(name), `dist/${entry} does not import ${name}`)
      }
    }
  })
})
