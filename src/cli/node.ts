/**
 * `taskos node`: joins a cluster as a node that runs remote tasks on its own pool, publishing its
 * status pulse, until SIGINT/SIGTERM (then it drains its running tasks and leaves).
 * @module
 */
import { Command, InvalidArgumentError } from 'commander'
import type { NodeOptions } from '../cluster/index.js'

/** Shared connection flags of `taskos node` and `taskos cluster`. */
export function addConnectionOptions(command: Command): Command {
  return command
    .option('--servers <urls>', 'NATS server URL(s), comma-separated', 'nats://127.0.0.1:4222')
    .option('--cluster <name>', 'cluster name (clusters sharing a NATS server stay apart)', 'default')
    .option('--token <token>', 'NATS token authentication (or TASKOS_NATS_TOKEN)')
    .option('--user <user>', 'NATS user')
    .option('--pass <password>', 'NATS password (or TASKOS_NATS_PASS)')
    .option('--creds <file>', 'NATS credentials file (.creds)')
    .option('--nkey-seed <seed>', 'NATS nkey seed (or TASKOS_NATS_NKEY_SEED)')
    .option('--tls-ca <file>', 'CA certificate to trust for TLS')
    .option('--tls-cert <file>', 'client certificate for TLS')
    .option('--tls-key <file>', 'client key for TLS')
}

export interface ConnectionFlags {
  servers: string
  cluster: string
  token?: string
  user?: string
  pass?: string
  creds?: string
  nkeySeed?: string
  tlsCa?: string
  tlsCert?: string
  tlsKey?: string
}

/** The secrets the command line may take from the environment instead of a flag. */
const SECRET_VARIABLES = ['TASKOS_NATS_TOKEN', 'TASKOS_NATS_PASS', 'TASKOS_NATS_NKEY_SEED'] as const

/**
 * The connection options the flags (and environment) give. The secret variables are removed from
 * this process's environment once read, so the node's workers, the tasks' child processes and
 * anything else this process starts do not inherit them.
 */
export function connectionFrom(f: ConnectionFlags): NodeOptions {
  const token = f.token ?? process.env.TASKOS_NATS_TOKEN
  const pass = f.pass ?? process.env.TASKOS_NATS_PASS
  const seed = f.nkeySeed ?? process.env.TASKOS_NATS_NKEY_SEED
  for (const name of SECRET_VARIABLES) delete process.env[name]
  const tls = f.tlsCa !== undefined || f.tlsCert !== undefined || f.tlsKey !== undefined
  return {
    servers: f.servers.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    name: f.cluster,
    ...(token === undefined ? {} : { token }),
    ...(f.user === undefined ? {} : { user: f.user }),
    ...(pass === undefined ? {} : { pass }),
    ...(f.creds === undefined ? {} : { credsFile: f.creds }),
    ...(seed === undefined ? {} : { nkeySeed: seed }),
    ...(tls ? { tls: { ...(f.tlsCa === undefined ? {} : { caFile: f.tlsCa }), ...(f.tlsCert === undefined ? {} : { certFile: f.tlsCert }), ...(f.tlsKey === undefined ? {} : { keyFile: f.tlsKey }) } } : {}),
  }
}

export function parseCount(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1')
  return n
}

/** A TCP port flag: 0..65535 (0: any free port). */
export function parsePort(value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port 0..65535')
  return n
}

interface NodeFlags extends ConnectionFlags {
  slots?: number
  name?: string
  tags?: string
  memory?: string
  isolation: 'thread' | 'process'
  pulse: number
  durable: boolean
  replicas: number
  cacheDir?: string
}

/** Stops `stop` on the first SIGINT/SIGTERM; a second one exits at once. */
export function onSignals(stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130)
    stopping = true
    process.stderr.write(`taskos: ${signal}: stopping (again to force)\n`)
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error: ${(error as Error).message}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}

/** The `taskos node` command. */
export function nodeCommand(): Command {
  return addConnectionOptions(new Command('node').description('run remote tasks for a cluster: a node with its own worker pool'))
    .option('--slots <n>', 'worker slots (default: CPU cores)', parseCount)
    .option('--name <name>', 'node name in the host list (default: host-pid)')
    .option('--tags <a,b>', 'tags spawns can require')
    .option('--memory <size>', "memory offered to tasks, e.g. '16GiB'")
    .option('--isolation <kind>', 'pool workers: thread or process', 'thread')
    .option('--pulse <ms>', 'status pulse period (ms)', parseCount, 1000)
    .option('--no-durable', 'do not take tasks from the durable work queue')
    .option('--replicas <n>', 'JetStream replicas for the work queue and object store', parseCount, 1)
    .option('--cache-dir <dir>', 'where shipped code bundles are cached')
    .action(async (f: NodeFlags) => {
      if (f.isolation !== 'thread' && f.isolation !== 'process') throw new InvalidArgumentError(`--isolation: expected thread or process, got ${String(f.isolation)}`)
      const { Node } = await import('../cluster/index.js') // NATS loads for this command only
      const node = await Node.start({
        ...connectionFrom(f),
        ...(f.slots === undefined ? {} : { slots: f.slots }),
        ...(f.name === undefined ? {} : { nodeName: f.name }),
        ...(f.tags === undefined ? {} : { tags: f.tags.split(',').map((t) => t.trim()).filter((t) => t !== '') }),
        ...(f.memory === undefined ? {} : { memory: f.memory }),
        ...(f.cacheDir === undefined ? {} : { cacheDir: f.cacheDir }),
        isolation: f.isolation,
        pulseInterval: f.pulse,
        durable: f.durable,
        replicas: f.replicas,
      })
      const s = node.stats()
      process.stdout.write(`taskos node ${node.name} (${node.id}) ready: ${s.slots} slots on ${f.servers}, cluster ${f.cluster}\n`)
      onSignals(() => node.close())
    })
}
