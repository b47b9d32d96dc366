/**
 * The package's version, read from package.json at run time (relative to this module, so it works
 * from `src/cli` under tsx and from `dist/cli` once built or installed).
 * @module
 */
import { createRequire } from 'node:module'

let cached: string | undefined

/**
 * The `version` field of taskos's package.json.
 * @throws Error when package.json cannot be read or has no version (a broken install).
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached
  const require = createRequire(import.meta.url)
  const pkg = require('../../package.json') as { name?: unknown; version?: unknown }
  if (pkg.name !== 'taskos' || typeof pkg.version !== 'string') {
    throw new Error('cannot read the taskos version: ../../package.json is not the taskos package.json')
  }
  return (cached = pkg.version)
}
