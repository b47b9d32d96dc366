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

/** `node:child_process`, loaded on the first call. */
export function childProcess(): typeof import('node:child_process') {
  return (load ??= createRequire(import.meta.url))(
    'node:child_process',
  ) as typeof import('node:child_process')
}

/** `node:crypto`, loaded on the first call. */
export function nodeCrypto(): typeof import('node:crypto') {
  return (load ??= createRequire(import.meta.url))('node:crypto') as typeof import('node:crypto')
}

/** `node:url`, loaded on the first call. */
export function nodeUrl(): typeof import('node:url') {
  return (load ??= createRequire(import.meta.url))('node:url') as typeof import('node:url')
}

/** `node:os`, loaded on the first call. */
export function nodeOs(): typeof import('node:os') {
  return (load ??= createRequire(import.meta.url))('node:os') as typeof import('node:os')
}
