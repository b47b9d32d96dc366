/**
 * Runs the benchmarks: every `bench/<capability>.ts` / `bench/<capability>-<topic>.ts` module that
 * exports `benchmark`, each case in a fresh child process (its own heap and JIT state), then prints
 * each module's report.
 *
 *   npm run bench                         all modules
 *   npm run bench -- kernel               modules whose name contains "kernel"
 *   npm run bench -- kernel:ping-pong     ... and only cases whose id contains "ping-pong"
 *   npm run bench -- --quick              small n, fewer repetitions, in-process: a smoke run
 *   npm run bench -- --isolate | --no-isolate   force child processes on / off
 *
 * The exit code is 0 whatever the figures (a benchmark, not a test); 1 only when a case crashes.
 * @module
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Benchmark, CaseResult } from './lib/harness.js'
import { RESULT_MARK, caseRepetitions, runCase } from './lib/harness.js'

const here = dirname(fileURLToPath(import.meta.url))
const MODULE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9-]+)?\.ts$/
const CHILD_TIMEOUT_MS = 10 * 60_000

interface Args {
  quick: boolean
  isolate: boolean
  filters: { module: string; case: string }[]
  child: { module: string; case: string; n: number; reps: number } | undefined
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, isolate: true, filters: [], child: undefined }
  let isolate: boolean | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--quick') args.quick = true
    else if (a === '--isolate') isolate = true
    else if (a === '--no-isolate') isolate = false
    else if (a === '--child') {
      const [module, id, n, reps] = argv.slice(i + 1, i + 5)
      if (module === undefined || id === undefined || n === undefined || reps === undefined) {
        throw new Error('--child needs <module> <case> <n> <reps>')
      }
      args.child = { module, case: id, n: Number(n), reps: Number(reps) }
      i += 4
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`)
    else {
      const colon = a.indexOf(':')
      args.filters.push(
        colon < 0 ? { module: a, case: '' } : { module: a.slice(0, colon), case: a.slice(colon + 1) },
      )
    }
  }
  args.isolate = isolate ?? !args.quick
  return args
}

function isBenchmark(value: unknown): value is Benchmark {
  const b = value as Benchmark | undefined
  return typeof b === 'object' && b !== null && typeof b.name === 'string' && Array.isArray(b.cases)
}

async function load(file: string): Promise<Benchmark> {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { benchmark?: unknown }
  if (!isBenchmark(mod.benchmark)) throw new Error(`bench/${file} does not export a benchmark`)
  return mod.benchmark
}

/** Runs one case in a child process of this same script; gives its result. */
function runIsolated(file: string, id: string, n: number, reps: number): Promise<CaseResult> {
  const execArgv = process.execArgv.includes('--expose-gc')
    ? process.execArgv
    : ['--expose-gc', ...process.execArgv]
  const argv = [...execArgv, fileURLToPath(import.meta.url), '--child', file, id, String(n), String(reps)]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => (out += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK))
      if (code === 0 && line !== undefined) {
        resolve(JSON.parse(line.slice(RESULT_MARK.length)) as CaseResult)
      } else {
        const tail = out.trim().split('\n').slice(-5).join('\n')
        reject(new Error(`case ${id} exited with ${signal ?? code}${tail === '' ? '' : `:\n${tail}`}`))
      }
    })
  })
}

async function child(spec: NonNullable<Args['child']>): Promise<void> {
  const bench = await load(spec.module)
  const c = bench.cases.find((x) => x.id === spec.case)
  if (c === undefined) throw new Error(`bench/${spec.module} has no case ${spec.case}`)
  const result = await runCase(c, spec.n, spec.reps)
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`)
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  if (args.child !== undefined) return child(args.child)

  const files = readdirSync(here)
    .filter((f) => MODULE_NAME.test(f) && f !== 'run.ts')
    .filter(
      (f) => args.filters.length === 0 || args.filters.some((x) => basename(f, '.ts').includes(x.module)),
    )
    .sort()
  if (files.length === 0) {
    console.log(`no benchmark module matches ${args.filters.map((f) => f.module).join(', ')}`)
    return
  }
  const cpuList = cpus()
  console.log(
    `taskos benchmarks — node ${process.version}, ${cpuList.length} × ${cpuList[0]?.model ?? 'unknown CPU'}, ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${args.quick ? 'quick (small n)' : 'full'}, ` +
      `${args.isolate ? 'one child process per case' : 'in-process'}`,
  )
  let failed = 0
  for (const file of files) {
    const bench = await load(file)
    const caseFilters = args.filters
      .filter((x) => basename(file, '.ts').includes(x.module))
      .map((x) => x.case)
    const cases = bench.cases.filter(
      (c) => caseFilters.length === 0 || caseFilters.some((f) => f === '' || c.id.includes(f)),
    )
    const results = new Map<string, CaseResult>()
    const t0 = performance.now()
    for (const c of cases) {
      const n = args.quick ? c.quickN : c.n
      const reps = caseRepetitions(c, args.quick)
      const started = performance.now()
      process.stderr.write(`  ${bench.name} ${c.id} (n=${n}, ${reps}x) … `)
      try {
        const r = args.isolate ? await runIsolated(file, c.id, n, reps) : await runCase(c, n, reps)
        results.set(c.id, r)
        process.stderr.write(`${fmtMs(performance.now() - started)}\n`)
      } catch (error) {
        failed++
        process.stderr.write(
          `FAILED\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        )
      }
    }
    console.log(`\n${bench.name}: ${cases.length} cases in ${fmtMs(performance.now() - t0)}`)
    bench.report(results, { quick: args.quick, isolated: args.isolate })
  }
  if (failed > 0) process.exitCode = 1
}

await main()
