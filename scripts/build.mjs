// The package build (`npm run build`, run by `prepare`): the JavaScript by esbuild, the declarations
// by tsc.
//
// - JavaScript: one esbuild run over every entry point, ESM for node, code splitting (the code two
//   entry points share lives once, in dist/chunks/, so a Kernel from `taskos/kernel` and a Pool from
//   `taskos/pool` are made by the same classes), third-party packages left as imports, linked source
//   maps into src/. A worker thread then loads a few files instead of one per source module: that is
//   most of a new pool's start-up (docs/benchmarks.md, pool section).
// - Entry points: every target of package.json's `exports` and `bin`, the pool's worker, and every
//   module that defines task functions with `defineTask(import.meta.url, …)` (a worker imports that
//   module by its URL and finds the functions among its exports, so it must stay a module of its
//   own; bundled into another entry, its URL would name that entry).
// - Declarations: `tsc -p tsconfig.build.json` (emitDeclarationOnly), beside the JavaScript, so the
//   `types` of the exports map stay valid.
//
//   node scripts/build.mjs            clean dist/, then both
//   node scripts/build.mjs --js-only  only the JavaScript (no type check)
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** A module that defines task functions by its own URL (a line that starts with such a definition). */
const TASK_MODULE = /^export const \w+(?::[^=]+)?\s*=\s*defineTask\b/m

/** The `.ts` files under `dir`, recursively, as absolute paths, sorted. */
function sourceFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dir, f))
    .sort()
}

/**
 * The entry points (absolute `.ts` paths) for the given source folder. `parts`, when given, keeps
 * only the modules of those top-level folders of src (the benchmarks build kernel + pool alone).
 * @param {string} src
 * @param {readonly string[] | undefined} parts
 */
export function entryPoints(src, parts = undefined) {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const targets = [
    ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'object' ? [e.import] : [])),
    ...Object.values(pkg.bin),
    './dist/pool/worker.js',
  ]
  const entries = new Set(targets.map((t) => join(src, t.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))))
  for (const file of sourceFiles(src)) if (TASK_MODULE.test(readFileSync(file, 'utf8'))) entries.add(file)
  const inParts = (file) => {
    if (parts === undefined) return true
    const top = relative(src, file).split(/[\\/]/)
    return top.length > 1 && parts.includes(top[0])
  }
  return [...entries].filter(inParts).sort()
}

/**
 * Bundles `src` into `outdir` with code splitting (see the header). Gives esbuild's metafile.
 * @param {{ src?: string, outdir?: string, parts?: readonly string[] }} [options]
 */
export async function buildJs({ src = join(ROOT, 'src'), outdir = join(ROOT, 'dist'), parts } = {}) {
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: entryPoints(src, parts),
    outbase: src,
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // error classes are named by their constructor, task functions by their function name: bundling
    // many modules into one scope may rename a clashing top-level name, keepNames keeps `.name`
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false, // the package ships src/
    tsconfig: join(ROOT, 'tsconfig.json'),
    metafile: true,
    logLevel: 'warning',
  })
  return result.metafile
}

/** Declarations by tsc (emitDeclarationOnly): also the full type check of src/. */
function buildTypes() {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: ROOT,
  })
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const jsOnly = process.argv.includes('--js-only')
  const t0 = performance.now()
  rmSync(join(ROOT, 'dist'), { recursive: true, force: true })
  const meta = await buildJs()
  const files = Object.keys(meta.outputs).filter((f) => f.endsWith('.js'))
  const chunks = files.filter((f) => f.includes('/chunks/'))
  console.log(
    `build: ${files.length - chunks.length} entry points + ${chunks.length} shared chunks in dist/ (${Math.round(performance.now() - t0)} ms)`,
  )
  if (!jsOnly) buildTypes()
}
