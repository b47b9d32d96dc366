/**
 * The entry point of every pool worker thread and worker process. It listens at once and loads the
 * runtime (./worker-runtime.ts) in the background; messages that come meanwhile wait here and go to
 * the runtime, in order, once it is loaded.
 *
 * A `load` message (the pool tells a starting worker of the next task's function) starts the import
 * of that task module right here, beside the runtime's: the two module graphs load together (the
 * task module's usually imports taskos itself) instead of one after the other, which is most of a
 * new pool's time to its first result once the thread runs. The runtime's own import of the module
 * then finds it loaded or loading; a failure is left to it (to the task that needs the function).
 * Only JavaScript modules: a TypeScript one needs tsx, which the runtime registers first.
 * @module
 */
import { parentPort } from 'node:worker_threads'
import type { ToWorker } from './protocol.js'

const held: ToWorker[] = []

/** Until the runtime is loaded: keep the message (and start loading a task module it names). */
let receive = (message: ToWorker): void => {
  held.push(message)
  if (message.t === 'load') {
    for (const [, module] of message.defs) {
      if (/\.(c|m)?js$/.test(module)) import(module).then(undefined, () => undefined)
    }
  }
}

if (parentPort !== null) parentPort.on('message', (message: ToWorker) => receive(message))
else process.on('message', (message) => receive(message as ToWorker))

const runtime = await import('./worker-runtime.js')
for (const message of held) runtime.onMessage(message)
held.length = 0
receive = runtime.onMessage
