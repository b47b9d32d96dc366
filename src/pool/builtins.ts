/**
 * Node builtins loaded on first use rather than on import. A new worker thread loads everything
 * its task module's `import … from 'taskos'` reaches, and `node:child_process` (which brings `net`,
 * `dgram` and their bindings) and `node:crypto` each cost it about 2 ms to compile: the code that
 * needs them (process workers, shell jobs, journals, code shipping) loads them when it runs. The
 * same for `node:url` and `node:os`, which a worker never needs and which cost it ~0.5 ms together.
 * @module
 */
import { createRequire } from 'node:module'

/** `require` beside this module, made on first use (a copy bundled elsewhere may never need it). */
let load: NodeJS.Require | undefined

/** The builtin `name`, loaded on the first call (`require` keeps it for the next). */
function builtin<T>(name: string): T {
  return (load ??= createRequire(import.meta.url))(name) as T
}

/** `node:child_process`, loaded on the first call. */
export const childProcess = (): typeof import('node:child_process') => builtin('node:child_process')

/** `node:crypto`, loaded on the first call. */
export const nodeCrypto = (): typeof import('node:crypto') => builtin('node:crypto')

/** `node:url`, loaded on the first call. */
export const nodeUrl = (): typeof import('node:url') => builtin('node:url')

/** `node:os`, loaded on the first call. */
export const nodeOs = (): typeof import('node:os') => builtin('node:os')
