/**
 * The Boss: runs jobs (instructions) on workers under a scheduler, keeps the report, the journal
 * and the events. `batch()` is a Boss run to completion.
 *
 * Job life: pending → running → done | failed | crashed | cancelled (or skipped at once, from the
 * journal; or failed at once when the scheduler rejects it). A failed or crashed job with retries
 * left goes back to pending after its backoff, keeping its place in submission order.
 *
 * Boss life: accepting (add) → ended (end(): no more add) → finished (every job final, workers
 * stopped, journal closed, `wait()` resolves). `stop()` ends it too: running jobs finish, pending
 * ones are cancelled; `stop({ now: true })` also cancels running jobs (commands get SIGTERM, then
 * SIGKILL after `killGrace`; worker processes are terminated after the same grace).
 *
 * This file is long (≈500 lines) because the state machine is one unit: splitting it would scatter
 * the invariants across files.
 * @module
 */
import { availableParallelism } from 'node:os'
import { CancelledError, Emitter, TaskosError, realClock } from '../kernel/index.js'
import type { Clock, Listener, TimerHandle } from '../kernel/index.js'
import { invalidOption } from '../kernel/errors.js'
import { isTaskFunction } from '../pool/index.js'
import type { TaskFunction } from '../pool/index.js'
import type { CommandTemplate } from './command.js'
import { checkTemplate, expandCommand, isCommandTemplate } from './command.js'
import { MemoryExceededError, isUnrecoverable } from './errors.js'
import type { InstructionSet, JobSpec } from './instructions.js'
import { expandInstructions } from './instructions.js'
import { Journal, instructionsKey } from './journal.js'
import type { JournalEntry } from './journal.js'
import { LauncherRunner, findPerl } from './launcher.js'
import { Reaper } from './reaper.js'
import type { BatchEvent, BatchReport, BatchSummary, JobReport, JobStatus, ReportedError } from './report.js'
import { reportError } from './report.js'
import { peakRss, pinToCpu, resetPeakRss } from './rss.js'
import type { JobInfo, RunEnd, RunHandle, Runner } from './runners.js'
import { CommandRunner, FunctionRunner } from './runners.js'
import type { CustomScheduler, PendingJob, Scheduler } from './schedulers.js'
import { admit, toScheduler } from './schedulers.js'
import { formatSize } from './size.js'

/** A callback run (in the boss's process) before each job starts; a throw fails the job. */
export type BeforeJobHook = (job: JobInfo, slot: number) => void | Promise<void>

/** Retry delays: `initial · factor^(attempt-1)`, at most `max` (ms). */
export interface BackoffOptions {
  /** @default 1000 */
  initial?: number
  /** @default 2 */
  factor?: number
  /** @default 30000 */
  max?: number
}

/** Options of `new Boss()` and `batch()`; `common` and `individual` add a first set of jobs. */
export interface BossOptions<R = unknown> extends InstructionSet {
  /** A task function (`defineTask`) called as `(t, instructions, job)`, or a command template. */
  worker: TaskFunction<never[], R> | CommandTemplate
  /** Which pending jobs start when. @default schedulers.maxWorkers() (os.availableParallelism()) */
  scheduler?: Scheduler | CustomScheduler
  /** Task-function workers: processes (crash and memory isolation, RSS measured) or threads (shared memory). @default 'process' */
  isolation?: 'thread' | 'process'
  /** Pin slot i to CPU `i % cpus` (taskset; processes and commands). @default false */
  bind?: boolean
  /** Extra attempts for a failed or crashed job (not for UnrecoverableError). @default 0 */
  retries?: number
  /** Delays between attempts. @default { initial: 1000, factor: 2, max: 30000 } */
  backoff?: BackoffOptions
  /** Path of a journal file: finished jobs are appended; jobs it records as done are skipped. @default none */
  journal?: string
  /** Callbacks before each job (taylorism's scheduler_hooks). @default none */
  beforeJob?: BeforeJobHook | readonly BeforeJobHook[]
  /** A job measured over its declared `memory`: ignore, warn (event and report note) or fail (kill it). @default 'warn' */
  memoryPolicy?: 'ignore' | 'warn' | 'fail'
  /** How often running processes' RSS is sampled (ms). @default 100 */
  sampleInterval?: number
  /** How much of a command's stdout and stderr the report keeps (bytes, the end). @default 4096 */
  tailBytes?: number
  /** After a forced stop, how long (ms) a job gets before it is killed. @default 2000 */
  killGrace?: number
  /** Handle SIGINT/SIGTERM: the first drains (stop), the second kills (stop now). @default false */
  signals?: boolean
  /** Clock of the retry backoff (a VirtualClock in tests). @default realClock */
  clock?: Clock
  /**
   * How command jobs start: `'auto'` uses a small Perl helper when `perl` is on the PATH (it forks
   * far cheaper than Node, about xargs speed, and spools output to temp files), else Node's
   * `child_process.spawn`; `'node'` always uses `spawn` (output through pipes). @default 'auto'
   */
  launcher?: 'auto' | 'node'
}

