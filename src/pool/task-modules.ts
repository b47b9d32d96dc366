/**
 * Finding task functions in a worker: by module URL and export name (each module imported once,
 * TypeScript modules through tsx when the worker was not started with it), or from source.
 * @module
 */
import { TaskosError } from '../kernel/errors.js'
import type { TaskContext } from '../kernel/index.js'

type Body = (t: TaskContext, ...args: unknown[]) => unknown

const modules = new Map<string, Map<string, Body> | Promise<Map<string, Body>>>()
const sources = new Map<string, Body>()
let tsxRegistered: Promise<void> | undefined

/** How a module is imported (see {@link setModuleImporter}). */
type Importer = (specifier: string) => Promise<unknown>
let importModule: Importer = (specifier) => import(specifier)

/**
 * @internal Imports task modules (and tsx) with `importer` instead of this module's own `import()`.
 * The built package's worker entry compiles this code as a script, through V8's code cache
 * (worker-entry.ts), and `import()` in such a script fails: the entry, a module Node loaded, gives
 * its own.
 */
export function setModuleImporter(importer: Importer): void {
  importModule = importer
}

async function loadModule(url: string): Promise<Map<string, Body>> {
  if (/\.(c|m)?tsx?$/.test(url) && !process.execArgv.some((a) => a.includes('tsx'))) {
    tsxRegistered ??= (importModule('tsx/esm/api') as Promise<typeof import('tsx/esm/api')>).then(
      (api) => void api.register(),
      () => {
        throw new TaskosError(
          'ERR_INVALID_ARGUMENT',
          `${url} is TypeScript: install tsx so workers can load it`,
        )
      },
    )
    await tsxRegistered
  }
  const mod = (await importModule(url)) as Record<string, unknown>
  const byName = new Map<string, Body>()
  for (const value of Object.values(mod)) {
    const name = (value as { taskName?: unknown } | null)?.taskName
    if (typeof value === 'function' && typeof name === 'string') byName.set(name, value as Body)
  }
  return byName
}

function sourceFunction(source: string): Body {
  let fn = sources.get(source)
  if (fn === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a self-contained function shipped as source
    fn = (new Function(`return (${source})`) as () => Body)()
    sources.set(source, fn)
  }
  return fn
}

/**
 * @internal The task function `name` exported by the module at URL `module` (loaded once per worker,
 * TypeScript through tsx), or a promise of it while its module loads; `module` '' means `name` is a
 * self-contained function's source. The pool's worker and batch's chunk task find functions so.
 */
export function findTaskFunction(module: string, name: string): Body | Promise<Body> {
  if (module === '') return sourceFunction(name)
  const cached = modules.get(module)
  const pick = (byName: Map<string, Body>): Body => {
    const fn = byName.get(name)
    if (fn === undefined) {
      throw new TaskosError(
        'ERR_INVALID_ARGUMENT',
        `task function '${name}' is not exported by ${module} (export it: export const ${name} = defineTask(import.meta.url, function ${name}(t, …) { … }))`,
      )
    }
    return fn
  }
  if (cached instanceof Map) return pick(cached)
  const loading =
    cached ??
    loadModule(module).then(
      (byName) => {
        modules.set(module, byName)
        return byName
      },
      (error: unknown) => {
        modules.delete(module) // a later task tries again
        throw error
      },
    )
  modules.set(module, loading)
  return loading.then(pick, (error: unknown) => {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `cannot load task module ${module} (for task function '${name}'): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  })
}
