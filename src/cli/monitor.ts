/**
 * `taskos monitor`: connects to a cluster as an observer and serves the monitor's dashboard, JSON
 * API and `/metrics` for it (nodes, slots, load, memory, events), until SIGINT/SIGTERM. Binds to
 * 127.0.0.1 unless `--host` says otherwise.
 * @module
 */
import { Command } from 'commander'
import { addConnectionOptions, connectionFrom, onSignals, parseCount, parsePort } from './node.js'
import type { ConnectionFlags } from './node.js'

interface MonitorFlags extends ConnectionFlags {
  host: string
  port: number
  interval: number
}

/** The `taskos monitor` command. */
export function monitorCommand(): Command {
  return addConnectionOptions(new Command('monitor').description("serve a dashboard, a JSON API and Prometheus /metrics for a cluster's nodes"))
    .option('--host <address>', 'address to bind (anything but loopback exposes the stats)', '127.0.0.1')
    .option('--port <port>', 'HTTP port (0: any free port)', parsePort, 8642)
    .option('--interval <ms>', 'sampling period of the history and the live view', parseCount, 1000)
    .action(async (f: MonitorFlags) => {
      // NATS and the HTTP server load for this command only
      const [{ Cluster }, { Monitor }] = await Promise.all([import('../cluster/index.js'), import('../monitor/index.js')])
      const cluster = await Cluster.connect({ ...connectionFrom(f) })
      const monitor = new Monitor({ [f.cluster]: cluster }, { host: f.host, port: f.port, interval: f.interval })
      let url: string
      try {
        url = await monitor.listen()
      } catch (error) {
        await cluster.close()
        throw error
      }
      process.stdout.write(`taskos monitor: ${url} (cluster ${f.cluster} on ${f.servers}; /metrics, /api/snapshot)\n`)
      onSignals(async () => {
        await monitor.close()
        await cluster.close()
      })
    })
}
