// `taskos cluster --local N` and `taskos node` from the command line.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { Cluster } from '../../src/cluster/index.js'
import { ROOT, runTsx } from '../fixtures/run-tsx.js'
import { double } from '../fixtures/cluster-tasks.js'

test('cluster: `taskos cluster --local 2` starts a server and 2 nodes, prints the URL, stops on SIGINT', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cluster', '--local', '2', '--slots', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000)
      child.stdout.on('data', () => {
        const m = /taskos cluster: (nats:\/\/127\.0\.0\.1:\d+)/.exec(out)
        if (m !== null) {
          clearTimeout(timer)
          resolve(m[1]!)
        }
      })
    })
    const cluster = await Cluster.connect({ servers: url })
    const hosts = await cluster.waitForHosts(2)
    assert.deepEqual(hosts.map((h) => h.name).sort(), ['local-1', 'local-2'])
    assert.equal(await (await cluster.spawn(double, [8])).join(), 16)
    await cluster.close()
    child.kill('SIGINT')
    assert.equal(await exited, 0, out)
  } finally {
    child.kill('SIGKILL')
  }
})

test('cluster: `taskos node` says clearly when no NATS server answers', { timeout: 30_000 }, async () => {
  const r = await runTsx('src/cli/main.ts', ['node', '--servers', 'nats://127.0.0.1:1', '--slots', '1'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no NATS server answered at nats:\/\/127\.0\.0\.1:1/)
})

test('cluster: `taskos cluster --local` names the missing nats-server and how to install it', { timeout: 30_000 }, async () => {
  const r = await runTsx('src/cli/main.ts', ['cluster', '--local', '1', '--nats-server', '/nonexistent/nats-server'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /nats-server was not found.*apt-get install nats-server/)
})
