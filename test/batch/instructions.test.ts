import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { expandInstructions } from '../../src/batch/instructions.js'
import { expandCommand, checkTemplate } from '../../src/batch/command.js'
import { formatSize, parseSize, shellQuote } from '../../src/batch/index.js'
import { instructionsKey } from '../../src/batch/journal.js'
import { throwsCode } from '../pool/helpers.js'

test('instructions: sizes parse numbers and binary/decimal units, and reject the rest naming the key', () => {
  assert.equal(parseSize('2GiB'), 2 * 1024 ** 3)
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2)
  assert.equal(parseSize('1.5 GB'), 1.5e9)
  assert.equal(parseSize('100k'), 102_400)
  assert.equal(parseSize(4096.7), 4096)
  assert.equal(parseSize('0'), 0)
  throwsCode(() => parseSize('2 parsecs', 'limit'), 'ERR_INVALID_OPTION', /invalid option limit: "2 parsecs"/)
  throwsCode(() => parseSize(-1, 'memory'), 'ERR_INVALID_OPTION', /memory/)
  throwsCode(() => parseSize(null), 'ERR_INVALID_OPTION')
  assert.equal(formatSize(2 * 1024 ** 3), '2 GiB')
  assert.equal(formatSize(1536), '1.5 KiB')
})

test('instructions: common ⊕ individual arrays give job i with element i of each key', () => {
  const jobs = expandInstructions({
    common: { quality: 90, memory: '1MiB' },
    individual: { input: ['a', 'b'], output: ['A', 'B'], expectedTime: [3, 1] },
  })
  assert.equal(jobs.length, 2)
  assert.deepEqual(jobs[1]!.instructions, {
    quality: 90,
    memory: '1MiB',
    input: 'b',
    output: 'B',
    expectedTime: 1,
    name: 'job-2',
  })
  assert.equal(jobs[0]!.memory, 1024 ** 2)
  assert.equal(jobs[0]!.expectedTime, 3)
  assert.deepEqual(
    jobs.map((j) => [j.index, j.name]),
    [
      [0, 'job-1'],
      [1, 'job-2'],
    ],
  )
})

test('instructions: a list of objects, individual keys override common ones, resources become a list', () => {
  const jobs = expandInstructions(
    {
      common: { q: 1, resources: 'disk' },
      individual: [{ name: 'x', q: 2 }, { resources: ['gpu', 'gpu', 'disk'] }],
    },
    5,
    new Set(['job-6']),
  )
  assert.deepEqual(
    jobs.map((j) => [j.index, j.name, j.instructions.q, j.resources]),
    [
      [5, 'x', 2, ['disk']],
      [6, 'job-7', 1, ['gpu', 'disk']],
    ],
  )
})

test('instructions: bad input is ERR_INVALID_OPTION naming the key, before any job is made', () => {
  const bad = (set: unknown, key: RegExp): void =>
    throwsCode(() => expandInstructions(set as never), 'ERR_INVALID_OPTION', key)
  bad({ individual: { a: [1, 2], b: [1] } }, /individual\.b: 1 values, but individual\.a has 2/)
  bad({ individual: { a: 3 } }, /individual\.a/)
  bad({ individual: [{ name: '' }] }, /individual\[0\]\.name/)
  bad(
    { individual: [{ name: 'x' }, { name: 'x' }] },
    /individual\[1\]\.name: "x" \(expected a unique job name/,
  )
  bad({ individual: [{ memory: 'lots' }] }, /individual\[0\]\.memory/)
  bad({ common: { expectedTime: 'soon' }, individual: [{}] }, /common\.expectedTime/)
  bad({ individual: [{ resources: [1] }] }, /individual\[0\]\.resources/)
  bad({ individual: [5] }, /individual\[0\]: 5/)
  bad({ common: [], individual: [] }, /option common/)
  bad({ individual: [], extra: 1 }, /option extra/)
  throwsCode(
    () => expandInstructions({ individual: [{ name: 'a' }] }, 0, new Set(['a'])),
    'ERR_INVALID_OPTION',
    /unique/,
  )
})

test('instructions: command templates fill {key} as whole arguments, arrays spread, no shell', () => {
  const line = expandCommand(
    {
      command: ['convert', '{input}', '-q', 'q={quality}', '{extra}', '{{literal}}'],
      cwd: '/tmp/{dir}',
      env: { OUT: '{output}' },
    },
    { input: 'my file; rm -rf ~', quality: 90, extra: ['-a', '-b'], dir: 'd', output: 'o.png' },
    'j',
  )
  assert.deepEqual(line, {
    file: 'convert',
    args: ['my file; rm -rf ~', '-q', 'q=90', '-a', '-b', '{literal}'],
    cwd: '/tmp/d',
    env: { OUT: 'o.png' },
  })
  throwsCode(
    () => expandCommand({ command: ['x', '{missing}'] }, {}, 'j1'),
    'ERR_INVALID_OPTION',
    /\{missing\} has no value in job "j1"/,
  )
  throwsCode(() => checkTemplate({ command: [] }), 'ERR_INVALID_OPTION', /worker\.command/)
  throwsCode(
    () => checkTemplate({ command: ['ls'], shel: 'x' } as never),
    'ERR_INVALID_OPTION',
    /worker\.shel/,
  )
})

test('instructions: values placed into a shell script are taken literally by the shell', () => {
  const nasty = `it's "$HOME" \`id\` $(echo pwned); echo x\\ *`
  assert.equal(shellQuote('plain-name.txt'), 'plain-name.txt')
  const line = expandCommand({ command: 'printf "%s|" {a} {b}' }, { a: nasty, b: ['1 2', "'"] }, 'j')
  assert.equal(line.file, '/bin/sh')
  const r = spawnSync(line.file, line.args, { encoding: 'utf8' })
  assert.equal(r.stdout, `${nasty}|1 2|'|`)
})

test('instructions: the journal key ignores key order and hashes typed arrays by content', () => {
  const a = instructionsKey({ x: 1, y: { b: 2, a: [1, 'z'] }, arr: Int32Array.from([1, 2, 3]) })
  const b = instructionsKey({ arr: Int32Array.from([1, 2, 3]), y: { a: [1, 'z'], b: 2 }, x: 1 })
  assert.equal(a, b)
  assert.notEqual(a, instructionsKey({ x: 1, y: { b: 2, a: [1, 'z'] }, arr: Int32Array.from([1, 2, 4]) }))
  assert.notEqual(a, instructionsKey({ x: 1, y: { b: 2, a: [1, 'z'] }, arr: Float32Array.from([1, 2, 3]) }))
})
