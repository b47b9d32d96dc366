/**
 * The pools bench/pool.ts compares, behind one small interface: taskos's `Pool`, piscina, tinypool,
 * workerpool, and the hand-written raw pools. Every one gets 2 workers (threads) and runs the same
 * task bodies (`bench/fixtures/pool-bodies.mjs`); each is otherwise left at its defaults, except that
 * the peers' workers get an empty `execArgv` (the benchmark runs under `--import tsx`; a worker
 * thread of Node 20 does not run `--import` modules, and taskos's compiled pool needs none).
 *
 * taskos is its compiled JavaScript (bench/lib/compiled.ts, built as the package is), which is what
 * users of the package run, with plain JavaScript task functions (`pool-tasks-js.mjs`). From the
 * TypeScript sources every worker registers tsx: the CPU-bound case took ~2% more CPU that way.
 * @module
 */
import { Piscina } from 'piscina'
import Tinypool from 'tinypool'
import workerpool from 'workerpool'
import type { TransferListItem } from 'node:worker_threads'
import { compiledPool } from './compiled.js'
import type { BodyName } from './pool-raw.js'
import { RawPool } from './pool-raw.js'

export type { BodyName } from './pool-raw.js'

/** Every subject runs on this many workers. */
export const WORKERS = 2

/** A pool under test. `run` hands back whatever the pool gives (awaitable), without wrapping it. */
export interface Subject {
  readonly name: SubjectName
  run(body: BodyName, arg: unknown, transfer?: readonly TransferListItem[]): PromiseLike<number>
  /** Stops the workers once the work is done. */
  close(): Promise<void>
  /** Stops the workers now; queued tasks reject (callers have handled those rejections). */
  destroy(): Promise<void>
}

export type SubjectName =
  | 'taskos'
  | 'piscina'
  | 'piscina-atomics-async'
  | 'piscina-atomics-disabled'
  | 'tinypool'
  | 'workerpool'
  | 'raw-each'
  | 'raw-coalesced'

const peerWorker = new URL('../fixtures/pool-peer-worker.mjs', import.meta.url)
const workerpoolWorker = new URL('../fixtures/pool-workerpool-worker.mjs', import.meta.url)

/** Creates a subject's pool; resolves at once (its workers may still be starting). */
export function create(name: SubjectName): Subject | Promise<Subject> {
  switch (name) {
    case 'taskos':
      return createTaskos()
    case 'piscina':
    case 'piscina-atomics-async':
    case 'piscina-atomics-disabled': {
      // piscina's default, atomics 'sync', blocks an idle worker in Atomics.wait (its event loop
      // stops between tasks); 'async' waits with Atomics.waitAsync; 'disabled' only with messages
      const atomics = name === 'piscina' ? 'sync' : name === 'piscina-atomics-async' ? 'async' : 'disabled'
      const pool = new Piscina({
        filename: peerWorker.href,
        minThreads: WORKERS,
        maxThreads: WORKERS,
        execArgv: [],
        atomics,
      })
      return {
        name,
        run: (body, arg, transfer) =>
          pool.run(
            arg,
            transfer ? { name: body, transferList: [...transfer] } : { name: body },
          ) as Promise<number>,
        close: () => pool.close(),
        destroy: () => {
          // a result that arrives after destroy() is reported as an 'error' event
          pool.on('error', () => undefined)
          return pool.destroy()
        },
      }
    }
    case 'tinypool': {
      const pool = new Tinypool({
        filename: peerWorker.href,
        minThreads: WORKERS,
        maxThreads: WORKERS,
        execArgv: [],
      })
      return {
        name,
        run: (body, arg, transfer) =>
          pool.run(
            arg,
            transfer ? { name: body, transferList: [...transfer] } : { name: body },
          ) as Promise<number>,
        close: () => pool.destroy(),
        destroy: () => pool.destroy(),
      }
    }
    case 'workerpool': {
      const pool = workerpool.pool(workerpoolWorker.pathname, {
        minWorkers: WORKERS,
        maxWorkers: WORKERS,
        workerType: 'thread',
        workerThreadOpts: { execArgv: [] },
      })
      return {
        name,
        run: (body, arg, transfer) =>
          pool.exec(
            body,
            [arg],
            transfer ? { transfer: [...transfer] as object[] } : undefined,
          ) as Promise<number>,
        close: () => pool.terminate(false),
        destroy: () => pool.terminate(true),
      }
    }
    case 'raw-each':
    case 'raw-coalesced':
      return RawPool.open(WORKERS, name === 'raw-each' ? 'each' : 'coalesced').then((pool) => ({
        name,
        run: (body, arg, transfer) => pool.run(body, arg, transfer),
        close: () => pool.close(),
        destroy: () => pool.close(),
      }))
  }
}

/**
 * Creates a subject and warms it: `rounds` rounds of `perRound` tiny tasks at once, so that both
 * workers have started, loaded the task module and run the body (untimed).
 */
export async function open(name: SubjectName, rounds = 3, perRound = 200): Promise<Subject> {
  const subject = await create(name)
  for (let r = 0; r < rounds; r++) {
    const all: PromiseLike<number>[] = []
    for (let i = 0; i < perRound; i++) all.push(subject.run('inc', i))
    await Promise.all(all)
  }
  return subject
}

/** taskos's `Pool`, compiled; its task module imports the same build (`taskos/pool`). */
async function createTaskos(): Promise<Subject> {
  const compiled = await compiledPool()
  const { Pool } = (await import(compiled.pool)) as typeof import('../../src/pool/index.js')
  const tasks = (await import(compiled.tasks)) as typeof import('../fixtures/pool-tasks-js.mjs')
  const pool = new Pool({ workers: WORKERS })
  const fns = { inc: tasks.inc, spin: tasks.spin, receivedAt: tasks.receivedAt }
  return {
    name: 'taskos',
    run: (body, arg, transfer) =>
      pool.run(fns[body] as typeof tasks.inc, [arg as number], transfer && { transfer }),
    close: () => pool.close(),
    destroy: () => pool.destroy(),
  }
}
