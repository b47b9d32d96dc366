// The monitor over a cluster: nodes in the snapshot and in /metrics, a killed node as a
// `host-down` event, and `taskos monitor` from the command line.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Cluster } from '../../src/cluster/index.js'
import type { HostInfo } from '../../src/cluster/index.js'
import { Monitor } from '../../src/monitor/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { double, fail } from '../fixtures/cluster-tasks.js'
import { runTsx } from '../fixtures/run-tsx.js'
import { killAllNodes, startNode } from './cluster-helpers.js'
import { startCli } from '../batch/helpers.js'
import type { CliRun } from '../batch/helpers.js'

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** `taskos <args>` from the sources (the batch tests' starter), its output so far as one string. */
async function cli(
  args: string[],
): Promise<{ child: CliRun['child']; out: () => string; exited: Promise<number | null> }> {
  const run = await startCli(args, 60_000)
  return {
    child: run.child,
    out: () => run.out.stdout + run.out.stderr,
    exited: run.exited.then((r) => r.code),
  }
}

/** Waits until the snapshot of the monitor at `url` lists a node named `name` in source `source`. */
async function nodeListed(url: string, source: string, name: string): Promise<void> {
  await until(
    async () => {
      const snap = (await (await fetch(`${url}api/snapshot`)).json()) as {
        sources: Record<string, { hosts?: HostInfo[] } | undefined>
      }
      return snap.sources[source]?.hosts?.some((h) => h.name === name) === true
    },
    10_000,
    `${name} in the snapshot`,
  )
}

describe('monitor: a cluster', { timeout: 90_000 }, () => {
  let nats: NatsServerHandle
  before(async () => {
    nats = await startNats({ jetstream: true })
  })
  after(async () => {
    await killAllNodes()
    await nats?.stop()
  })

  test('monitor: nodes show in the snapshot and /metrics; a killed node is a host-down event', async () => {
    const [, doomed] = await Promise.all([
      startNode(nats.url, 'mon-keep', ['--slots', '2', '--tags', 'gpu']),
      startNode(nats.url, 'mon-doomed', ['--slots', '1']),
    ])
    const cluster = await Cluster.connect({ servers: nats.url })
    const worker = await Cluster.connect({ servers: nats.url }) // another client runs the tasks
    const monitor = new Monitor({ prod: cluster }, { interval: 100 })
    try {
      await Promise.all([cluster.waitForHosts(2), worker.waitForHosts(2)])
      assert.deepEqual(
        await Promise.all([1, 2, 3].map(async (x) => (await worker.spawn(double, [x])).join())),
        [2, 4, 6],
      )
      assert.equal((await (await worker.spawn(fail, ['no'])).settle()).status, 'failed')
      const url = await monitor.listen()
      type Snap = {
        sources: {
          prod: {
            summary: { kind: string; done: number; failed: number; capacity: number }
            hosts: HostInfo[]
          }
        }
      }
      const snapshot = async (): Promise<Snap> => (await (await fetch(`${url}api/snapshot`)).json()) as Snap
      // the whole cluster's counts, from the nodes' pulses (the monitor's own client ran nothing);
      // each node pulses on its own, so the failure may show in a later pulse than the 3 done
      await until(
        async () => {
          const { done, failed } = (await snapshot()).sources.prod.summary
          return done === 3 && failed === 1
        },
        5000,
        'done 3 and failed 1 from the pulses',
      )
      const snap = await snapshot()
      assert.equal(snap.sources.prod.summary.kind, 'cluster')
      assert.equal(snap.sources.prod.summary.failed, 1)
      assert.equal(snap.sources.prod.summary.capacity, 3)
      assert.equal(cluster.stats().completed, 0)
      assert.equal(
        snap.sources.prod.hosts.reduce((n, h) => n + h.completed, 0),
        3,
      )
      const hosts = new Map(snap.sources.prod.hosts.map((h) => [h.name, h]))
      assert.deepEqual([...hosts.keys()].sort(), ['mon-doomed', 'mon-keep'])
      assert.deepEqual(hosts.get('mon-keep')!.tags, ['gpu'])
      const text = await (await fetch(`${url}metrics`)).text()
      assert.match(text, /^taskos_host_up\{source="prod",host="mon-keep"\} 1$/m)
      assert.match(text, /^taskos_host_slots\{source="prod",host="mon-keep"\} 2$/m)
      assert.equal(
        (text.match(/^taskos_host_completed\{source="prod",host="mon-(keep|doomed)"\} (\d+)$/gm) ?? [])
          .map((l) => Number(l.split(' ')[1]))
          .reduce((a, b) => a + b, 0),
        3,
      )
      assert.match(
        text,
        /^taskos_host_memory_bytes\{source="prod",host="mon-keep",state="total"\} [1-9]\d*$/m,
      )

      await doomed.kill('SIGKILL')
      await until(() => monitor.events().some((e) => e.type === 'host-down'), 10_000, 'host-down')
      const down = monitor.events().find((e) => e.type === 'host-down')!
      assert.equal(down.source, 'prod')
      assert.match(down.text, /^node mon-doomed down: /)
      await until(
        async () => {
          const now = await (await fetch(`${url}metrics`)).text()
          return (
            /^taskos_host_up\{source="prod",host="mon-doomed"\} 0$/m.test(now) ||
            !now.includes('host="mon-doomed"')
          )
        },
        10_000,
        'the dead node marked down or dropped in /metrics',
      )
    } finally {
      await monitor.close()
      await cluster.close()
      await worker.close()
      await killAllNodes()
    }
  })

  test('monitor: `taskos monitor --servers` serves the cluster on loopback and stops on SIGTERM', async () => {
    await startNode(nats.url, 'cli-node', ['--slots', '1'])
    const { child, out, exited } = await cli([
      'monitor',
      '--servers',
      nats.url,
      '--port',
      '0',
      '--interval',
      '100',
    ])
    try {
      await until(() => /taskos monitor: http:\/\/127\.0\.0\.1:\d+\//.test(out()), 20_000, 'the URL line')
      await nodeListed(
        /taskos monitor: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out())![1]!,
        'default',
        'cli-node',
      )
      child.kill('SIGTERM')
      assert.equal(await exited, 0, out())
    } finally {
      child.kill('SIGKILL')
      await killAllNodes()
    }
  })

  test('monitor: `taskos cluster --local 1 --monitor 0` serves the monitor of the local cluster', async () => {
    const { child, out, exited } = await cli(['cluster', '--local', '1', '--slots', '1', '--monitor', '0'])
    try {
      await until(() => /monitor: http:\/\/127\.0\.0\.1:\d+\//.test(out()), 20_000, 'the monitor line')
      await nodeListed(/monitor: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out())![1]!, 'default', 'local-1')
      child.kill('SIGINT')
      assert.equal(await exited, 0, out())
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('monitor: `taskos monitor` says clearly when no NATS server answers', async () => {
    const r = await runTsx('src/cli/main.ts', ['monitor', '--servers', 'nats://127.0.0.1:1', '--port', '0'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no NATS server answered at nats:\/\/127\.0\.0\.1:1/)
  })
})
