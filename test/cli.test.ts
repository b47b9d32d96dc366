// The `taskos` command end to end: a child process per run, through tsx (no build needed).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { describe, test } from 'node:test'
import { runTsx } from './fixtures/run-tsx.js'

const MAIN = 'src/cli/main.ts'
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string
}

describe('cli', { concurrency: availableParallelism() }, () => {
  test('cli: --help lists the commands and exits 0', async () => {
    const r = await runTsx(MAIN, ['--help'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Usage: taskos/)
    assert.match(r.stdout, /\bdemo\b/)
    assert.match(r.stdout, /--version/)
  })

  test('cli: --version prints the package.json version', async () => {
    const r = await runTsx(MAIN, ['--version'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), version)
  })

  test('cli: demo --scale 0.02 runs every part and exits 0', async () => {
    const r = await runTsx(MAIN, ['demo', '--scale', '0.02'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.match(r.stdout, /^taskos \S+ demo/)
    assert.match(r.stdout, /1\. 2,000 light tasks/)
    assert.match(r.stdout, /spawns\/s/)
    assert.match(r.stdout, /results, in job order: +\[0, 1, 4, 9, 16, 25, 36, 49\]/)
    assert.match(r.stdout, /child task 'writer' #\d+ failed: disk full/)
    assert.match(r.stdout, /ERR_RESTART_LIMIT/)
    assert.match(r.stdout, /0 still running/)
  })

  test('cli: demo with a bad --scale fails with a message and exit code 1', async () => {
    const r = await runTsx(MAIN, ['demo', '--scale', 'lots'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--scale/)
    assert.match(r.stderr, /expected a number > 0/)
  })

  test('cli: an unknown command prints the error and the help, exit code 1', async () => {
    const r = await runTsx(MAIN, ['frobnicate'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /unknown command 'frobnicate'/)
    assert.match(r.stderr, /Usage: taskos/)
    assert.equal(r.stdout, '')
  })

  test('cli: no command prints the help, exit code 1', async () => {
    const r = await runTsx(MAIN, [])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /Usage: taskos/)
  })
})
