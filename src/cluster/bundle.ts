/**
 * Code shipping, client side: a task function's module is bundled with its local imports
 * (esbuild: platform node, format esm) so a node needs no copy of the user's files. npm packages
 * (bare imports) stay external: a node resolves them from its own `node_modules`. The bundle is
 * named by the SHA-256 of its bytes and stored once in the Object Store.
 * @module
 */
import { fileURLToPath } from 'node:url'
import { TaskosError } from '../kernel/index.js'
import { nodeCrypto } from '../pool/builtins.js'

export interface Bundle {
  readonly hash: string
  readonly code: Uint8Array
}

const bundles = new Map<string, Promise<Bundle>>()

/** Bundles the module at `url` (cached per URL for the life of the process). */
export function bundleModule(url: string): Promise<Bundle> {
  let bundle = bundles.get(url)
  if (bundle === undefined) {
    bundle = build(url)
    bundles.set(url, bundle)
    bundle.catch(() => bundles.delete(url))
  }
  return bundle
}

async function build(url: string): Promise<Bundle> {
  const { build: esbuild } = await import('esbuild')
  const path = url.startsWith('file:') ? fileURLToPath(url) : url
  try {
    const result = await esbuild({
      entryPoints: [path],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      keepNames: true, // defineTask finds functions by name: esbuild would rename `function double` beside `const double`
      write: false,
      logLevel: 'silent',
      // bundled modules keep their own import.meta.url semantics only loosely; name the origin
      banner: { js: `// taskos bundle of ${url}` },
    })
    const code = result.outputFiles[0]!.contents
    const hash = nodeCrypto().createHash('sha256').update(code).digest('hex').slice(0, 32)
    return { hash, code }
  } catch (error) {
    throw new TaskosError(
      'ERR_INVALID_ARGUMENT',
      `cannot bundle task module ${url} for the cluster: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
