import { testSnippets } from '../fixtures/doc-snippets.js'

testSnippets('README.md')
