// Every document with ```ts snippets has its test file in test/docs/ (one per document).
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { snippets } from '../fixtures/doc-snippets.js'
import { ROOT } from '../fixtures/run-tsx.js'

test('docs: every document with ts snippets has a test file running them', () => {
  const tests = readdirSync(join(ROOT, 'test', 'docs')).map((f) =>
    readFileSync(join(ROOT, 'test', 'docs', f), 'utf8'),
  )
  const documents = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
    .concat('README.md')
  for (const doc of documents) {
    if (snippets(doc).length === 0) continue
    assert.ok(
      tests.some((t) => t.includes(`testSnippets('${doc}')`)),
      `${doc} has ts snippets: add test/docs/<name>.test.ts calling testSnippets('${doc}')`,
    )
  }
})
