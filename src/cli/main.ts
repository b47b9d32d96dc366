#!/usr/bin/env node
/**
 * The `taskos` command. Each subcommand lives in its own module and exports a function returning
 * its commander `Command` (`demoCommand()`, `batchCommand()`, `nodeCommand()`, `clusterCommand()`, `monitorCommand()`); this file
 * only assembles them and turns failures into a message and a non-zero exit code.
 *
 * Exit codes: 0 success; 1 a failure, a usage error (unknown command or option: the message, then
 * the help) or no command at all (the help).
 * @module
 */
import { Command } from 'commander'
import { batchCommand } from './batch.js'
import { clusterCommand } from './cluster-local.js'
import { demoCommand } from './demo.js'
import { monitorCommand } from './monitor.js'
import { nodeCommand } from './node.js'
import { packageVersion } from './version.js'

function createProgram(): Command {
  return new Command('taskos')
    .description('Concurrent, parallel and distributed tasks for Node.js: one typed API, any executor.')
    .version(packageVersion(), '-v, --version', 'print the taskos version')
    .showHelpAfterError()
    .addCommand(demoCommand())
    .addCommand(batchCommand())
    .addCommand(nodeCommand())
    .addCommand(clusterCommand())
    .addCommand(monitorCommand())
    .addHelpText(
      'after',
      '\nExamples:\n  taskos demo               the pool and kernel tour (a few seconds)\n' +
        '  taskos demo --scale 0.1   a quicker, smaller tour\n' +
        '  taskos batch jobs.yaml    run a batch file (taskos batch --help)\n' +
        '  taskos cluster --local 2  a NATS server and 2 nodes on this machine\n' +
        '  taskos monitor            a dashboard and /metrics for the cluster at nats://127.0.0.1:4222',
    )
}

try {
  await createProgram().parseAsync(process.argv)
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`error: ${message}\n`)
  if (process.env.TASKOS_DEBUG && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`)
  }
  process.exitCode = 1
}
