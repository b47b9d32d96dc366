/**
 * Command templates: `{ command: ['convert', '{input}', '{output}'] }` runs a program per job with
 * `{key}` replaced by the job's instruction (no shell: each value is one argument, an array value
 * standing alone fills several). A string command is a shell script run by `/bin/sh -c` (or
 * `shell`), and every value placed into it is single-quoted, so the shell takes it literally.
 * `{{` and `}}` are literal braces.
 * @module
 */
import { TaskosError } from '../kernel/index.js'
import { invalidOption } from '../kernel/errors.js'
import type { Instructions } from './instructions.js'

/** A command run once per job. */
export interface CommandTemplate {
  /** Program and arguments (no shell), or a shell script (a string). `{key}` takes the job's instruction. */
  readonly command: readonly string[] | string
  /** Working directory (`{key}` allowed). @default the current directory */
  readonly cwd?: string
  /** Extra environment variables (values may hold `{key}`), over the boss's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** The shell that runs a string command. @default '/bin/sh' */
  readonly shell?: string
}

/** What to spawn for one job. */
export interface CommandLine {
  readonly file: string
  readonly args: string[]
  readonly cwd: string | undefined
  readonly env: Record<string, string> | undefined
}

const PLACEHOLDER = /\{\{|\}\}|\{([A-Za-z_][\w.-]*)\}/g

/** Whether `worker` looks like a command template. */
export function isCommandTemplate(worker: unknown): worker is CommandTemplate {
  return typeof worker === 'object' && worker !== null && 'command' in worker
}

/**
 * Checks a template's shape.
 * @throws ERR_INVALID_OPTION naming `worker.command`, `worker.cwd`, `worker.env`, `worker.shell`.
 */
export function checkTemplate(t: CommandTemplate): void {
  const c = t.command as unknown
  const okArgv = Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string') && c[0] !== ''
  if (!okArgv && !(typeof c === 'string' && c.trim() !== ''))
    throw invalidOption(
      'worker.command',
      c,
      'a non-empty array of strings (no shell) or a shell script string',
    )
  if (t.cwd !== undefined && typeof t.cwd !== 'string') throw invalidOption('worker.cwd', t.cwd, 'a string')
  if (t.env !== undefined) {
    if (typeof t.env !== 'object' || t.env === null || Array.isArray(t.env))
      throw invalidOption('worker.env', t.env, 'an object of strings')
    for (const [k, v] of Object.entries(t.env))
      if (typeof v !== 'string') throw invalidOption(`worker.env.${k}`, v, 'a string')
  }
  if (t.shell !== undefined && (typeof t.shell !== 'string' || t.shell === ''))
    throw invalidOption('worker.shell', t.shell, 'a path to a shell')
  for (const key of Object.keys(t))
    if (!['command', 'cwd', 'env', 'shell'].includes(key))
      throw invalidOption(
        `worker.${key}`,
        (t as unknown as Record<string, unknown>)[key],
        "only 'command', 'cwd', 'env', 'shell'",
      )
}

/** Quotes `s` for a POSIX shell: the shell reads it back literally. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`
}

function render(value: unknown, key: string, job: string): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return [String(value)]
  if (Array.isArray(value)) return value.flatMap((v) => render(v, key, job))
  if (value === undefined || value === null)
    throw new TaskosError(
      'ERR_INVALID_OPTION',
      `invalid option worker.command: {${key}} has no value in job ${JSON.stringify(job)}`,
    )
  return [JSON.stringify(value)]
}

function fill(text: string, ins: Instructions, job: string, quote: boolean): string {
  return text.replace(PLACEHOLDER, (m, key: string | undefined) => {
    if (key === undefined) return m[0]!
    const parts = render(lookup(ins, key), key, job)
    return quote ? parts.map(shellQuote).join(' ') : parts.join(' ')
  })
}

function lookup(ins: Instructions, key: string): unknown {
  if (key in ins) return ins[key]
  // dotted keys reach into objects: {file.path}
  let v: unknown = ins
  for (const part of key.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<string, unknown>)[part]
  }
  return v
}

/**
 * The command line of one job.
 * @throws ERR_INVALID_OPTION when a `{key}` has no value in the job's instructions.
 */
export function expandCommand(t: CommandTemplate, ins: Instructions, job: string): CommandLine {
  let file: string
  let args: string[]
  if (typeof t.command === 'string') {
    file = t.shell ?? '/bin/sh'
    args = ['-c', fill(t.command, ins, job, true)]
  } else {
    const argv: string[] = []
    for (const arg of t.command) {
      const whole = /^\{([A-Za-z_][\w.-]*)\}$/.exec(arg)
      if (whole !== null) argv.push(...render(lookup(ins, whole[1]!), whole[1]!, job))
      else argv.push(fill(arg, ins, job, false))
    }
    if (argv.length === 0 || argv[0] === '')
      throw invalidOption(
        'worker.command',
        t.command,
        `a program name (empty for job ${JSON.stringify(job)})`,
      )
    file = argv[0]!
    args = argv.slice(1)
  }
  const env =
    t.env === undefined
      ? undefined
      : Object.fromEntries(Object.entries(t.env).map(([k, v]) => [k, fill(v, ins, job, false)]))
  return { file, args, cwd: t.cwd === undefined ? undefined : fill(t.cwd, ins, job, false), env }
}
