// Runs every ```ts snippet of README.md and docs/*.md as an ES module (.mts, importing taskos from
// src/): the snippets are complete programs, and this keeps them working. A snippet may import the
// example task modules as `from '../examples/…'` (the path from docs/, where the guides live).
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { ROOT, runTsx } from './fixtures/run-tsx.js'

const docs = join(ROOT, 'docs')
const dir = mkdtempSync(join(tmpdir(), 'taskos-docs-'))
after(() => rmSync(dir, { recursive: true, force: true }))

const src = (path: string): string => pathToFileURL(join(ROOT, 'src', path)).href
const examples = pathToFileURL(join(ROOT, 'examples')).href

describe('docs', { concurrency: availableParallelism() }, () => {
  const files = readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f))
    .concat('README.md')
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    const snippets = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
    snippets.forEach((code, i) => {
      const line = text.slice(0, text.indexOf(code)).split('\n').length
      test(`docs: ${file} snippet at line ${line} runs`, async () => {
        const path = join(dir, `${file.replace(/\W/g, '-')}-${i}.mts`)
        writeFileSync(
          path,
          code
            .replaceAll("from 'taskos/testing'", `from '${src('testing/index.ts')}'`)
            .replaceAll("from 'taskos'", `from '${src('index.ts')}'`)
            .replaceAll("from '../examples/", `from '${examples}/`),
        )
        const r = await runTsx(path)
        assert.equal(r.code, 0, `exit code ${r.code}\n${r.stderr}`)
        assert.equal(r.stderr, '', 'no warnings or errors')
      })
    })
  }
})
