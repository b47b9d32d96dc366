// Pins the public surface: adding or removing a runtime export must be a deliberate edit here.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import * as root from '../src/index.js'
import * as kernel from '../src/kernel/index.js'
import * as pool from '../src/pool/index.js'
import * as batchModule from '../src/batch/index.js'
import * as cluster from '../src/cluster/index.js'
import * as monitor from '../src/monitor/index.js'
import * as testing from '../src/testing/index.js'

const ROOT_EXPORTS = [
  // kernel: tasks, operations, clocks
  'Kernel',
  'KernelTask',
  'Operation',
  'VirtualClock',
  'defaultKernel',
  'job',
  'realClock',
  // kernel: channels and synchronisation
  'Barrier',
  'Channel',
  'Condition',
  'Event',
  'Lock',
  'Semaphore',
  // kernel: errors and events
  'CancelledError',
  'Emitter',
  'HostLostError',
  'SerializationError',
  'TaskFailedError',
  'TaskosError',
  'TimeoutError',
  'WorkerCrashedError',
  // pool
  'Pool',
  'PoolTask',
  'defaultPool',
  'defineTask',
  'isTaskFunction',
  'partBounds',
  'shared',
  // batch
  'Boss',
  'MemoryExceededError',
  'UnrecoverableError',
  'batch',
  'expandCommand',
  'formatSize',
  'parseSize',
  'schedulers',
  'shellQuote',
  // cluster
  'AuthError',
  'Cluster',
  'ClusterChannel',
  'ConnectError',
  'Node',
  'RemoteAddress',
  'RemoteTask',
  'ServiceClient',
  'ServiceInstance',
  // monitor
  'Monitor',
]

const SCHEDULERS = ['longerFirst', 'maxMemory', 'maxWorkers']

test('exports: schedulers holds exactly the built-in schedulers', () => {
  assert.deepEqual(names(batchModule.schedulers), SCHEDULERS)
})

const CLUSTER_EXPORTS = [
  'AuthError',
  'Cluster',
  'ClusterChannel',
  'ConnectError',
  'Node',
  'RemoteAddress',
  'RemoteTask',
  'ServiceClient',
  'ServiceInstance',
]

const TESTING_EXPORTS = ['Latch', 'VirtualClock', 'freePort', 'startNats']

function names(module: object): string[] {
  return Object.keys(module).sort()
}

test('exports: the root module exports exactly the expected runtime names', () => {
  assert.deepEqual(names(root), [...ROOT_EXPORTS].sort())
})

test('exports: taskos/cluster exports exactly the expected runtime names', () => {
  assert.deepEqual(names(cluster), [...CLUSTER_EXPORTS].sort())
})

test('exports: taskos/monitor exports exactly the Monitor', () => {
  assert.deepEqual(names(monitor), ['Monitor'])
})

test('exports: the root module re-exports the kernel, pool, batch, cluster and monitor surfaces unchanged', () => {
  assert.deepEqual(
    names(root),
    [...names(kernel), ...names(pool), ...names(batchModule), ...names(cluster), ...names(monitor)].sort(),
  )
  for (const [name, value] of [
    ...Object.entries(kernel),
    ...Object.entries(pool),
    ...Object.entries(batchModule),
    ...Object.entries(cluster),
    ...Object.entries(monitor),
  ]) {
    assert.equal((root as Record<string, unknown>)[name], value, `root.${name} is kernel.${name}`)
  }
})

test('exports: taskos/testing exports exactly the expected runtime names', () => {
  assert.deepEqual(names(testing), [...TESTING_EXPORTS].sort())
  assert.equal(testing.VirtualClock, kernel.VirtualClock, 'one VirtualClock class, not a copy')
})

test('exports: every package.json export and the bin have a source module', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, string | { types: string; import: string }>
    bin: Record<string, string>
  }
  const targets = Object.values(pkg.exports)
    .filter((e): e is { types: string; import: string } => typeof e === 'object')
    .map((e) => e.import)
    .concat(Object.values(pkg.bin))
  assert.ok(targets.length >= 4)
  for (const target of targets) {
    assert.match(target, /^\.\/dist\/.+\.js$/, `${target} points into dist/`)
    const source = target.replace(/^\.\/dist\//, '../src/').replace(/\.js$/, '.ts')
    assert.ok(existsSync(new URL(source, import.meta.url)), `${target} is built from ${source.slice(3)}`)
  }
})
