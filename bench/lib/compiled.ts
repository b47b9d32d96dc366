/**
 * taskos as plain JavaScript for the benchmarks (bench/pool.ts start-up, bench/batch.ts): started
 * from the TypeScript sources, every worker runs through tsx (the pool registers it in each worker),
 * which is not what users of the published package run. The chosen folders of `src/` are built
 * as the package is (scripts/build.mjs: esbuild, kernel and pool in one core file, no type check) into
 * a directory under the OS temp dir named by a hash of the sources, of the build script and of any
 * extra files (so it is built once per change of any).
 * @module
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
/** The `.ts` sources of the given folders of src/, relative to src/, sorted. */
function sources(parts: readonly string[]): string[] {
  const files: string[] = []
  for (const part of parts) {
    for (const f of readdirSync(join(SRC, part), { recursive: true }) as string[]) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) files.push(join(part, f))
    }
  }
  return files.sort()
}

/** A hash (16 hex digits) of the sources of the given folders of src/ and of the extra files. */
export function sourceHash(
  parts: readonly string[] = ['kernel', 'pool'],
  extras: Record<string, string> = {},
): string {
  const hash = createHash('sha256')
  for (const f of sources(parts))
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(SRC, f)))
      .update('\0')
  for (const [name, text] of Object.entries(extras)) hash.update(name).update('\0').update(text).update('\0')
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
 * Builds (once per version of the sources and of the build script) the given folders of src/ as
 * JavaScript the way the package is built (scripts/build.mjs: esbuild, code splitting), plus
 * `extras` (file name → text) beside them, and gives the directory (the `dist/` of a package named
 * taskos, as the pool finds its worker through the package's root).
 */
export async function compileSources(
  parts: readonly string[],
  extras: Record<string, string> = {},
): Promise<string> {
  const script = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url))
  const hashed = { ...extras, 'scripts/build.mjs': readFileSync(script, 'utf8') }
  const out = join(tmpdir(), `taskos-bench-js-${sourceHash(parts, hashed)}`)
  const dist = join(out, 'dist')
  if (!existsSync(join(out, 'package.json'))) {
    const { buildJs } = (await import(pathToFileURL(script).href)) as {
      buildJs: (options: { outdir: string; parts: readonly string[] }) => Promise<unknown>
    }
    const staging = `${out}.${process.pid}.tmp`
    rmSync(staging, { recursive: true, force: true })
    await buildJs({ outdir: join(staging, 'dist'), parts })
    for (const [name, text] of Object.entries(extras)) writeFileSync(join(staging, 'dist', name), text)
    const pkg = {
      name: 'taskos',
      type: 'module',
      exports: { './package.json': './package.json', './pool': './dist/pool/index.js' },
    }
    writeFileSync(join(staging, 'package.json'), `${JSON.stringify(pkg)}\n`) // written last: marks it complete
    try {
      renameSync(staging, out)
    } catch {
      // another process built it at the same time
      rmSync(staging, { recursive: true, force: true })
    }
  }
  return dist
}

/** The compiled pool: the file URLs of its `pool/index.js` and of the benchmark's task module. */
export interface CompiledPool {
  pool: string
  /** `bench/fixtures/pool-tasks-js.mjs`, inside the compiled package: `taskos/pool` names it. */
  tasks: string
}

/** Builds (once per version of the sources) the kernel and the pool, with the benchmark's task module. */
export async function compiledPool(): Promise<CompiledPool> {
  const fixture = (name: string): string =>
    readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')
  const dist = await compileSources(['kernel', 'pool'], {
    'pool-tasks-js.mjs': fixture('pool-tasks-js.mjs'),
    'pool-bodies.mjs': fixture('pool-bodies.mjs'),
  })
  return {
    pool: pathToFileURL(join(dist, 'pool', 'index.js')).href,
    tasks: pathToFileURL(join(dist, 'pool-tasks-js.mjs')).href,
  }
}
