/**
 * taskos's pool as plain JavaScript, for the start-up metric of bench/pool.ts: a pool started from
 * the TypeScript sources runs every worker through tsx (the pool registers it in each worker), which
 * is not what users of the published package run. `src/kernel` and `src/pool` are transpiled, without
 * type checking, with the TypeScript compiler's `transpileModule` into a directory under the OS
 * temp dir named by a hash of the sources (so it is built once per change of the sources).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const PARTS = ['kernel', 'pool']

/** The `.ts` sources to build, relative to src/, sorted. */
function sources(): string[] {
  const files: string[] = []
  for (const part of PARTS) {
    for (const f of readdirSync(join(SRC, part), { recursive: true }) as string[]) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.push(join(part, f))
    }
  }
  return files.sort()
}

/** A hash of the `src/kernel` and `src/pool` sources (16 hex digits). */
export function sourceHash(): string {
  const hash = createHash('sha256')
  for (const f of sources())
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(SRC, f)))
      .update('\0')
  return hash.digest('hex').slice(0, 16)
}

/**
 * Which taskos was measured: the git commit, the files under src/ that differ from it, and the
 * hash of the kernel and pool sources ("unknown" where git is not available).
 */
export function sourceVersion(): string {
  const git = (args: string[]): string | undefined => {
    try {
      return execFileSync('git', args, { cwd: SRC, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    } catch {
      return undefined
    }
  }
  const head = git(['rev-parse', '--short', 'HEAD'])?.trim() ?? 'unknown'
  const changed = git(['status', '--porcelain', '--', '.'])
    ?.split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(3))
  const dirty =
    changed === undefined
      ? ''
      : changed.length === 0
        ? ', no changes in src/'
        : `, uncommitted changes in ${changed.join(', ')}`
  return `commit ${head}${dirty}; src/kernel + src/pool hash ${sourceHash()}`
}

/**
 * Builds (once per version of the sources) and gives the file URL of the compiled
 * `pool/index.js`.
 */
export async function compiledPool(): Promise<string> {
  const files = sources()
  const out = join(tmpdir(), `taskos-bench-js-${sourceHash()}`)
  const index = join(out, 'pool', 'index.js')
  if (!existsSync(index)) {
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
    writeFileSync(join(staging, 'package.json'), '{ "type": "module" }\n')
    try {
      renameSync(staging, out)
    } catch {
      // another process built it at the same time
      rmSync(staging, { recursive: true, force: true })
    }
  }
  return pathToFileURL(index).href
}
