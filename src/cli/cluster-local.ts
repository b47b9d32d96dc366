/**
 * `taskos cluster --local N`: a whole cluster on this machine to try things: a nats-server (from
 * PATH, JetStream on, loopback only, temporary store) and N nodes in this process; prints the URL
 * and runs until Ctrl-C, then stops the nodes and the server.
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import type { Cluster, Node } from '../cluster/index.js'
import type { Monitor } from '../monitor/index.js'
import { TaskosError } from '../kernel/index.js'
import { onSignals, parseCount, parsePort } from './node.js'

const INSTALL_HINT =
  'nats-server was not found on PATH. Install it: `apt-get install nats-server` (Debian/Ubuntu), ' +
  '`brew install nats-server` (macOS), or download a release from https://github.com/nats-io/nats-server/releases ' +
  '(or pass --nats-server /path/to/nats-server)'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const a = server.address()
      server.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

interface LocalFlags {
  local?: number
  slots?: number
  port?: number
  natsServer: string
  cluster: string
  monitor?: number
}

/** Starts nats-server and resolves with its URL once it is ready; `stop` ends it. */
async function startServer(binary: string, port: number, store: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let log = ''
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new TaskosError('ERR_INVALID_STATE', INSTALL_HINT) : error))
    child.once('exit', (code) => reject(new TaskosError('ERR_INVALID_STATE', `nats-server exited (code ${code}): ${log.slice(-500)}`)))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk
      if (log.includes('Server is ready')) resolve()
    })
  })
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** The `taskos cluster` command. */
export function clusterCommand(): Command {
  return new Command('cluster')
    .description('try a cluster on this machine: a nats-server and N nodes (stop with Ctrl-C)')
    .requiredOption('--local <n>', 'number of nodes to start', parseCount)
    .option('--slots <n>', 'slots per node (default: cores / nodes, at least 1)', parseCount)
    .option('--port <port>', 'NATS port (default: a free one)', parseCount)
    .option('--nats-server <path>', 'the nats-server binary', 'nats-server')
    .option('--cluster <name>', 'cluster name', 'default')
    .option('--monitor <port>', 'also serve the monitor (dashboard, /metrics) on 127.0.0.1:<port> (0: any free port)', parsePort)
    .action(async (f: LocalFlags) => {
      const n = f.local!
      const { Node } = await import('../cluster/index.js') // NATS loads for this command only
      const store = mkdtempSync(join(tmpdir(), 'taskos-local-'))
      const server = await startServer(f.natsServer, f.port ?? (await freePort()), store)
      const slots = f.slots ?? Math.max(1, Math.floor(availableParallelism() / n))
      const nodes: Node[] = []
      let watch: { monitor: Monitor; cluster: Cluster } | undefined
      const stop = async (): Promise<void> => {
        await watch?.monitor.close()
        await watch?.cluster.close()
        await Promise.all(nodes.map((node) => node.close()))
        await server.stop()
        rmSync(store, { recursive: true, force: true })
      }
      try {
        for (let i = 0; i < n; i++) {
          nodes.push(await Node.start({ servers: server.url, name: f.cluster, nodeName: `local-${i + 1}`, slots }))
        }
        if (f.monitor !== undefined) {
          const { Cluster } = await import('../cluster/index.js')
          const { Monitor } = await import('../monitor/index.js')
          const cluster = await Cluster.connect({ servers: server.url, name: f.cluster })
          const monitor = new Monitor({ [f.cluster]: cluster }, { port: f.monitor })
          watch = { monitor, cluster }
          await monitor.listen()
        }
      } catch (error) {
        await stop()
        throw error
      }
      process.stdout.write(
        `taskos cluster: ${server.url} (cluster ${f.cluster}), ${n} node(s) × ${slots} slot(s)\n` +
          `  connect: await Cluster.connect({ servers: '${server.url}' })\n` +
          `  more nodes: taskos node --servers ${server.url}\n` +
          (watch === undefined ? '' : `  monitor: ${watch.monitor.url} (dashboard, /metrics, /api/snapshot)\n`) +
          '  Ctrl-C stops everything\n',
      )
      onSignals(stop)
    })
}
