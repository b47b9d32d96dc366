/**
 * `taskos batch FILE`: runs a batch file (YAML or JSON, see batch-file.ts) with a live progress bar
 * on a terminal (plain lines otherwise), a summary table at the end, and an exit code: 0 only when
 * every job succeeded (done, or skipped as done in the journal); 1 otherwise, or for a bad file
 * (`FILE:LINE: message`). SIGINT/SIGTERM: the first drains (running jobs finish), the second kills
 * them; the report is written either way.
 * @module
 */
import { writeFileSync } from 'node:fs'
import { Command, InvalidArgumentError } from 'commander'
import type CliProgress from 'cli-progress'
import { TaskosError } from '../kernel/index.js'
import { Boss, expandCommand, formatSize, parseSize, shellQuote } from '../batch/index.js'
import type { BatchReport, BossOptions, JobReport } from '../batch/index.js'
import type { Monitor } from '../monitor/index.js'
import type { BatchFile, SchedulerSettings } from './batch-file.js'
import { parsePort } from './node.js'

/**
 * The batch-file reader (with yaml) and cli-progress: loaded when a batch runs, not with every
 * `taskos` command (together ~50 ms of a start).
 */
let lazy: { file: typeof import('./batch-file.js'); progress: typeof CliProgress } | undefined
async function load(): Promise<NonNullable<typeof lazy>> {
  const [file, progress] = await Promise.all([import('./batch-file.js'), import('cli-progress')])
  return (lazy ??= { file, progress: progress.default })
}

/** Flags of `taskos batch`. */
export interface BatchFlags {
  maxWorkers?: number
  maxMemory?: string
  order?: 'submission' | 'longest-first'
  bind?: boolean
  retries?: number
  journal?: string
  report?: string
  dryRun?: boolean
  /** Serve the monitor (dashboard, /metrics) of the run on 127.0.0.1 at this port (0: any free one). */
  monitor?: number
}

/** Where the command writes, and whether it draws a live bar. */
export interface BatchOutput {
  write(text: string): void
  tty: boolean
}

const stdout: BatchOutput = {
  write: (text) => void process.stdout.write(text),
  get tty() {
    return process.stdout.isTTY
  },
}

