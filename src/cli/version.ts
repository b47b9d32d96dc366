/**
 * The package's version, read from package.json at run time. The file is found by the package's
 * reference to itself (`taskos/package.json`, exposed by the exports map), so it works from
 * `src/cli` under tsx and from the bundled dist/ (where this code may sit in a shared chunk) once
 * built or installed.
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
  const pkg = require('taskos/package.json') as { name?: unknown; version?: unknown }
  if (pkg.name !== 'taskos' || typeof pkg.version !== 'string') {
    throw new Error('cannot read the taskos version: taskos/package.json has no version')
  }
  return (cached = pkg.version)
}
