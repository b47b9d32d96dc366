/**
 * Batch files for `taskos batch FILE`: YAML or JSON (JSON is read by the same YAML 1.2 parser, so
 * both give line numbers). Every error names the file, the line and the key.
 *
 * ```yaml
 * worker:                       # a command template …
 *   command: [gzip, -k, '{file}']
 * # worker: { module: ./tasks.ts, export: render, isolation: process }   … or a task function
 * common: { level: 9 }
 * individual:                   # arrays of equal length, or a list of objects
 *   file: [a.txt, b.txt]
 * scheduler: { maxWorkers: 2, maxMemory: 8GiB, order: longest-first }
 * retries: 1
 * journal: run.journal          # relative to the batch file
 * ```
 * @module
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { LineCounter, isMap, isSeq, parseDocument } from 'yaml'
import type { Document } from 'yaml'
import { TaskosError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { isTaskFunction } from '../pool/index.js'
import { schedulers } from '../batch/index.js'
import type { BossOptions, CommandTemplate, Scheduler } from '../batch/index.js'

/** What a batch file holds, checked. */
export interface BatchFile {
  readonly path: string
  readonly worker: { module: string; export: string; isolation?: 'thread' | 'process' } | CommandTemplate
  readonly common: Record<string, unknown>
  readonly individual: Record<string, unknown[]> | Record<string, unknown>[]
  readonly scheduler: SchedulerSettings
  readonly retries: number | undefined
  readonly bind: boolean | undefined
  readonly journal: string | undefined
  readonly memoryPolicy: 'ignore' | 'warn' | 'fail' | undefined
  /** The line of a key path (`['individual', 'b']`), for errors found later. */
  lineOf(path: readonly (string | number)[]): number | undefined
}

/** Scheduler settings of a file or of the flags. */
export interface SchedulerSettings {
  maxWorkers?: number
  maxMemory?: string | number
  order?: 'submission' | 'longest-first'
}

const TOP_KEYS = ['worker', 'common', 'individual', 'scheduler', 'retries', 'bind', 'journal', 'memoryPolicy']

/** A batch file error: `FILE:LINE: message`. Code ERR_INVALID_OPTION. */
function fileError(path: string, line: number | undefined, message: string): TaskosError {
  return new TaskosError('ERR_INVALID_OPTION', `${path}${line === undefined ? '' : `:${line}`}: ${message}`)
}

/**
 * Reads and checks a batch file.
 * @throws ERR_INVALID_OPTION `FILE:LINE: …` for unreadable files, syntax errors, unknown keys and
 * values of the wrong type.
 */
export function readBatchFile(path: string): BatchFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw fileError(path, undefined, `cannot read the batch file (${(error as Error).message})`)
  }
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const first = doc.errors[0]
  if (first !== undefined)
    throw fileError(path, lines.linePos(first.pos[0]).line, first.message.split('\n')[0]!)
  const lineOf = (keyPath: readonly (string | number)[]): number | undefined => nodeLine(doc, lines, keyPath)
  const fail = (keyPath: (string | number)[], message: string): never => {
    throw fileError(path, lineOf(keyPath), `${keyPath.join('.')}: ${message}`)
  }
  const data = doc.toJS() as unknown
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw fileError(path, 1, 'expected a mapping with worker, individual, …')
  const o = data as Record<string, unknown>
  for (const key of Object.keys(o))
    if (!TOP_KEYS.includes(key)) fail([key], `unknown key (expected one of ${TOP_KEYS.join(', ')})`)

  const w = o.worker
  if (typeof w !== 'object' || w === null || Array.isArray(w))
    fail(['worker'], 'expected { command } or { module, export }')
  const wo = w as Record<string, unknown>
  let worker: BatchFile['worker']
  if ('command' in wo) {
    for (const k of Object.keys(wo))
      if (!['command', 'cwd', 'env', 'shell'].includes(k))
        fail(['worker', k], 'unknown key (command, cwd, env, shell)')
    const c = wo.command
    if (!(
      typeof c === 'string' ||
      (Array.isArray(c) && c.every((x) => ['string', 'number', 'boolean'].includes(typeof x)))
    ))
      fail(['worker', 'command'], `expected a list of arguments or a shell script, got ${describe(c)}`)
    worker = {
      command: Array.isArray(c) ? c.map(String) : (c as string),
      ...(typeof wo.cwd === 'string' ? { cwd: resolve(dirname(path), wo.cwd) } : {}),
      ...(wo.env === undefined ? {} : { env: wo.env as Record<string, string> }),
      ...(wo.shell === undefined ? {} : { shell: wo.shell as string }),
    }
  } else if ('module' in wo) {
    for (const k of Object.keys(wo))
      if (!['module', 'export', 'isolation'].includes(k))
        fail(['worker', k], 'unknown key (module, export, isolation)')
    if (typeof wo.module !== 'string' || wo.module === '')
      fail(['worker', 'module'], 'expected a module path')
    const exp = wo.export ?? 'default'
    if (typeof exp !== 'string') fail(['worker', 'export'], 'expected an export name')
    if (wo.isolation !== undefined && wo.isolation !== 'thread' && wo.isolation !== 'process')
      fail(['worker', 'isolation'], "expected 'thread' or 'process'")
    worker = {
      module: resolve(dirname(path), wo.module as string),
      export: exp as string,
      ...(wo.isolation === undefined ? {} : { isolation: wo.isolation as 'thread' | 'process' }),
    }
  } else {
    return fail(['worker'], 'expected { command: … } or { module: …, export: … }')
  }
  const common = o.common ?? {}
  if (typeof common !== 'object' || common === null || Array.isArray(common))
    fail(['common'], 'expected a mapping')
  const individual = o.individual ?? []
  if (typeof individual !== 'object' || individual === null)
    fail(['individual'], 'expected a mapping of lists or a list of mappings')
  const s = (o.scheduler ?? {}) as Record<string, unknown>
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail(['scheduler'], 'expected a mapping')
  for (const k of Object.keys(s))
    if (!['maxWorkers', 'maxMemory', 'order'].includes(k))
      fail(['scheduler', k], 'unknown key (maxWorkers, maxMemory, order)')
  if (s.maxWorkers !== undefined && !(Number.isSafeInteger(s.maxWorkers) && (s.maxWorkers as number) >= 1))
    fail(['scheduler', 'maxWorkers'], `expected an integer >= 1, got ${describe(s.maxWorkers)}`)
  if (s.order !== undefined && s.order !== 'submission' && s.order !== 'longest-first')
    fail(['scheduler', 'order'], "expected 'submission' or 'longest-first'")
  if (o.retries !== undefined && !(Number.isSafeInteger(o.retries) && (o.retries as number) >= 0))
    fail(['retries'], 'expected an integer >= 0')
  if (o.bind !== undefined && typeof o.bind !== 'boolean') fail(['bind'], 'expected true or false')
  if (o.journal !== undefined && typeof o.journal !== 'string') fail(['journal'], 'expected a file path')
  if (o.memoryPolicy !== undefined && !['ignore', 'warn', 'fail'].includes(o.memoryPolicy as string))
    fail(['memoryPolicy'], "expected 'ignore', 'warn' or 'fail'")
  return {
    path,
    worker,
    common: common as Record<string, unknown>,
    individual: individual as BatchFile['individual'],
    scheduler: s,
    retries: o.retries as number | undefined,
    bind: o.bind as boolean | undefined,
    journal: o.journal === undefined ? undefined : resolve(dirname(path), o.journal as string),
    memoryPolicy: o.memoryPolicy as BatchFile['memoryPolicy'],
    lineOf,
  }
}