function int(min: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`)
    return n
  }
}

/** The commander command. */
export function batchCommand(): Command {
  return new Command('batch')
    .description(
      'run a batch file (YAML or JSON): a worker (command template or task function), common and individual instructions, a scheduler',
    )
    .argument('<file>', 'the batch file')
    .option('--max-workers <n>', 'jobs at once (default: the file, else the CPU count)', int(1))
    .option(
      '--max-memory <size>',
      "keep running jobs' declared memory under this (e.g. 8GiB)",
      (v: string) => {
        parseSize(v, '--max-memory')
        return v
      },
    )
    .option('--order <order>', 'submission or longest-first (by expectedTime)', (v: string) => {
      if (v !== 'submission' && v !== 'longest-first')
        throw new InvalidArgumentError("expected 'submission' or 'longest-first'")
      return v
    })
    .option('--bind', 'pin each slot to a CPU (taskset)')
    .option('--retries <n>', 'extra attempts for a failed or crashed job', int(0))
    .option('--journal <file>', 'append finished jobs here; rerun to skip those done')
    .option('--report <file>', 'write the JSON report here')
    .option('--dry-run', 'show the plan (jobs, commands, scheduler) and run nothing')
    .option('--monitor <port>', 'serve a live dashboard and /metrics of the run on 127.0.0.1:<port> (0: any free port)', parsePort)
    .showHelpAfterError('(taskos batch --help lists the options)')
    .addHelpText(
      'after',
      '\nExit code: 0 when every job succeeded (done, or skipped as done in the journal), 1 otherwise\n' +
        'or for a bad file (FILE:LINE: message). Ctrl-C once drains (running jobs finish), twice kills.\n' +
        '\nExamples:\n' +
        '  taskos batch jobs.yaml --dry-run\n' +
        '  taskos batch jobs.yaml --max-workers 4 --max-memory 8GiB --order longest-first\n' +
        '  taskos batch jobs.yaml --journal run.journal --report report.json   # rerun to resume',
    )
    .action(async (file: string, flags: BatchFlags) => {
      process.exitCode = await runBatchFile(file, flags)
    })
}

/**
 * Runs a batch file; resolves with the exit code (0 every job succeeded, 1 otherwise).
 * @throws ERR_INVALID_OPTION `FILE:LINE: …` for a bad file, before anything runs.
 */
export async function runBatchFile(
  path: string,
  flags: BatchFlags = {},
  out: BatchOutput = stdout,
): Promise<number> {
  const { bossOptions, makeScheduler, readBatchFile } = (await load()).file
  const file = readBatchFile(path)
  const settings: SchedulerSettings = {
    ...file.scheduler,
    ...(flags.maxWorkers === undefined ? {} : { maxWorkers: flags.maxWorkers }),
    ...(flags.maxMemory === undefined ? {} : { maxMemory: flags.maxMemory }),
    ...(flags.order === undefined ? {} : { order: flags.order }),
  }
  const base = await bossOptions(file)
  const journal = flags.journal ?? file.journal
  const retries = flags.retries ?? file.retries
  const bind = flags.bind ?? file.bind
  const options: BossOptions = {
    ...base,
    scheduler: located(file, ['scheduler'], () => makeScheduler(settings)),
    ...(retries === undefined ? {} : { retries }),
    ...(bind === undefined ? {} : { bind }),
    ...(file.memoryPolicy === undefined ? {} : { memoryPolicy: file.memoryPolicy }),
  }
  if (flags.dryRun === true) return dryRun(file, options, settings, out)
  const boss = located(
    file,
    [],
    () => new Boss({ ...options, signals: true, ...(journal === undefined ? {} : { journal }) }),
  )
  let monitor: Monitor | undefined
  if (flags.monitor !== undefined) {
    const { Monitor } = await import('../monitor/index.js') // the HTTP server loads for --monitor only
    monitor = new Monitor({ batch: boss }, { port: flags.monitor })
    try {
      out.write(`monitor: ${await monitor.listen()} (dashboard, /metrics, /api/snapshot)\n`)
    } catch (error) {
      await boss.stop({ now: true })
      throw error
    }
  }
  const detach = showProgress(boss, out)
  boss.end()
  const report = await boss.wait()
  detach()
  await monitor?.close()
  if (flags.report !== undefined) writeFileSync(flags.report, JSON.stringify(report, null, 2) + '\n')
  out.write(summaryTable(report))
  return report.summary.ok ? 0 : 1
}

/** Runs `make`, turning an ERR_INVALID_OPTION naming a key into `FILE:LINE: …`. */
function located<T>(file: BatchFile, fallback: (string | number)[], make: () => T): T {
  try {
    return make()
  } catch (error) {
    if (error instanceof TaskosError && error.code === 'ERR_INVALID_OPTION') {
      const keyPath = lazy!.file.keyPathOf(error.message)
      const line = (keyPath && file.lineOf(keyPath)) ?? file.lineOf(fallback)
      throw new TaskosError(
        'ERR_INVALID_OPTION',
        `${file.path}${line === undefined ? '' : `:${line}`}: ${error.message}`,
        {
          cause: error,
        },
      )
    }
    throw error
  }
}

function dryRun(
  file: BatchFile,
  options: BossOptions,
  settings: SchedulerSettings,
  out: BatchOutput,
): number {
  const boss = located(file, [], () => new Boss({ ...options, individual: [] }))
  boss.pause()
  located(file, ['individual'], () => boss.add({ common: file.common, individual: file.individual }))
  const jobs = boss.report().jobs
  void boss.stop()
  const template = 'command' in file.worker ? file.worker : undefined
  const scheduler = [
    settings.maxMemory === undefined
      ? `maxWorkers(${options.scheduler!.maxWorkers})`
      : `maxMemory(${formatSize(parseSize(settings.maxMemory))}, ${options.scheduler!.maxWorkers} workers)`,
    settings.order === 'longest-first' ? 'longest first' : 'submission order',
  ].join(', ')
  out.write(
    `plan: ${jobs.length} jobs, scheduler ${scheduler}${options.retries ? `, ${options.retries} retries` : ''}\n`,
  )
  const shown = jobs.slice(0, 100)
  for (const j of shown) {
    const extra = [
      j.instructions.memory === undefined ? '' : `memory ${String(j.instructions.memory as string)}`,
      j.instructions.expectedTime === undefined
        ? ''
        : `expected ${String(j.instructions.expectedTime as number)} s`,
    ].filter((x) => x !== '')
    const what =
      template === undefined
        ? JSON.stringify(j.instructions)
        : (({ file: f, args }) => [f, ...args].map(shellQuote).join(' '))(
            expandCommand(template, j.instructions, j.name),
          )
    out.write(
      `  ${j.name}${j.status === 'failed' ? ` (cannot run: ${j.error?.message ?? ''})` : ''}${extra.length ? ` [${extra.join(', ')}]` : ''}: ${what}\n`,
    )
  }
  if (jobs.length > shown.length) out.write(`  … and ${jobs.length - shown.length} more\n`)
  return 0
}

function showProgress(boss: Boss, out: BatchOutput): () => void {
  const t0 = performance.now()
  if (out.tty) {
    const cliProgress = lazy!.progress
    const bar = new cliProgress.SingleBar(
      {
        format:
          '{bar} {value}/{total} | done {done} failed {failed} running {running} | {rate}/s | ETA {etaText}',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
    const s = boss.stats()
    bar.start(s.total, 0, { done: 0, failed: 0, running: 0, rate: '0', etaText: '?' })
    const update = (): void => {
      const x = boss.stats()
      const finished = x.done + x.failed + x.crashed + x.cancelled + x.skipped
      const rate = finished / Math.max(0.001, (performance.now() - t0) / 1000)
      bar.setTotal(x.total)
      bar.update(finished, {
        done: x.done + x.skipped,
        failed: x.failed + x.crashed,
        running: x.running,
        rate: rate.toFixed(1),
        etaText: finished === 0 ? '?' : formatEta((x.total - finished) / rate),
      })
    }
    const offs = [
      boss.on('progress', update),
      boss.on('job-started', update),
      boss.on('signal', (e) =>
        out.write(
          `\n${e.signal}: ${e.action === 'drain' ? 'draining (again to kill)' : 'killing running jobs'}\n`,
        ),
      ),
    ]
    return () => {
      update()
      bar.stop()
      for (const off of offs) off()
    }
  }
  const offs = [
    boss.on('job-finished', (e) => {
      const x = boss.stats()
      const finished = x.done + x.failed + x.crashed + x.cancelled + x.skipped
      out.write(`[${finished}/${x.total}] ${e.job.status} ${e.job.name}${describeJob(e.job)}\n`)
    }),
    boss.on('signal', (e) =>
      out.write(
        `${e.signal}: ${e.action === 'drain' ? 'draining: running jobs finish, no new ones (again to kill)' : 'killing running jobs'}\n`,
      ),
    ),
  ]
  return () => {
    for (const off of offs) off()
  }
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

function describeJob(j: JobReport): string {
  const parts: string[] = []
  if (j.durationMs !== undefined) parts.push(`${(j.durationMs / 1000).toFixed(2)} s`)
  if (j.peakRssBytes !== undefined) parts.push(`peak ${formatSize(j.peakRssBytes)}`)
  if (j.attempt > 1) parts.push(`attempt ${j.attempt}`)
  if (j.error !== undefined) parts.push(j.error.message.split('\n')[0]!.slice(0, 160))
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

/** The end-of-run table: counts per status, wall time, rate, and the jobs that did not succeed. */
export function summaryTable(report: BatchReport): string {
  const s = report.summary
  const rows: [string, number][] = [
    ['done', s.done],
    ['skipped', s.skipped],
    ['failed', s.failed],
    ['crashed', s.crashed],
    ['cancelled', s.cancelled],
    ['total', s.total],
  ]
  const lines = ['', 'status     jobs', ...rows.map(([k, v]) => `${k.padEnd(10)} ${String(v).padStart(5)}`)]
  const ran = s.done + s.failed + s.crashed
  lines.push(
    `wall ${(s.wallMs / 1000).toFixed(2)} s, ${(ran / Math.max(0.001, s.wallMs / 1000)).toFixed(1)} jobs/s`,
  )
  const bad = report.jobs.filter((j) => j.status !== 'done' && j.status !== 'skipped')
  if (bad.length > 0) {
    lines.push('', 'not done:')
    for (const j of bad.slice(0, 20))
      lines.push(
        `  ${j.name.padEnd(16)} ${j.status.padEnd(9)} ${j.error?.message.split('\n')[0]!.slice(0, 120) ?? ''}`,
      )
    if (bad.length > 20) lines.push(`  … and ${bad.length - 20} more`)
  }
  lines.push(s.ok ? 'ok: every job succeeded' : 'FAILED: some jobs did not succeed', '')
  return lines.join('\n')
}
