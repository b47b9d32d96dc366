// The one test command: every test/**/*.test.ts through node's test runner (with tsx for TypeScript),
// a hard timeout (120 s for each test and for each file as a whole: node applies it to both),
// and the runner's own closing counts. Extra arguments filter files by
// substring: `npm test -- kernel`.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

function find(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...find(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const filters = process.argv.slice(2)
const files = find('test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}
const args = ['--import', 'tsx', '--test', '--test-timeout=120000', '--test-reporter=spec', ...files]
const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
process.exit(r.status ?? 1)