function nodeLine(
  doc: Document,
  lines: LineCounter,
  keyPath: readonly (string | number)[],
): number | undefined {
  for (let n = keyPath.length; n > 0; n--) {
    const parentPath = keyPath.slice(0, n - 1)
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true)
    const last = keyPath[n - 1]
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last)
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range
      if (range !== undefined) return lines.linePos(range[0]).line
    } else if (isSeq(parent) && typeof last === 'number') {
      const range = (parent.items[last] as { range?: [number, number, number] } | undefined)?.range
      if (range !== undefined) return lines.linePos(range[0]).line
    }
  }
  return undefined
}

/** Key path of an option named in an ERR_INVALID_OPTION message (`individual[2].memory` → [individual, 2, memory]). */
export function keyPathOf(message: string): (string | number)[] | undefined {
  const m = /invalid option ([\w.[\]-]+):/.exec(message)
  if (m === null) return undefined
  return m[1]!
    .split(/\.|\[(\d+)\]/)
    .filter((x) => x !== undefined && x !== '')
    .map((x) => (/^\d+$/.test(x) ? Number(x) : x))
}

/** The scheduler of file settings overridden by flags. */
export function makeScheduler(s: SchedulerSettings): Scheduler {
  const inner =
    s.maxMemory !== undefined
      ? schedulers.maxMemory({
          limit: s.maxMemory,
          ...(s.maxWorkers === undefined ? {} : { maxWorkers: s.maxWorkers }),
        })
      : schedulers.maxWorkers(s.maxWorkers)
  return s.order === 'longest-first' ? schedulers.longerFirst(inner) : inner
}

/**
 * The boss options of a batch file (imports the worker module of a task-function worker).
 * @throws ERR_INVALID_OPTION `FILE:LINE: worker.export …` when the module or export is not a task function.
 */
export async function bossOptions(file: BatchFile): Promise<BossOptions> {
  let worker: BossOptions['worker']
  let isolation: 'thread' | 'process' | undefined
  if ('module' in file.worker) {
    let mod: Record<string, unknown>
    try {
      mod = (await import(pathToFileURL(file.worker.module).href)) as Record<string, unknown>
    } catch (error) {
      throw fileError(
        file.path,
        file.lineOf(['worker', 'module']),
        `worker.module: cannot import ${file.worker.module} (${(error as Error).message})`,
      )
    }
    const fn = mod[file.worker.export]
    if (!isTaskFunction(fn))
      throw fileError(
        file.path,
        file.lineOf(['worker', 'export']),
        `worker.export: ${JSON.stringify(file.worker.export)} is not a task function made by defineTask in ${file.worker.module}`,
      )
    worker = fn
    isolation = file.worker.isolation
  } else worker = file.worker
  return {
    worker,
    common: file.common,
    individual: file.individual as BossOptions['individual'],
    ...(isolation === undefined ? {} : { isolation }),
  }
}
