// The package build (`npm run build`, run by `prepare`): the JavaScript by esbuild, the declarations
// by tsc.
//
// - JavaScript for node, third-party packages left as imports, linked source maps into src/:
//   - dist/core.cjs: the kernel and the pool (the worker's runtime included) bundled into one
//     CommonJS file. A worker thread starts by compiling it, and a task module's
//     `import … from 'taskos/pool'` (or 'taskos') then finds it loaded: one file instead of a dozen
//     chunks, each of which cost a new worker ~0.5 ms in Node's ES module loader. CommonJS because
//     a script, unlike an ES module in Node 20, can be compiled from V8's code cache: the worker's
//     entry, dist/pool/worker.cjs (src/pool/worker-entry.ts), does so (docs/benchmarks.md, pool
//     start-up). `import.meta.url` and `import.meta.resolve` in the core read the file's own URL;
//     its exports are one object literal of getters (esbuild's own table cost a worker 0.45 ms).
//   - ES modules that re-export the core: dist/core.js, and the entry points of the kernel and the
//     pool (dist/kernel/index.js, dist/pool/index.js), a few lines each that take its exports by
//     `createRequire` (Node's `import` of a CommonJS file would scan its 190 KB for export names).
//   - Everything else in one esbuild run with code splitting (code that two entry points share
//     lives once, in dist/chunks/), every import of a kernel or pool module pointing at
//     dist/core.js. So a Kernel from `taskos/kernel`, a Pool from `taskos/pool` and a Boss from
//     `taskos/batch` are made by the same classes.
// - Entry points: every target of package.json's `exports` and `bin`, the pool's worker, and every
//   module that defines task functions with `defineTask(import.meta.url, …)` (a worker imports that
//   module by its URL and finds the functions among its exports, so it must stay a module of its
//   own; bundled into another entry, its URL would name that entry). No such module may be in the
//   kernel or the pool (the core has one URL).
// - Checks: every name an entry point or chunk imports from the core is exported by it (two core
//   modules exporting one name would make `export *` drop it); the worker's entry bundles no module
//   of the core.
// - Declarations: `tsc -p tsconfig.build.json` (emitDeclarationOnly), beside the JavaScript, so the
//   `types` of the exports map stay valid.
//
//   node scripts/build.mjs            clean dist/, then both
//   node scripts/build.mjs --js-only  only the JavaScript (no type check)
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
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
  ]
  const entries = new Set(targets.map((t) => join(src, t.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'))))
  entries.add(join(src, WORKER_ENTRY))
  for (const file of sourceFiles(src)) if (TASK_MODULE.test(readFileSync(file, 'utf8'))) entries.add(file)
  const inParts = (file) => {
    if (parts === undefined) return true
    const top = relative(src, file).split(/[\\/]/)
    return top.length > 1 && parts.includes(top[0])
  }
  return [...entries].filter(inParts).sort()
}

/** The layers of src/ bundled together into dist/core.cjs. */
const CORE_LAYERS = ['kernel', 'pool']
/** The worker's entry in the built package (dist/pool/worker.cjs), relative to src/. */
const WORKER_ENTRY = 'pool/worker-entry.ts'
/** The worker's entry when the TypeScript sources run: neither built nor part of the core. */
const SOURCE_WORKER_ENTRY = 'pool/worker.ts'
/** How the second esbuild run names the core in its output, replaced by the core's relative path. */
const CORE_IMPORT = 'taskos:core'

/** Whether `file` (absolute) is a module of the core layers. */
function inCore(src, file) {
  return CORE_LAYERS.some((layer) => file.startsWith(join(src, layer) + sep))
}

/** The options both esbuild runs share. */
function common() {
  return {
    bundle: true,
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
    write: false,
    logLevel: 'warning',
  }
}

/** Every import of a kernel or pool module (but the entry point being built) is the core's. */
function coreExternal(src) {
  return {
    name: 'taskos-core',
    setup(build) {
      build.onResolve({ filter: /^\./ }, (args) => {
        if (args.kind === 'entry-point' || !inCore(src, resolve(args.resolveDir, args.path))) return undefined
        return { path: CORE_IMPORT, external: true }
      })
    },
  }
}

/** The names `text` (esbuild's output) imports or re-exports from `from`. */
function namesFrom(text, from) {
  const names = []
  const statement = new RegExp(`(?:import|export)\\s*\\{([^}]*)\\}\\s*from\\s*"${from}"`, 'g')
  for (const [, list] of text.matchAll(statement)) {
    for (const item of list.split(',')) {
      const name = item.trim().split(/\s+as\s+/)[0]
      if (name) names.push(name)
    }
  }
  return names
}

/**
 * An ES module re-exporting `names` of the CommonJS core at `core` (a path relative to the module),
 * taken by `createRequire`.
 */
function coreFacade(core, names) {
  return `// re-exports ${core} (scripts/build.mjs)
import { createRequire } from "node:module";
const core = createRequire(import.meta.url)(${JSON.stringify(core)});
export const { ${[...names].sort().join(', ')} } = core;
`
}

/**
 * `text` (esbuild's output) as ASCII. esbuild escapes what is not ASCII in strings, regular
 * expressions, templates and names (`charset: 'ascii'`, its default), but keeps the comments it
 * keeps as they are, and one such character makes V8 hold the whole 190 KB of the core as a
 * two-byte string, which a new worker reads, decodes and scans: 0.66 ms to read it here, 0.36 ms in
 * ASCII. Each character becomes one ASCII character per UTF-16 unit, so the source maps' columns
 * still hold.
 */
function ascii(text) {
  const near = {
    '…': '.',
    '·': '*',
    '→': '>',
    '←': '<',
    '×': 'x',
    '–': '-',
    '—': '-',
    '’': "'",
    '‘': "'",
    '“': '"',
    '”': '"',
  }
  return text.replace(/[^\p{ASCII}]/gu, (c) => near[c] ?? '?'.repeat(c.length))
}

/**
 * `text` (esbuild's CommonJS core) with its exports made by one object literal of getters at the
 * end of the file. esbuild makes a getter per name on an object at the top, then `__toCommonJS`
 * copies each onto `module.exports` through `defineProperty` and another getter: 0.45 ms of a new
 * worker thread's ~1.9 ms running the core's top level, where the literal takes ~0.05 ms
 * (docs/benchmarks.md, pool start-up). Getters keep what esbuild's kept: live bindings, read when
 * asked. The lines of the table and of the object it filled are left empty, and the literal
 * follows the last line of code, so the source map still holds.
 */
function plainExports(text) {
  const table = /^__export\(core_exports, \{\n((?: {2}[\w$]+: \(\) => [\w$]+,?\n)+)\}\);\n/m.exec(text)
  const object = 'var core_exports = {};\n'
  const assignment = 'module.exports = __toCommonJS(core_exports);\n'
  const annotation = '\n0 && (module.exports = {'
  if (table === null || ![object, assignment, annotation].every((part) => text.includes(part)))
    throw new Error("dist/core.cjs: esbuild's export table not found (did esbuild change?)")
  const getters = table[1]
    .trimEnd()
    .split('\n')
    .map((line) => line.replace(/^ {2}([\w$]+): \(\) => ([\w$]+),?$/, 'get $1() { return $2; }'))
  const exports = `\nmodule.exports = { ${getters.join(', ')} };`
  return text
    .replace(table[0], table[0].replace(/[^\n]/g, ''))
    .replace(object, '\n')
    .replace(assignment, '\n')
    .replace(annotation, () => exports + annotation)
}

/** The core's export names, from esbuild's annotation of a CommonJS output for Node. */
function cjsExports(text) {
  const list = /^0 && \(module\.exports = \{([^}]*)\}\);$/m.exec(text)?.[1]
  if (list === undefined) throw new Error('dist/core.cjs: no export annotation (did esbuild change?)')
  return new Set(
    list
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
  )
}

/**
 * Bundles `src` into `outdir`: the core, then the rest (see the header). Gives the outputs' paths
 * (relative to the working directory, as esbuild's metafile names them).
 * @param {{ src?: string, outdir?: string, parts?: readonly string[] }} [options] `parts` keeps only
 *   the entry points of those folders of src/ (the benchmarks build kernel + pool alone)
 */
export async function buildJs({ src = join(ROOT, 'src'), outdir = join(ROOT, 'dist'), parts } = {}) {
  const { build } = await import('esbuild')
  const entries = entryPoints(src, parts)
  const misplaced = entries.filter((f) => inCore(src, f) && TASK_MODULE.test(readFileSync(f, 'utf8')))
  if (misplaced.length > 0)
    throw new Error(`task modules cannot be in ${CORE_LAYERS.join(' or ')}: ${misplaced.join(', ')}`)
  const workerEntry = join(src, WORKER_ENTRY)

  // the core: every module of its layers but their entry points, re-exported by one stdin module
  const modules = CORE_LAYERS.flatMap((layer) => sourceFiles(join(src, layer))).filter(
    (f) => !entries.includes(f) && f !== join(src, SOURCE_WORKER_ENTRY),
  )
  const core = await build({
    ...common(),
    format: 'cjs',
    stdin: {
      contents: modules
        .map((f) => `export * from './${relative(src, f).split(sep).join('/').replace(/\.ts$/, '.js')}'`)
        .join('\n'),
      resolveDir: src,
      sourcefile: 'core.ts',
      loader: 'ts',
    },
    define: { 'import.meta.url': '__taskos.url', 'import.meta.resolve': '__taskos.resolve' },
    banner: {
      js: [
        // before the banner's code: the core is strict code, as the ES modules it is made of
        '"use strict";',
        '// the kernel and the pool (scripts/build.mjs); import.meta.url and import.meta.resolve read this',
        "// file's, loading node:url when first asked (a worker thread never needs it)",
        'const __taskos = {',
        '  get url() { return require("node:url").pathToFileURL(__filename).href; },',
        '  resolve: (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href,',
        '};',
      ].join('\n'),
    },
    outfile: join(outdir, 'core.cjs'),
  })
  const coreFile = core.outputFiles.find((f) => f.path.endsWith('core.cjs'))
  const exported = cjsExports(coreFile.text)

  // the worker's entry: CommonJS too; it loads the core by its path, and bundles none of it
  const worker = await build({
    ...common(),
    format: 'cjs',
    entryPoints: [workerEntry],
    outfile: join(outdir, 'pool', 'worker.cjs'),
  })
  const bundled = Object.keys(worker.metafile.inputs).filter((f) => resolve(f) !== workerEntry)
  if (bundled.length > 0)
    throw new Error(`${WORKER_ENTRY} must bundle no other module: ${bundled.join(', ')}`)

  // the entry points of the kernel and the pool: built only for their export names
  const facades = await build({
    ...common(),
    entryPoints: entries.filter((f) => inCore(src, f) && f !== workerEntry),
    outbase: src,
    outdir,
    sourcemap: false,
    plugins: [coreExternal(src)],
  })
  const others = entries.filter((f) => !inCore(src, f))
  const rest =
    others.length === 0
      ? { outputFiles: [], metafile: { outputs: {} } }
      : await build({
          ...common(),
          entryPoints: others,
          outbase: src,
          outdir,
          splitting: true,
          chunkNames: 'chunks/[name]-[hash]',
          plugins: [coreExternal(src)],
        })

  const missing = []
  const written = []
  const write = (path, text) => {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, /\.c?js$/.test(path) ? ascii(text) : text)
    written.push(relative(process.cwd(), path))
  }
  const relativeTo = (file, target) => {
    const path = relative(dirname(file), join(outdir, target)).split(sep).join('/')
    return path.startsWith('.') ? path : `./${path}`
  }
  for (const file of [...core.outputFiles, ...worker.outputFiles])
    write(file.path, file === coreFile ? plainExports(file.text) : file.text)
  write(join(outdir, 'core.js'), coreFacade('./core.cjs', exported))
  for (const file of facades.outputFiles) {
    // what the entry point exports, each taken from the core under the same name (a renaming
    // re-export, `export { a as b }`, would be missing from the core: said below)
    const names = facades.metafile.outputs[relative(process.cwd(), file.path)].exports
    for (const name of names)
      if (!exported.has(name)) missing.push(`${relative(outdir, file.path)} exports ${name}`)
    write(file.path, coreFacade(relativeTo(file.path, 'core.cjs'), names))
  }
  for (const file of rest.outputFiles) {
    let text = file.text
    if (file.path.endsWith('.js')) {
      for (const name of namesFrom(text, CORE_IMPORT)) {
        if (!exported.has(name)) missing.push(`${relative(outdir, file.path)} imports ${name}`)
      }
      text = text.replaceAll(`"${CORE_IMPORT}"`, JSON.stringify(relativeTo(file.path, 'core.js')))
    }
    write(file.path, text)
  }
  if (missing.length > 0) {
    throw new Error(
      `names not exported by dist/core.cjs (is a name exported by two core modules?): ${missing.join('; ')}`,
    )
  }
  return written
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
  const files = (await buildJs()).filter((f) => /\.c?js$/.test(f) && !f.endsWith('core.js'))
  const chunks = files.filter((f) => f.includes('/chunks/'))
  console.log(
    `build: dist/core.cjs, ${files.length - chunks.length - 1} entry points + ${chunks.length} shared chunks (${Math.round(performance.now() - t0)} ms)`,
  )
  if (!jsOnly) buildTypes()
}
