/**
 * Runners execute jobs on a slot: task functions on the slot's own one-worker pool (so the boss
 * knows which worker process runs which job: its pid for RSS and CPU pinning), a chunk of one or
 * more jobs at a time; or a command as a child process in its own process group.
 * @module
 */
import { CancelledError, TaskosError, WorkerCrashedError } from '../kernel/index.js'
import { Pool } from '../pool/index.js'
import { childProcess } from '../pool/builtins.js'
import type { PoolTask, TaskFunction } from '../pool/index.js'
import type { CommandTemplate } from './command.js'
import { expandCommand } from './command.js'
import type { JobSpec } from './instructions.js'
import { DROP, runChunk } from './chunk-task.js'
import type { ChunkJob, ChunkOutcome } from './chunk-task.js'
import type { Reaper } from './reaper.js'

/** What the worker receives besides its instructions: `(t, instructions, job)`. */
export interface JobInfo {
  /** The job's name. */
  readonly name: string
  /** The slot running it, from 0 (with `bind`, the CPU it is pinned to is `slot % cpus`). */
  readonly slot: number
  /** 1 for the first run, then 2, 3, … on retries. */
  readonly attempt: number
}

/** @internal the raw end of one run. */
export interface RunEnd {
  status: 'done' | 'failed' | 'crashed' | 'cancelled'
  value?: unknown
  error?: unknown
  exitCode?: number
  signal?: string
  stdout?: string
  stderr?: string
  /** When it started and ended where it ran (ms since the epoch), when that is known. */
  startedAt?: number
  endedAt?: number
  /** It never started (a queued job dropped when the batch stopped). */
  notStarted?: true
}

/** @internal one running job (or chunk of jobs, for task functions). */
export interface RunHandle<E = RunEnd> {
  readonly end: Promise<E>
  /** Pid of the process running it, when there is one and it is known. */
  pid(): number | undefined
  /** Asks it to stop (cooperative for functions, SIGTERM for commands), then forces it after a grace. */
  cancel(reason: unknown): void
  /** Takes it back if it is still queued (not started); once started it runs on. */
  drop?(): void
}

/** @internal a command runner: one child process per job. */
export interface Runner {
  start(job: JobSpec, info: JobInfo): RunHandle
  close(): Promise<void>
  destroy(): Promise<void>
}

/** @internal the end of a chunk: the outcomes of the jobs that started, or how the chunk itself ended. */
export type ChunkEnd =
  | { readonly outcomes: readonly ChunkOutcome[]; readonly end?: undefined }
  | { readonly outcomes?: undefined; readonly end: RunEnd }

/**
 * @internal task functions, one pool of one worker per slot, started at once (with the boss). A
 * slot runs one chunk at a time: one job, or several short ones in a row (see chunk-task.ts). A
 * chunk started while the slot's chunk before it runs waits in the worker for its turn (pipelining)
 * and can be taken back until then (`drop`).
 */
export class FunctionRunner {
  readonly #fn: TaskFunction<never[], unknown>
  readonly #pools: Pool[]
  /** Per slot, its chunks not ended yet, oldest first: the first runs, the others wait in the worker. */
  readonly #live: PoolTask<ChunkOutcome[]>[][]
  /** Chunks taken back from the pool after their worker died under them, with how it died. */
  readonly #crashed = new Map<PoolTask<ChunkOutcome[]>, WorkerCrashedError>()

  constructor(
    fn: TaskFunction<never[], unknown>,
    slots: number,
    isolation: 'thread' | 'process',
    grace: number,
  ) {
    this.#fn = fn
    // every slot's worker starts now, all together: a worker process takes longer to start than
    // anything else in a batch's first milliseconds
    this.#pools = Array.from({ length: slots }, () => new Pool({ workers: 1, isolation, cancelGrace: grace }))
    this.#live = Array.from({ length: slots }, () => [])
    this.#pools.forEach((pool, slot) =>
      pool.on('worker-exit', (e) => {
        if (e.reason === 'crashed') this.#onCrash(slot, e.exitCode, e.signal)
      }),
    )
  }

  /**
   * A slot's worker died. With a single chunk on it the pool fails that chunk as crashed. With
   * several (the running one and one waiting behind it) the pool would run each again alone to tell
   * which one killed the worker: the running one (the oldest) would run twice. It is taken back
   * here instead, before the pool's new worker is up, and ends as crashed; the waiting ones run again.
   */
  #onCrash(slot: number, exitCode: number | undefined, signal: string | undefined): void {
    const live = this.#live[slot]!
    if (live.length < 2) return
    const first = live[0]!
    queueMicrotask(() => {
      const error = new WorkerCrashedError(
        `the worker of slot ${slot} died (${signal === undefined ? `exit code ${String(exitCode)}` : `killed by ${signal}`})`,
        { exitCode, signal },
      )
      this.#crashed.set(first, error)
      if (!first.cancel(error)) this.#crashed.delete(first)
    })
  }

  slotPid(slot: number): number | undefined {
    return this.#pools[slot]?.stats().perWorker[0]?.pid
  }

  /** Runs `jobs` one after the other on `slot`'s worker (after the chunks started there before). */
  start(slot: number, jobs: readonly ChunkJob[]): RunHandle<ChunkEnd> {
    const task = this.#pools[slot]!.run(runChunk, [this.#fn.taskModule, this.#fn.taskName, jobs])
    const live = this.#live[slot]!
    live.push(task)
    const end = Promise.resolve(task.settle()).then((o): ChunkEnd => {
      live.splice(live.indexOf(task), 1)
      if (o.status === 'done') return { outcomes: o.value }
      const crash = this.#crashed.get(task)
      if (crash !== undefined) {
        this.#crashed.delete(task)
        return {
          end: {
            status: 'crashed',
            error: crash,
            ...(crash.exitCode === undefined ? {} : { exitCode: crash.exitCode }),
            ...(crash.signal === undefined ? {} : { signal: crash.signal }),
          },
        }
      }
      const e = o.error as { exitCode?: unknown; signal?: unknown }
      return {
        end: {
          status: o.status,
          error: o.error,
          ...(o.status === 'crashed' && typeof e.exitCode === 'number' ? { exitCode: e.exitCode } : {}),
          ...(o.status === 'crashed' && typeof e.signal === 'string' ? { signal: e.signal } : {}),
        },
      }
    })
    return {
      end,
      pid: () => this.slotPid(slot),
      cancel: (reason) => void task.cancel(reason),
      drop: () => void task.send(DROP),
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.close()))
  }

  async destroy(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.destroy()))
  }
}

