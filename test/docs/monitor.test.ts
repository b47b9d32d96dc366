import { testSnippets } from '../fixtures/doc-snippets.js'

testSnippets('docs/monitor.md')
