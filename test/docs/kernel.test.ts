import { testSnippets } from '../fixtures/doc-snippets.js'

testSnippets('docs/kernel.md')