/** Options of `boss.report()`. */
export interface ReportOptions {
  /** Accepted for taylorism users; every report before the end is interim. @default true */
  interim?: boolean
}

/** Options of `boss.stop()`. */
export interface StopOptions {
  /** Also cancel running jobs (instead of letting them finish). @default false */
  now?: boolean
}

/** A snapshot of a boss's counters; plain and JSON-safe. */
export interface BossStats extends BatchSummary {
  readonly slots: number
  readonly paused: boolean
  readonly ended: boolean
  readonly stopping: false | 'drain' | 'now'
}

const DEFAULTS = Object.freeze({
  isolation: 'process' as const,
  retries: 0,
  backoff: Object.freeze({ initial: 1000, factor: 2, max: 30_000 }),
  memoryPolicy: 'warn' as const,
  sampleInterval: 100,
  tailBytes: 4096,
  killGrace: 2000,
})

const OPTION_KEYS = new Set([
  'worker',
  'common',
  'individual',
  'scheduler',
  'isolation',
  'bind',
  'retries',
  'backoff',
  'journal',
  'beforeJob',
  'memoryPolicy',
  'sampleInterval',
  'tailBytes',
  'killGrace',
  'signals',
  'clock',
  'launcher',
])

/** How many pending jobs (from the head) a scheduler sees at each decision. */
const LOOKAHEAD = 1024

const now = (): number => performance.timeOrigin + performance.now()

/** @internal one job's live state. */
class JobState implements PendingJob {
  attempt = 1
  bypassed = 0
  status: JobStatus = 'pending'
  start: number | undefined
  end: number | undefined
  value: unknown
  error: ReportedError | undefined
  exitCode: number | undefined
  signal: string | undefined
  stdout: string | undefined
  stderr: string | undefined
  peak: number | undefined
  slot: number | undefined
  warnings: string[] | undefined
  handle: RunHandle | undefined
  overMemory: MemoryExceededError | undefined
  /** In the pending list and not yet launched. */
  queued = false
  launching = false
  /** The scheduler's priority (higher first), fixed when queued. */
  priority = 0
  constructor(
    readonly spec: JobSpec,
    readonly key: string,
  ) {}

  report(): JobReport {
    const r: Record<string, unknown> = {
      name: this.spec.name,
      index: this.spec.index,
      instructions: this.spec.instructions,
      status: this.status,
      attempt: this.attempt,
    }
    if (this.start !== undefined) r.start = this.start
    if (this.end !== undefined) r.end = this.end
    if (this.start !== undefined && this.end !== undefined) r.durationMs = this.end - this.start
    if (this.value !== undefined) r.result = this.value
    if (this.error !== undefined) r.error = this.error
    if (this.exitCode !== undefined) r.exitCode = this.exitCode
    if (this.signal !== undefined) r.signal = this.signal
    if (this.stdout !== undefined) r.stdout = this.stdout
    if (this.stderr !== undefined) r.stderr = this.stderr
    if (this.peak !== undefined) r.peakRssBytes = this.peak
    if (this.slot !== undefined) r.slot = this.slot
    if (this.warnings !== undefined) r.warnings = [...this.warnings]
    return r as unknown as JobReport
  }
}

