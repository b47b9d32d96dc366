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
 * Pipelining (slot-counting schedulers): a slot's worker gets short task-function jobs in chunks
 * (#extras, #chunkEnded), and the next chunk (or long job) while the one before runs, which it starts
 * the moment that one ends (#prefetch, #ahead; #moveAhead moves it onto the slot, #steal takes it
 * back for an idle slot); commands wait in the launcher's queue for their slot (#topUp, #queued;
 * #ended_ moves the next onto the slot). Such a job stays pending until it starts.
 *
 * Options and their validation live in boss-options.ts, a job's state in job-state.ts; this file is
 * the state machine (≈800 lines: one unit, splitting it further would scatter its invariants).
 * @module
 */
import { availableParallelism } from 'node:os'
import { CancelledError, Emitter, TaskosError } from '../kernel/index.js'
import type { Clock, Listener, TimerHandle } from '../kernel/index.js'
import { resolveOptions } from './boss-options.js'
import type {
  BackoffOptions,
  BeforeJobHook,
  BossOptions,
  BossStats,
  ReportOptions,
  ResolvedOptions,
  StopOptions,
} from './boss-options.js'
import type { CommandTemplate } from './command.js'
import { expandCommand } from './command.js'
import { MemoryExceededError, isUnrecoverable } from './errors.js'
import type { InstructionSet, JobSpec } from './instructions.js'
import { expandInstructions } from './instructions.js'
import { JobState, byPriority, now } from './job-state.js'
import { Journal, instructionsKey } from './journal.js'
import type { JournalEntry } from './journal.js'
import { LauncherRunner, MAX_QUEUED } from './launcher.js'
import { Reaper } from './reaper.js'
import type { BatchEvent, BatchReport, BatchSummary, JobStatus } from './report.js'
import { reportError } from './report.js'
import { peakRss, pinToCpu, resetPeakRss } from './rss.js'
import type { ChunkEnd, JobInfo, RunEnd, RunHandle, Runner } from './runners.js'
import type { ChunkJob } from './chunk-task.js'
import { CommandRunner, FunctionRunner } from './runners.js'
import type { PendingJob, Scheduler } from './schedulers.js'
import { admit, countsOnly } from './schedulers.js'
import { findExecutable } from '../pool/executables.js'
import { deserializeError } from '../pool/serialize-error.js'
import { formatSize } from './size.js'

export type { BackoffOptions, BeforeJobHook, BossOptions, BossStats, ReportOptions, StopOptions }

/** How many pending jobs (from the head) a scheduler sees at each decision. */
const LOOKAHEAD = 1024

/**
 * Pipelining of short task-function jobs: a slot's worker gets a chunk of jobs that take about this
 * long together (by the average job time measured in the workers), at most MAX_CHUNK, and runs them
 * one after the other without a round trip to the boss between them.
 */
const CHUNK_BUDGET_MS = 2
const MAX_CHUNK = 256
/**
 * Command pipelining: a slot's commands queued in the launcher take about this long together (a
 * command costs a fork and an exec, so even `true` takes a millisecond or more), at most MAX_QUEUED.
 * The launcher reports ends when a queue is down to half, so the deeper the queue, the fewer times
 * the boss wakes per command; what it costs is that a command that turns out long holds the ones
 * queued behind it on its slot (about this long of them).
 */
const QUEUE_BUDGET_MS = 100

/** A chunk of task-function jobs handed to a slot's worker (see Boss: pipelining). */
interface Chunk {
  readonly first: JobState
  readonly extras: readonly JobState[]
  readonly handle: RunHandle<ChunkEnd>
  /** When it could start at the earliest, as the boss sees it (its launch, or the end of the one before). */
  launched: number
  /** Taken back (or cancelled) while it waited behind the slot's running chunk. */
  dropped: boolean
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
  readonly #runner: Runner | FunctionRunner
  readonly #opts: ResolvedOptions
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
  /** Whether short jobs may go to a slot's worker several at a time (see #extras). */
  #pipeline: boolean
  /** Moving average of the jobs' run time measured in the workers (ms), once there is one. */
  #avgMs: number | undefined
  /** Per slot: commands handed to the launcher behind the slot's running job (pipelining), in order. */
  readonly #queued: JobState[][]
  /** Per slot: when its running job could start at the earliest (launch, or the end of the one before). */
  readonly #since: number[]
  /** Per slot (task functions): the chunk waiting in the slot's worker behind its running one. */
  readonly #ahead: (Chunk | undefined)[]

  constructor(options: BossOptions<R>) {
    const o = resolveOptions(options)
    const slots = o.scheduler.maxWorkers
    const bindCpus = o.bind ? this.#cpus : undefined
    // the workers start first (in parallel), while the first instructions are checked
    if (o.command !== undefined) {
      const perl = o.launcher === 'auto' ? findExecutable('perl') : null
      this.#runner =
        perl === null
          ? new CommandRunner(o.command, o.tailBytes, o.killGrace, new Reaper(), bindCpus)
          : new LauncherRunner(perl, o.command, o.tailBytes, o.killGrace, bindCpus)
    } else this.#runner = new FunctionRunner(o.fn!, slots, o.isolation, o.killGrace)
    // every first job is checked before anything else is created (journal file, signal handlers)
    const initial =
      options.common !== undefined || options.individual !== undefined
        ? { common: options.common ?? {}, individual: options.individual ?? [] }
        : undefined
    let specs: JobSpec[] | undefined
    try {
      if (initial !== undefined) {
        specs = expandInstructions(initial)
        if (o.command !== undefined) for (const s of specs) expandCommand(o.command, s.instructions, s.name)
      }
    } catch (error) {
      void this.#runner.destroy().catch(() => undefined)
      throw error
    }
    this.#scheduler = o.scheduler
    this.#backoff = o.backoff
    this.#hooks = o.hooks
    this.#clock = o.clock
    this.#bind = o.bind
    this.#command = o.command
    this.#opts = o
    this.#slots = new Array<JobState | undefined>(slots).fill(undefined)
    this.#lastPid = new Array<number | undefined>(slots).fill(undefined)
    this.#queued = Array.from({ length: slots }, () => [])
    this.#since = new Array<number>(slots).fill(0)
    this.#ahead = new Array<Chunk | undefined>(slots).fill(undefined)
    this.#pipeline =
      (this.#runner instanceof FunctionRunner || this.#runner instanceof LauncherRunner) &&
      countsOnly(o.scheduler) &&
      o.hooks.length === 0
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve))
    this.#journal = o.journal === undefined ? undefined : new Journal(o.journal)
    if (o.signals) {
      this.#signalHandler = (signal) => {
        const action = this.#stopping === false ? 'drain' : 'kill'
        this.#events.emit({ type: 'signal', signal, action })
        void this.stop({ now: action === 'kill' })
      }
      process.on('SIGINT', this.#signalHandler)
      process.on('SIGTERM', this.#signalHandler)
    }
    if (specs !== undefined) this.#add(specs)
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
    return this.#add(specs)
  }

  /** Adds checked jobs (see `add`). */
  #add(specs: readonly JobSpec[]): readonly string[] {
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

  /**
   * Starts no new job until `resume()`; running jobs go on (a job waiting in a worker behind a
   * running one is taken back, unless it has just started). A no-op once finished.
   */
  pause(): void {
    this.#paused = true
    for (const a of this.#ahead) if (a !== undefined) this.#drop(a)
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
    // commands waiting in the launcher behind running ones are dropped; one that has just started
    // there runs on (drain) or is cancelled with the running ones (now)
    for (const q of this.#queued)
      for (const st of q) {
        if (this.#stopping === 'now') st.handle?.cancel(new CancelledError('the batch was stopped'))
        else st.handle?.drop?.()
      }
    // so are chunks waiting in a worker behind its running one
    for (const a of this.#ahead) {
      if (a === undefined) continue
      if (this.#stopping === 'now') {
        a.dropped = true
        a.handle.cancel(new CancelledError('the batch was stopped'))
      } else this.#drop(a)
    }
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
    // (checked again after each step: a listener of the events of a launch may pause or stop)
    const go = (): boolean => !this.#paused && this.#stopping === false
    if (go() && this.#pending.length > this.#head && this.#running < this.#slots.length) this.#launchFree()
    // the launcher's queues are topped up, and the workers get their next chunk, whether or not a
    // slot was free: a slot that keeps its next job never waits for the boss between two
    if (go() && this.#pipeline && this.#pending.length > this.#head) {
      if (this.#runner instanceof LauncherRunner) this.#topUp()
      else if (this.#runner instanceof FunctionRunner) this.#prefetch()
    }
    if (go() && this.#pending.length === this.#head && this.#running < this.#slots.length) this.#steal()
    this.#maybeFinish()
  }

  /** A slot that runs nothing and has no chunk waiting in its worker (-1: none). */
  #freeSlot(): number {
    for (let slot = 0; slot < this.#slots.length; slot++)
      if (this.#slots[slot] === undefined && this.#ahead[slot] === undefined) return slot
    return -1
  }

  /** Starts what the scheduler picks on the free slots. */
  #launchFree(): void {
    const pending = this.#pending
    let freeSlots = 0
    for (let slot = 0; slot < this.#slots.length; slot++)
      if (this.#slots[slot] === undefined && this.#ahead[slot] === undefined) freeSlots++
    if (freeSlots === 0) return
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
        this.#launch(a, this.#runner instanceof FunctionRunner ? this.#extras(a) : [])
      }
    }
  }

  /**
   * Pipelining: the jobs that go to `first`'s slot behind it, in one chunk. Only short jobs (by the
   * average measured so far), only under a scheduler that counts slots and nothing else
   * (`maxWorkers`, `longerFirst` over it), without `beforeJob` hooks, and only jobs that declare no
   * memory and no resources: for such a scheduler a slot that frees takes the head of the pending
   * list, which is what the chunk holds. The jobs are taken from the head, in order, at most a fair
   * share of what is pending (so the last jobs spread over the slots).
   */
  #extras(first: JobState): JobState[] {
    if (!this.#pipeline || !chunkable(first)) return []
    return this.#take(this.#depth(CHUNK_BUDGET_MS, MAX_CHUNK) - 1)
  }

  /**
   * Pipelining: each slot that runs a chunkable job gets its next chunk now, from the head of the
   * pending list (short jobs: about CHUNK_BUDGET_MS of them; else one job). Its worker starts it the
   * moment the running chunk ends, without a round trip to the boss; the jobs stay pending for the
   * scheduler and the report until then (#moveAhead). For a slot-counting scheduler that is the job
   * the slot would take next anyway; a slot that goes idle while another one's next chunk waits
   * takes that one back (#steal), so holding a long job behind another costs no idle slot.
   */
  #prefetch(): void {
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const running = this.#slots[slot]
      if (running === undefined || this.#ahead[slot] !== undefined || !chunkable(running)) continue
      const taken = this.#take(Math.max(1, this.#depth(CHUNK_BUDGET_MS, MAX_CHUNK)))
      if (taken.length === 0) return
      for (const st of taken) st.slot = slot
      try {
        this.#ahead[slot] = this.#sendChunk(slot, taken[0]!, taken.slice(1))
      } catch {
        this.#requeue(taken) // the pool is closing: cannot happen while the boss runs
      }
    }
  }

  /** A slot is idle and nothing is pending: the chunks waiting in other slots' workers come back. */
  #steal(): void {
    if (this.#freeSlot() < 0) return
    for (const a of this.#ahead) if (a !== undefined) this.#drop(a)
  }

  /** Takes back a chunk waiting in a worker; it comes back through #chunkEnded (or runs, if it has just started). */
  #drop(chunk: Chunk): void {
    if (chunk.dropped) return
    chunk.dropped = true
    chunk.handle.drop?.()
  }

  /** Sends `first` and `extras` to `slot`'s worker as one chunk. */
  #sendChunk(slot: number, first: JobState, extras: readonly JobState[]): Chunk {
    const jobs: ChunkJob[] = []
    for (const st of [first, ...extras])
      jobs.push([st.spec.instructions, Object.freeze({ name: st.spec.name, slot, attempt: st.attempt })])
    const handle = (this.#runner as FunctionRunner).start(slot, jobs)
    const chunk: Chunk = { first, extras, handle, launched: 0, dropped: false }
    void handle.end.then((end) => this.#chunkEnded(chunk, end))
    return chunk
  }

  /** How many short jobs a slot may hold (running and waiting), by the average job time so far. */
  #depth(budgetMs: number, max: number): number {
    const avg = this.#avgMs
    return avg === undefined ? 1 : Math.min(max, Math.floor(budgetMs / Math.max(avg, 0.001)))
  }

  /** Up to `n` chunkable jobs from the head of the pending list (at most a fair share of it). */
  #take(n: number): JobState[] {
    const pending = this.#pending
    const share = Math.ceil((pending.length - this.#head) / this.#slots.length)
    const count = Math.min(n, share)
    const taken: JobState[] = []
    while (taken.length < count && this.#head < pending.length) {
      const p = pending[this.#head]!
      if (!p.queued || !chunkable(p)) break
      p.queued = false
      taken.push(p)
      this.#head++
    }
    return taken
  }

  /**
   * Command pipelining: each running slot gets the next short commands queued behind its job in
   * the launcher, which starts each the moment the one before ends. They stay pending for the
   * scheduler and the report until then (#ended_ moves the next one onto the slot). A queue is
   * topped up once it is down to half (when the launcher reports), in one write.
   */
  #topUp(): void {
    const runner = this.#runner as LauncherRunner
    const room = this.#depth(QUEUE_BUDGET_MS, MAX_QUEUED + 1) - 1
    if (room <= 0) return
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const running = this.#slots[slot]
      const q = this.#queued[slot]!
      // topped up once down to half (the launcher reports then too): one write for several commands
      if (running === undefined || !chunkable(running) || q.length > room >> 1) continue
      for (const st of this.#take(room - q.length)) {
        st.slot = slot
        q.push(st)
        const info: JobInfo = Object.freeze({ name: st.spec.name, slot, attempt: st.attempt })
        let handle: RunHandle
        try {
          handle = runner.start(st.spec, info)
        } catch (error) {
          // cannot happen for a checked template; treated as the job's failure
          q.pop()
          this.#begin(st, slot)
          this.#ended_(st, { status: 'failed', error })
          continue
        }
        st.handle = handle
        void handle.end.then((end) => this.#queuedEnded(st, end))
      }
    }
  }

  /** The end of a command that was queued in the launcher (it may have started meanwhile). */
  #queuedEnded(state: JobState, end: RunEnd): void {
    if (state.status === 'running') return this.#ended_(state, end)
    // dropped before it started (the batch stops), or ended before the boss moved it onto its slot
    const q = this.#queued[state.slot!]!
    const i = q.indexOf(state)
    if (i >= 0) q.splice(i, 1)
    if (end.notStarted === true) {
      state.handle = undefined
      this.#requeue([state])
      return
    }
    this.#begin(state, state.slot!)
    this.#ended_(state, end)
  }

  /** Starts `state` on a free slot (and `extras` after it on the same slot's worker). */
  #launch(state: JobState, extras: readonly JobState[] = []): void {
    const slot = this.#freeSlot()
    this.#begin(state, slot)
    this.#since[slot] = state.start!
    for (const x of extras) x.slot = slot
    const info: JobInfo = Object.freeze({ name: state.spec.name, slot, attempt: state.attempt })
    if (this.#hooks.length === 0) this.#run(state, info, extras)
    else {
      void (async () => {
        for (const hook of this.#hooks) await hook(info, slot)
      })().then(
        () => {
          if (this.#stopping === 'now')
            this.#ended_(state, { status: 'cancelled', error: new CancelledError('the batch was stopped') })
          else this.#run(state, info, extras)
        },
        (error: unknown) =>
          this.#ended_(state, {
            status: 'failed',
            error: Object.assign(toError(error), { unrecoverable: true }),
          }),
      )
    }
  }

  /** `state` runs on `slot` from now on (as the scheduler sees it). */
  #begin(state: JobState, slot: number): void {
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
    if (this.#events.listening('job-started')) this.#events.emit({ type: 'job-started', job: state.report() })
  }

  #run(state: JobState, info: JobInfo, extras: readonly JobState[]): void {
    const runner = this.#runner
    let handle: RunHandle<unknown>
    try {
      if (runner instanceof FunctionRunner) {
        const chunk = this.#sendChunk(info.slot, state, extras)
        chunk.launched = state.start!
        handle = chunk.handle
      } else {
        const run = runner.start(state.spec, info)
        void run.end.then((end) => this.#ended_(state, end))
        handle = run
      }
    } catch (error) {
      this.#ended_(state, { status: 'failed', error })
      this.#requeue(extras)
      return
    }
    this.#watch(state, handle)
  }

  /** `state` runs under `handle` from now on: its process pinned (bind), its peak RSS measured from now. */
  #watch(state: JobState, handle: RunHandle<unknown>): void {
    state.handle = handle
    const pid = handle.pid()
    const slot = state.slot!
    if (pid !== undefined) {
      if (this.#runner instanceof FunctionRunner) {
        if (this.#bind && this.#lastPid[slot] !== pid) pinToCpu(pid, slot % this.#cpus)
        this.#lastPid[slot] = pid
        resetPeakRss(pid)
      } else this.#sample(state)
    }
    this.#startSampler()
  }

  /**
   * The chunk waiting in `slot`'s worker has started there (the one before ended at `at`): it runs
   * now, as far as the scheduler and the report know (its jobs' own times come with their end).
   */
  #moveAhead(slot: number, at: number): void {
    const next = this.#ahead[slot]
    if (next === undefined || next.dropped || this.#slots[slot] !== undefined) return
    this.#ahead[slot] = undefined
    this.#begin(next.first, slot)
    next.launched = this.#since[slot] = at
    this.#watch(next.first, next.handle)
  }

  /**
   * A chunk ended. Its jobs that started end in order, each with its times as measured in the
   * worker (kept within what the boss saw: not before the chunk was launched nor after its end, and
   * each after the one before); the peak RSS of the chunk is each one's. Jobs that never started go
   * back to the pending list (or are cancelled when the batch stops). A chunk of several jobs that
   * crashed or failed as a whole does not say which job did it: they all run again, alone. Then the
   * chunk waiting behind it in the worker, which started there meanwhile, runs (#moveAhead).
   */
  #chunkEnded(chunk: Chunk, end: ChunkEnd): void {
    const { first, extras } = chunk
    const slot = first.slot!
    const seen = now()
    if (this.#ahead[slot] === chunk) {
      // it ended while waiting in the worker: taken back or cancelled before it started…
      this.#ahead[slot] = undefined
      if (end.outcomes === undefined ? end.end.status === 'cancelled' : end.outcomes.length === 0) {
        this.#requeue([first, ...extras])
        this.#schedulePump()
        return
      }
      // …or it had started when it was taken back (the boss heard of the end before it first), or
      // its worker died before it heard of the drop and the pool ran it on the next one
      this.#begin(first, slot)
      chunk.launched = this.#since[slot]!
    }
    if (end.outcomes === undefined) {
      const whole = end.end
      if (extras.length === 0 || whole.status === 'cancelled') {
        this.#ended_(first, whole)
        this.#requeue(extras)
      } else {
        // which job of the chunk crashed (or broke it) is unknown: each runs again alone
        if (whole.status === 'crashed') this.#pipeline = false
        this.#unbegin(first)
        first.solo = true
        for (const x of extras) x.solo = true
        this.#requeue([first, ...extras])
      }
      this.#moveAhead(slot, seen)
      return
    }
    const outcomes = end.outcomes
    let after = chunk.launched
    for (let k = 0; k < outcomes.length; k++) {
      const job = k === 0 ? first : extras[k - 1]!
      const [ok, value, s, e] = outcomes[k]!
      if (k > 0) {
        this.#begin(job, slot)
        job.peak = first.peak
      }
      const start = Math.min(Math.max(s, after), seen)
      const stop = Math.min(Math.max(e, start), seen)
      after = stop
      job.start = start
      const ms = e - s
      this.#avgMs = this.#avgMs === undefined ? ms : this.#avgMs * 0.8 + ms * 0.2
      this.#ended_(
        job,
        ok ? { status: 'done', value } : { status: 'failed', error: deserializeError(value) },
        stop,
      )
    }
    if (outcomes.length === 0)
      this.#ended_(first, { status: 'cancelled', error: new CancelledError('the batch was stopped') })
    this.#requeue(extras.slice(Math.max(0, outcomes.length - 1)))
    this.#moveAhead(slot, after)
  }

  /** `state` did not run after all: pending again (as it was before it was launched). */
  #unbegin(state: JobState): void {
    state.handle = undefined
    this.#slots[state.slot!] = undefined
    this.#running--
    for (const r of state.spec.resources) this.#held.delete(r)
    state.status = 'pending'
    state.start = undefined
    state.slot = undefined
    state.peak = undefined
  }

  /** Jobs handed to a worker that never started: back to the pending list, or cancelled when stopping. */
  #requeue(states: readonly JobState[]): void {
    if (states.length === 0) return
    for (const st of states) st.slot = undefined
    if (this.#stopping !== false) for (const st of states) this.#cancelPending(st)
    else {
      this.#enqueue(states)
      this.#schedulePump()
    }
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

  #ended_(state: JobState, end: RunEnd, at = now()): void {
    if (state.status !== 'running') return
    if (end.notStarted === true) {
      // a queued command moved onto its slot that the launcher had dropped (the batch stops)
      this.#unbegin(state)
      this.#requeue([state])
      return
    }
    if (end.startedAt !== undefined && end.endedAt !== undefined) {
      // times where it ran, kept within what the boss saw (as for chunks)
      const start = Math.min(Math.max(end.startedAt, this.#since[state.slot!]!), at)
      state.start = start
      at = Math.min(Math.max(end.endedAt, start), at)
      const ms = end.endedAt - end.startedAt
      this.#avgMs = this.#avgMs === undefined ? ms : this.#avgMs * 0.8 + ms * 0.2
    }
    if (state.handle !== undefined && this.#runner instanceof FunctionRunner) {
      // the worker process is still there: its peak since the reset is this job's peak
      const pid = state.handle.pid()
      const rss = pid === undefined || end.status === 'crashed' ? undefined : peakRss(pid)
      if (rss !== undefined) state.peak = Math.max(state.peak ?? 0, rss)
      if (rss !== undefined) this.#sample(state)
    }
    state.handle = undefined
    state.end = at
    const slot = state.slot!
    this.#slots[slot] = undefined
    this.#running--
    for (const r of state.spec.resources) this.#held.delete(r)
    // the next command queued in the launcher for this slot has started there: it runs now
    const next = this.#queued[slot]!.shift()
    if (next !== undefined) {
      this.#since[slot] = at
      this.#begin(next, slot)
    }
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
    if (this.#queued.some((q) => q.length > 0)) return // dropped commands still to hear of
    if (this.#ahead.some((a) => a !== undefined)) return // dropped chunks too
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

/** Whether a job may share a chunk with others (pipelining): it declares no memory and no resources. */
function chunkable(state: JobState): boolean {
  return !state.solo && state.spec.memory === 0 && state.spec.resources.length === 0
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e))
}
