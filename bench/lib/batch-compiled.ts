/**
 * taskos batch as plain JavaScript for bench/batch.ts: started from the TypeScript sources, every
 * worker thread or process runs through tsx (about a second of start-up per worker here), which is
 * not what users of the published package run. `src/kernel`, `src/pool` and `src/batch` are
 * transpiled (no type checking) into a directory under the OS temp dir named by a hash of the
 * sources, with the benchmark's task module as `bench-tasks.js` beside them.
 * @module
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const PARTS = ['kernel', 'pool', 'batch']

const TASKS = `import { defineTask } from './pool/index.js'
export const tiny = defineTask(import.meta.url, function tiny(_t, ins) { return ins.i })
export const wait = defineTask(import.meta.url, async function wait(_t, ins) {
  await new Promise((resolve) => setTimeout(resolve, ins.ms))
  return ins.ms
})
`

/** Runs one measured batch in a plain node process (no tsx anywhere), prints { ms, cpuMs, done }. */
const CHILD = `import { batch, schedulers } from './batch/index.js'
import { tiny, wait } from './bench-tasks.js'
const [kind, nText, isolation] = process.argv.slice(2)
const n = Number(nText)
const options =
  kind === 'tiny' ? { worker: tiny, isolation, individual: { i: Array.from({ length: n }, (_, i) => i) } }
  : kind === 'shell' ? { worker: { command: ['true'] }, individual: { i: Array.from({ length: n }, (_, i) => i) } }
  : { worker: wait, isolation, individual: { ms: Array.from({ length: n }, () => 200) } }
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const report = await batch({ ...options, scheduler: schedulers.maxWorkers(2) })
const ms = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, done: report.summary.done }))
`

function sources(): string[] {
  const files: string[] = []
  for (const part of PARTS)
    for (const f of readdirSync(join(SRC, part), { recursive: true }) as string[])
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.push(join(part, f))
  return files.sort()
}

/** File URLs of the compiled `batch/index.js` and `bench-tasks.js` (built once per source version). */
export async function compiledBatch(): Promise<{ batch: string; tasks: string; child: string }> {
  const files = sources()
  const hash = createHash('sha256')
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(SRC, f)))
      .update('\0')
  hash.update(TASKS).update(CHILD)
  const out = join(tmpdir(), `taskos-bench-batch-js-${hash.digest('hex').slice(0, 16)}`)
  if (!existsSync(join(out, 'bench-tasks.js'))) {
    const ts = (await import('typescript')).default
    const staging = `${out}.${process.pid}.tmp`
    rmSync(staging, { recursive: true, force: true })
    for (const f of files) {
      const { outputText } = ts.transpileModule(readFileSync(join(SRC, f), 'utf8'), {
        compilerOptions: {
          module: ts.ModuleKind.ES2022,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
        fileName: f,
      })
      const dest = join(staging, f.replace(/\.ts$/, '.js'))
      mkdirSync(dirname(dest), { recursive: true })
      writeFileSync(dest, outputText)
    }
    writeFileSync(join(staging, 'bench-tasks.js'), TASKS)
    writeFileSync(join(staging, 'bench-child.js'), CHILD)
    writeFileSync(join(staging, 'package.json'), '{ "type": "module" }\n')
    try {
      renameSync(staging, out)
    } catch {
      rmSync(staging, { recursive: true, force: true })
    }
  }
  return {
    batch: pathToFileURL(join(out, 'batch', 'index.js')).href,
    tasks: pathToFileURL(join(out, 'bench-tasks.js')).href,
    child: join(out, 'bench-child.js'),
  }
}