/** A bounded tail of a stream: the last `max` bytes. */
class Tail {
  #chunks: Buffer[] = []
  #size = 0
  constructor(readonly max: number) {}
  push(b: Buffer): void {
    if (this.max === 0) return
    this.#chunks.push(b)
    this.#size += b.length
    while (this.#size - this.#chunks[0]!.length >= this.max) this.#size -= this.#chunks.shift()!.length
  }
  toString(): string {
    const all = Buffer.concat(this.#chunks)
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8')
  }
}

/** @internal commands, one child process (own process group) per job. */
export class CommandRunner implements Runner {
  readonly #template: CommandTemplate
  readonly #tailBytes: number
  readonly #grace: number
  readonly #reaper: Reaper
  readonly #bind: number | undefined

  constructor(
    template: CommandTemplate,
    tailBytes: number,
    grace: number,
    reaper: Reaper,
    bindCpus: number | undefined,
  ) {
    this.#template = template
    this.#tailBytes = tailBytes
    this.#grace = grace
    this.#reaper = reaper
    this.#bind = bindCpus
  }

  start(job: JobSpec, info: JobInfo): RunHandle {
    const line = expandCommand(this.#template, job.instructions, job.name)
    let file = line.file
    let args = line.args
    if (this.#bind !== undefined) {
      args = ['-c', String(info.slot % this.#bind), file, ...args]
      file = 'taskset'
    }
    const out = new Tail(this.#tailBytes)
    const err = new Tail(this.#tailBytes)
    const child = childProcess().spawn(file, args, {
      cwd: line.cwd,
      env: line.env === undefined ? process.env : { ...process.env, ...line.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const pid = child.pid
    if (pid !== undefined) this.#reaper.add(pid)
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    let cancelled: unknown
    let killTimer: NodeJS.Timeout | undefined
    const end = new Promise<RunEnd>((resolve) => {
      child.on('error', (error) => {
        // the program could not start (ENOENT, EACCES): permanent, so marked unrecoverable
        if (pid !== undefined) this.#reaper.remove(pid)
        resolve({
          status: 'failed',
          error: Object.assign(
            new TaskosError('ERR_TASK_FAILED', `cannot run ${JSON.stringify(file)}: ${error.message}`, {
              cause: error,
            }),
            { unrecoverable: true },
          ),
        })
      })
      child.on('close', (code, signal) => {
        if (killTimer !== undefined) clearTimeout(killTimer)
        if (pid === undefined) return // 'error' settled it
        this.#reaper.remove(pid)
        const tails = { stdout: out.toString(), stderr: err.toString() }
        if (cancelled !== undefined) {
          resolve({
            status: 'cancelled',
            error: new CancelledError(`job ${JSON.stringify(job.name)} was stopped`, { cause: cancelled }),
            ...(code === null ? {} : { exitCode: code }),
            ...(signal === null ? {} : { signal }),
            ...tails,
          })
        } else if (signal !== null) {
          resolve({
            status: 'crashed',
            error: new WorkerCrashedError(`command ${JSON.stringify(file)} was killed by ${signal}`, {
              signal,
            }),
            signal,
            ...tails,
          })
        } else if (code !== 0) {
          const last = tails.stderr.trimEnd().split('\n').pop() ?? ''
          resolve({
            status: 'failed',
            error: new TaskosError(
              'ERR_TASK_FAILED',
              `command ${JSON.stringify(file)} exited with code ${String(code)}${last === '' ? '' : `: ${last.slice(-200)}`}`,
            ),
            ...(code === null ? {} : { exitCode: code }),
            ...tails,
          })
        } else resolve({ status: 'done', exitCode: 0, ...tails })
      })
    })
    return {
      end,
      pid: () => pid,
      cancel: (reason) => {
        if (
          cancelled !== undefined ||
          pid === undefined ||
          child.exitCode !== null ||
          child.signalCode !== null
        )
          return
        cancelled = reason ?? true
        kill(pid, 'SIGTERM')
        killTimer = setTimeout(() => kill(pid, 'SIGKILL'), this.#grace)
      },
    }
  }

  async close(): Promise<void> {
    this.#reaper.close()
    return Promise.resolve()
  }

  async destroy(): Promise<void> {
    this.#reaper.close()
    return Promise.resolve()
  }
}

function kill(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // the group is gone already
  }
}