/**
 * The boss of a batch: give it instructions (`add`, any time until `end`), it runs them on workers
 * under its scheduler and keeps a report. Every method is safe in every state (see each).
 * @example
 * const boss = new Boss({ worker: { command: ['gzip', '-k', '{file}'] }, scheduler: schedulers.maxWorkers(2) })
 * boss.add({ individual: { file: ['a.txt', 'b.txt'] } })
 * boss.end()
 * const report = await boss.wait()
 * @throws ERR_INVALID_OPTION naming the option (worker, scheduler, retries, …, or an instruction key).
 */
export class Boss<R = unknown> {
  readonly #scheduler: Scheduler
  readonly #runner: Runner
  readonly #opts: Required<Pick<BossOptions, 'retries' | 'memoryPolicy' | 'sampleInterval' | 'killGrace'>>
  readonly #backoff: Required<BackoffOptions>
  readonly #hooks: readonly BeforeJobHook[]
  readonly #clock: Clock
  readonly #bind: boolean
  readonly #command: CommandTemplate | undefined
  readonly #journal: Journal | undefined
  readonly #events = new Emitter<BatchEvent>()
  readonly #created = now()
  readonly #jobs: JobState[] = []
  readonly #names = new Set<string>()
  /** Pending jobs, in submission order. */
  #pending: JobState[] = []
  /** Jobs before this index have left the pending list. */
  #head = 0
  #pendingLocked = 0
  readonly #delayed = new Map<JobState, TimerHandle>()
  readonly #slots: (JobState | undefined)[]
  #running = 0
  readonly #held = new Set<string>()
  readonly #counts = { done: 0, failed: 0, crashed: 0, cancelled: 0, skipped: 0 }
  #paused = false
  #ended = false
  #stopping: false | 'drain' | 'now' = false
  #finished = false
  #finishing = false
  #pumpScheduled = false
  readonly #isPending = {
    has: (p: PendingJob): boolean => p instanceof JobState && p.status === 'pending' && p.queued,
  }
  #sampler: NodeJS.Timeout | undefined
  #report: BatchReport | undefined
  readonly #done: Promise<BatchReport>
  #resolveDone!: (r: BatchReport) => void
  #signalHandler: ((signal: NodeJS.Signals) => void) | undefined
  readonly #lastPid: (number | undefined)[]
  readonly #cpus = availableParallelism()

  constructor(options: BossOptions<R>) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object')
    for (const key of Object.keys(options))
      if (!OPTION_KEYS.has(key))
        throw invalidOption(key, (options as unknown as Record<string, unknown>)[key], 'a known option')
    this.#scheduler = toScheduler(options.scheduler)
    const isolation = options.isolation ?? DEFAULTS.isolation
    if (isolation !== 'thread' && isolation !== 'process')
      throw invalidOption('isolation', isolation, "'thread' or 'process'")
    const retries = options.retries ?? DEFAULTS.retries
    if (!Number.isSafeInteger(retries) || retries < 0)
      throw invalidOption('retries', retries, 'an integer >= 0')
    const b = options.backoff ?? {}
    this.#backoff = { ...DEFAULTS.backoff, ...b }
    for (const k of ['initial', 'factor', 'max'] as const)
      if (!(typeof this.#backoff[k] === 'number' && this.#backoff[k] >= 0))
        throw invalidOption(`backoff.${k}`, this.#backoff[k], 'a number >= 0')
    const memoryPolicy = options.memoryPolicy ?? DEFAULTS.memoryPolicy
    if (!['ignore', 'warn', 'fail'].includes(memoryPolicy))
      throw invalidOption('memoryPolicy', memoryPolicy, "'ignore', 'warn' or 'fail'")
    const sampleInterval = options.sampleInterval ?? DEFAULTS.sampleInterval
    if (!(sampleInterval >= 1)) throw invalidOption('sampleInterval', sampleInterval, 'a number of ms >= 1')
    const tailBytes = options.tailBytes ?? DEFAULTS.tailBytes
    if (!Number.isSafeInteger(tailBytes) || tailBytes < 0)
      throw invalidOption('tailBytes', tailBytes, 'an integer >= 0')
    const killGrace = options.killGrace ?? DEFAULTS.killGrace
    if (!(killGrace >= 0)) throw invalidOption('killGrace', killGrace, 'a number of ms >= 0')
    if (options.bind !== undefined && typeof options.bind !== 'boolean')
      throw invalidOption('bind', options.bind, 'a boolean')
    this.#bind = options.bind === true
    if (this.#bind && isolation === 'thread' && !isCommandTemplate(options.worker))
      throw invalidOption('bind', true, "isolation 'process' (threads cannot be pinned to a CPU)")
    const hooks =
      options.beforeJob === undefined
        ? []
        : typeof options.beforeJob === 'function'
          ? [options.beforeJob]
          : options.beforeJob
    if (!Array.isArray(hooks) || hooks.some((h) => typeof h !== 'function'))
      throw invalidOption('beforeJob', options.beforeJob, 'a function or an array of functions')
    this.#hooks = hooks as BeforeJobHook[]
    this.#clock = options.clock ?? realClock
    this.#opts = { retries, memoryPolicy, sampleInterval, killGrace }
    const slots = this.#scheduler.maxWorkers
    this.#slots = new Array<JobState | undefined>(slots).fill(undefined)
    this.#lastPid = new Array<number | undefined>(slots).fill(undefined)
    const worker = options.worker as unknown
    if (isCommandTemplate(worker)) {
      checkTemplate(worker)
      this.#command = worker
      const launcher = options.launcher ?? 'auto'
      if (launcher !== 'auto' && launcher !== 'node')
        throw invalidOption('launcher', launcher, "'auto' or 'node'")
      const perl = launcher === 'auto' ? findPerl() : null
      const bindCpus = this.#bind ? this.#cpus : undefined
      this.#runner =
        perl === null
          ? new CommandRunner(worker, tailBytes, killGrace, new Reaper(), bindCpus)
          : new LauncherRunner(perl, worker, tailBytes, killGrace, bindCpus)
    } else if (isTaskFunction(worker)) {
      this.#runner = new FunctionRunner(worker, slots, isolation, killGrace)
    } else {
      throw invalidOption(
        'worker',
        worker,
        'a task function made by defineTask, or a command template { command }',
      )
    }
    if (options.journal !== undefined && (typeof options.journal !== 'string' || options.journal === ''))
      throw invalidOption('journal', options.journal, 'a file path')
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve))
    if (options.common !== undefined || options.individual !== undefined) {
      // validated before the journal opens: a bad instruction set creates nothing
      expandInstructions({ common: options.common ?? {}, individual: options.individual ?? [] })
    }
    this.#journal = options.journal === undefined ? undefined : new Journal(options.journal)
    if (options.signals === true) {
      this.#signalHandler = (signal) => {
        const action = this.#stopping === false ? 'drain' : 'kill'
        this.#events.emit({ type: 'signal', signal, action })
        void this.stop({ now: action === 'kill' })
      }
      process.on('SIGINT', this.#signalHandler)
      process.on('SIGTERM', this.#signalHandler)
    }
    if (options.common !== undefined || options.individual !== undefined)
      this.add({ common: options.common ?? {}, individual: options.individual ?? [] })
  }

  /**
   * Adds jobs (same shapes as `batch`). Every job is validated before any is added. Jobs the journal
   * records as done are `skipped` at once; jobs the scheduler can never run `failed` at once.
   * @returns the names of the added jobs, in order.
   * @throws ERR_INVALID_OPTION naming the bad key; ERR_CLOSED after `end()` or `stop()`.
   */
  add(instructions: InstructionSet): readonly string[] {
    if (this.#ended || this.#stopping !== false)
      throw new TaskosError('ERR_CLOSED', 'the boss takes no more instructions (end() or stop() was called)')
    const specs = expandInstructions(instructions, this.#jobs.length, this.#names)
    if (this.#command !== undefined)
      for (const s of specs) expandCommand(this.#command, s.instructions, s.name)
    const fresh: JobState[] = []
    for (const spec of specs) {
      const state = new JobState(spec, this.#journal === undefined ? '' : instructionsKey(spec.instructions))
      this.#jobs.push(state)
      this.#names.add(spec.name)
      const recorded = this.#journal?.finished(spec.name, state.key)
      const rejected = recorded === undefined ? this.#scheduler.reject?.(spec) : undefined
      if (recorded !== undefined) this.#restore(state, recorded)
      else if (rejected !== undefined) {
        state.error = reportError(new TaskosError('ERR_INVALID_OPTION', `invalid option memory: ${rejected}`))
        this.#final(state, 'failed')
      } else fresh.push(state)
    }
    this.#enqueue(fresh)
    this.#schedulePump()
    return specs.map((s) => s.name)
  }

  /** No more instructions: the boss finishes once every job is final. Idempotent. */
  end(): void {
    this.#ended = true
    this.#schedulePump()
  }

  /** Waits until the batch has finished (after `end()` or `stop()`), and gives the final report. */
  wait(): Promise<BatchReport> {
    return this.#done
  }

  /** The report now: interim while the batch runs (pending/running jobs included), final after. */
  report(_options: ReportOptions = {}): BatchReport {
    return this.#report ?? { jobs: this.#jobs.map((j) => j.report()), summary: this.#summary() }
  }

  /** Starts no new job until `resume()`; running jobs go on. A no-op once finished. */
  pause(): void {
    this.#paused = true
  }

  /** Starts jobs again after `pause()`. */
  resume(): void {
    this.#paused = false
    this.#schedulePump()
  }

  /**
   * Stops the batch: no new job starts, pending ones are cancelled; running jobs finish, or with
   * `now` are cancelled too. Implies `end()`. Safe to call again (a later `now` escalates).
   * @returns the final report, as `wait()`.
   */
  stop(options: StopOptions = {}): Promise<BatchReport> {
    if (this.#finished) return this.#done
    this.#ended = true
    if (options.now === true && this.#stopping !== 'now') {
      this.#stopping = 'now'
      for (const s of this.#slots) s?.handle?.cancel(new CancelledError('the batch was stopped'))
    } else if (this.#stopping === false) this.#stopping = 'drain'
    for (const [state, timer] of this.#delayed) {
      this.#clock.clearTimer(timer)
      this.#delayed.delete(state)
      this.#cancelPending(state)
    }
    for (let i = this.#head; i < this.#pending.length; i++) this.#cancelPending(this.#pending[i]!)
    this.#pending = []
    this.#head = 0
    this.#pendingLocked = 0
    this.#schedulePump()
    return this.#done
  }

  /** Ends and waits for every job (finishing work). */
  async close(): Promise<void> {
    this.end()
    await this.#done
  }

  /** Stops now: running jobs are cancelled; resolves when everything has stopped. */
  async destroy(): Promise<void> {
    await this.stop({ now: true })
  }

  /** `await using boss = new Boss(…)`: `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends BatchEvent['type']>(type: K, listener: Listener<BatchEvent, K>): () => void {
    return this.#events.on(type, listener)
  }

  /** Removes a listener added with `on`. */
  off<K extends BatchEvent['type']>(type: K, listener: Listener<BatchEvent, K>): void {
    this.#events.off(type, listener)
  }

  /** Counters now. */
  stats(): BossStats {
    return {
      ...this.#summary(),
      slots: this.#slots.length,
      paused: this.#paused,
      ended: this.#ended,
      stopping: this.#stopping,
    }
  }

  #summary(): BatchSummary {
    const c = this.#counts
    const total = this.#jobs.length
    const final = c.done + c.failed + c.crashed + c.cancelled + c.skipped
    return {
      total,
      pending: total - final - this.#running,
      running: this.#running,
      ...c,
      wallMs: now() - this.#created,
      ok: this.#finished && final === total && c.done + c.skipped === total,
      finished: this.#finished,
    }
  }

  // ---- scheduling -------------------------------------------------------------------------------

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#finished) return
    this.#pumpScheduled = true
    queueMicrotask(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  /** Adds jobs to the pending list, kept in the scheduler's priority order (then submission order). */
  #enqueue(states: readonly JobState[]): void {
    if (states.length === 0) return
    const scheduler = this.#scheduler
    let sorted = true
    for (const st of states) {
      st.queued = true
      st.priority = scheduler.priority?.(st.spec) ?? 0
      if (st.spec.resources.length > 0) this.#pendingLocked++
      const last = this.#pending.length > this.#head ? this.#pending[this.#pending.length - 1]! : undefined
      if (last !== undefined && byPriority(last, st) > 0) sorted = false
      this.#pending.push(st)
    }
    if (!sorted) {
      this.#pending = this.#pending.slice(this.#head).sort(byPriority)
      this.#head = 0
    }
  }

  #pump(): void {
    const pending = this.#pending
    if (
      !this.#paused &&
      this.#stopping === false &&
      pending.length > this.#head &&
      this.#running < this.#slots.length
    ) {
      const freeSlots = this.#slots.length - this.#running
      // the scheduler sees a window of the head of the pending list (bounded work per launch)
      const window = pending.slice(this.#head, this.#head + LOOKAHEAD)
      const candidates =
        this.#pendingLocked === 0 && this.#held.size === 0
          ? window
          : window.filter((p) => !p.spec.resources.some((r) => this.#held.has(r)))
      const running = this.#slots
        .filter((s): s is JobState => s !== undefined)
        .map((s) => ({ spec: s.spec, slot: s.slot! }))
      const picked = this.#scheduler.launchable(candidates, running, {
        slots: this.#slots.length,
        freeSlots,
        heldResources: this.#held,
      }) as readonly JobState[]
      const admitted = admit(picked, this.#isPending, this.#held, freeSlots) as JobState[]
      if (admitted.length > 0) {
        for (const a of admitted) a.launching = true
        let maxIndex = -1
        for (const a of admitted) maxIndex = Math.max(maxIndex, a.spec.index)
        // launched jobs sit near the head: scan only up to the last of them, then close the gap by
        // moving the jobs passed over forward (the head index moves; nothing shifts the whole list)
        const kept: JobState[] = []
        let found = 0
        let i = this.#head
        for (; i < pending.length && found < admitted.length; i++) {
          const p = pending[i]!
          if (p.launching) found++
          else {
            if (p.spec.index < maxIndex) p.bypassed++
            kept.push(p)
          }
        }
        this.#head = i - kept.length
        for (let k = 0; k < kept.length; k++) pending[this.#head + k] = kept[k]!
        if (this.#head > 4096 && this.#head * 2 > pending.length) {
          this.#pending = pending.slice(this.#head)
          this.#head = 0
        }
        for (const a of admitted) {
          a.launching = false
          if (a.spec.resources.length > 0) this.#pendingLocked--
          this.#launch(a)
        }
      }
    }
    this.#maybeFinish()
  }

  #launch(state: JobState): void {
    const slot = this.#slots.indexOf(undefined)
    this.#slots[slot] = state
    this.#running++
    for (const r of state.spec.resources) this.#held.add(r)
    state.queued = false
    state.status = 'running'
    state.slot = slot
    state.start = now()
    state.end = undefined
    state.error = undefined
    state.overMemory = undefined
    const info: JobInfo = Object.freeze({ name: state.spec.name, slot, attempt: state.attempt })
    if (this.#events.listening('job-started')) this.#events.emit({ type: 'job-started', job: state.report() })
    if (this.#hooks.length === 0) this.#run(state, info)
    else {
      void (async () => {
        for (const hook of this.#hooks) await hook(info, slot)
      })().then(
        () => {
          if (this.#stopping === 'now')
            this.#ended_(state, { status: 'cancelled', error: new CancelledError('the batch was stopped') })
          else this.#run(state, info)
        },
        (error: unknown) =>
          this.#ended_(state, {
            status: 'failed',
            error: Object.assign(toError(error), { unrecoverable: true }),
          }),
      )
    }
  }

  #run(state: JobState, info: JobInfo): void {
    let handle: RunHandle
    try {
      handle = this.#runner.start(state.spec, info)
    } catch (error) {
      this.#ended_(state, { status: 'failed', error })
      return
    }
    state.handle = handle
    const pid = handle.pid()
    if (pid !== undefined) {
      if (this.#runner instanceof FunctionRunner) {
        if (this.#bind && this.#lastPid[info.slot] !== pid) pinToCpu(pid, info.slot % this.#cpus)
        this.#lastPid[info.slot] = pid
        resetPeakRss(pid)
      } else this.#sample(state)
    }
    this.#startSampler()
    void handle.end.then((end) => this.#ended_(state, end))
  }

  #sample(state: JobState): void {
    const pid = state.handle?.pid()
    if (pid === undefined) return
    const rss = peakRss(pid)
    if (rss === undefined) return
    if (state.peak === undefined || rss > state.peak) state.peak = rss
    const memory = state.spec.memory
    if (
      memory > 0 &&
      rss > memory &&
      this.#opts.memoryPolicy !== 'ignore' &&
      state.warnings === undefined &&
      state.overMemory === undefined
    ) {
      const message = `job ${JSON.stringify(state.spec.name)} used ${formatSize(rss)}, more than its declared memory ${formatSize(memory)}`
      this.#events.emit({ type: 'memory-exceeded', job: state.report(), peakRssBytes: rss, memory })
      if (this.#opts.memoryPolicy === 'warn') state.warnings = [message]
      else {
        state.overMemory = new MemoryExceededError(message, rss, memory)
        state.handle?.cancel(state.overMemory)
      }
    }
  }

  #startSampler(): void {
    if (this.#sampler !== undefined) return
    this.#sampler = setInterval(() => {
      for (const s of this.#slots) if (s?.handle !== undefined) this.#sample(s)
    }, this.#opts.sampleInterval)
    this.#sampler.unref()
  }

  #ended_(state: JobState, end: RunEnd): void {
    if (state.status !== 'running') return
    if (state.handle !== undefined && this.#runner instanceof FunctionRunner) {
      // the worker process is still there: its peak since the reset is this job's peak
      const pid = state.handle.pid()
      const rss = pid === undefined || end.status === 'crashed' ? undefined : peakRss(pid)
      if (rss !== undefined) state.peak = Math.max(state.peak ?? 0, rss)
      if (rss !== undefined) this.#sample(state)
    }
    state.handle = undefined
    state.end = now()
    this.#slots[state.slot!] = undefined
    this.#running--
    for (const r of state.spec.resources) this.#held.delete(r)
    if (this.#running === 0 && this.#sampler !== undefined) {
      clearInterval(this.#sampler)
      this.#sampler = undefined
    }
    let status = end.status
    let error = end.error
    if (state.overMemory !== undefined && status !== 'done') {
      status = 'failed'
      error = state.overMemory
    }
    state.value = end.value
    state.exitCode = end.exitCode
    state.signal = end.signal
    state.stdout = end.stdout
    state.stderr = end.stderr
    state.error = error === undefined ? undefined : reportError(error)
    const retry =
      (status === 'failed' || status === 'crashed') &&
      state.attempt <= this.#opts.retries &&
      this.#stopping === false &&
      !isUnrecoverable(error)
    if (retry) {
      const b = this.#backoff
      const delayMs = Math.min(b.max, b.initial * b.factor ** (state.attempt - 1))
      state.status = 'pending'
      if (this.#events.listening('job-retry'))
        this.#events.emit({ type: 'job-retry', job: state.report(), delayMs })
      state.attempt++
      this.#delayed.set(
        state,
        this.#clock.setTimer(delayMs, () => {
          this.#delayed.delete(state)
          if (this.#stopping !== false) return
          this.#enqueue([state])
          this.#schedulePump()
        }),
      )
    } else {
      this.#final(state, status)
    }
    this.#schedulePump()
  }

  #restore(state: JobState, e: JournalEntry): void {
    state.start = e.start
    state.end = e.end
    state.value = e.result
    state.attempt = e.attempt
    if (e.exitCode !== undefined) state.exitCode = e.exitCode
    if (e.peakRssBytes !== undefined) state.peak = e.peakRssBytes
    if (e.slot !== undefined) state.slot = e.slot
    this.#final(state, 'skipped', false)
  }

  #cancelPending(state: JobState): void {
    state.queued = false
    state.error = reportError(
      new CancelledError(`job ${JSON.stringify(state.spec.name)} never started: the batch was stopped`),
    )
    this.#final(state, 'cancelled')
  }

  #final(state: JobState, status: Exclude<JobStatus, 'pending' | 'running'>, journal = true): void {
    state.status = status
    this.#counts[status]++
    if (journal && this.#journal !== undefined && status !== 'cancelled') {
      this.#journal.append({
        v: 1,
        name: state.spec.name,
        key: state.key,
        status,
        attempt: state.attempt,
        start: state.start ?? now(),
        end: state.end ?? now(),
        durationMs: state.start !== undefined && state.end !== undefined ? state.end - state.start : 0,
        ...(state.value === undefined ? {} : { result: state.value }),
        ...(state.error === undefined ? {} : { error: state.error }),
        ...(state.exitCode === undefined ? {} : { exitCode: state.exitCode }),
        ...(state.signal === undefined ? {} : { signal: state.signal }),
        ...(state.peak === undefined ? {} : { peakRssBytes: state.peak }),
        ...(state.slot === undefined ? {} : { slot: state.slot }),
      })
    }
    if (this.#events.listening('job-finished'))
      this.#events.emit({ type: 'job-finished', job: state.report() })
    if (this.#events.listening('progress')) this.#events.emit({ type: 'progress', summary: this.#summary() })
  }

  #maybeFinish(): void {
    if (this.#finished || this.#finishing || !this.#ended || this.#running > 0) return
    if (this.#stopping === false && (this.#pending.length > this.#head || this.#delayed.size > 0)) return
    this.#finishing = true
    if (this.#signalHandler !== undefined) {
      process.off('SIGINT', this.#signalHandler)
      process.off('SIGTERM', this.#signalHandler)
    }
    const stop = this.#stopping === 'now' ? this.#runner.destroy() : this.#runner.close()
    void stop
      .catch(() => undefined)
      .then(() => {
        this.#journal?.close()
        this.#finished = true
        const report: BatchReport = { jobs: this.#jobs.map((j) => j.report()), summary: this.#summary() }
        this.#report = report
        this.#events.emit({ type: 'finished', report })
        this.#resolveDone(report)
      })
  }
}

/** Pending order: higher priority first, then submission order. */
function byPriority(a: JobState, b: JobState): number {
  return b.priority - a.priority || a.spec.index - b.spec.index
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e))
}
