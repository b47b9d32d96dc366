/**
 * Programs found on the PATH (`setpriv` for worker processes, `perl` for the batch launcher).
 * @module
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

const found = new Map<string, string | null>()

/**
 * The absolute path of the executable `name` in the first PATH folder that holds one, or null;
 * looked up once per process.
 * @internal
 */
export function findExecutable(name: string): string | null {
  let path = found.get(name)
  if (path === undefined) {
    path = null
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (dir === '') continue
      try {
        accessSync(join(dir, name), constants.X_OK)
        path = join(dir, name)
        break
      } catch {
        // not here
      }
    }
    found.set(name, path)
  }
  return path
}
