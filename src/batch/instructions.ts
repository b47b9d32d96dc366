/**
 * Instructions: `common` (shared by every job) ⊕ `individual` (arrays of equal length, or a list of
 * objects) give one job per individual entry. Reserved keys are validated here, before anything runs.
 * @module
 */
import { TaskosError } from '../kernel/index.js'
import { invalidOption } from '../kernel/errors.js'
import { parseSize } from './size.js'

/** The instructions of one job: plain keys and values (structured-cloneable for task functions). */
export type Instructions = Record<string, unknown>

/**
 * A set of instructions for `batch`, `new Boss` and `boss.add`.
 * - `common`: keys every job gets.
 * - `individual`: either `{ key: [v0, v1, …] }` (every array the same length: job i takes element i
 *   of each), or `[{ … }, { … }]` (one object per job).
 *
 * Reserved keys (in either): `name` (unique, non-empty; `job-<n>` when absent), `memory` (bytes or
 * `'2GiB'`), `expectedTime` (seconds), `resources` (a name or names of exclusive resources).
 */
export interface InstructionSet {
  common?: Instructions
  individual?: Readonly<Record<string, readonly unknown[]>> | readonly Instructions[]
}

/** One job, validated: its merged instructions and its reserved keys parsed. */
export interface JobSpec {
  /** Position of the job in the batch, from 0 (across every `add`). */
  readonly index: number
  /** Unique name. */
  readonly name: string
  /** `common ⊕ individual[i]`, as given (reserved keys included, `name` set). */
  readonly instructions: Instructions
  /** Declared memory in bytes (0 when not declared). */
  readonly memory: number
  /** Expected duration in seconds (0 when not declared). */
  readonly expectedTime: number
  /** Exclusive resources the job holds while it runs. */
  readonly resources: readonly string[]
}

/** The reserved instruction keys. */
export const RESERVED_KEYS = Object.freeze(['name', 'memory', 'expectedTime', 'resources'] as const)

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * Expands an instruction set into job specs, numbered from `firstIndex`. Names must be unique within
 * the set and must not be in `taken`; generated names skip taken ones.
 * @throws ERR_INVALID_OPTION naming the key (`individual.input`, `individual[2].memory`,
 * `common.expectedTime`, …) on any invalid input; nothing is returned then.
 */
export function expandInstructions(
  set: InstructionSet,
  firstIndex = 0,
  taken: ReadonlySet<string> = new Set(),
): JobSpec[] {
  if (!isPlainObject(set)) throw invalidOption('instructions', set, 'an object { common?, individual }')
  for (const key of Object.keys(set)) {
    if (key !== 'common' && key !== 'individual')
      throw invalidOption(key, set[key as keyof InstructionSet], "only 'common' and 'individual'")
  }
  const common = set.common ?? {}
  if (!isPlainObject(common)) throw invalidOption('common', common, 'a plain object')
  checkReserved(common, 'common')
  const rows = individualRows(set.individual ?? [])
  const names = new Set<string>()
  const jobs: JobSpec[] = []
  let generated = firstIndex
  rows.forEach((row, i) => {
    const where = Array.isArray(set.individual) ? `individual[${i}]` : 'individual'
    checkReserved(row, where)
    const instructions: Instructions = { ...common, ...row }
    let name = instructions.name as string | undefined
    if (name === undefined) {
      do name = `job-${++generated}`
      while (taken.has(name) || names.has(name))
      instructions.name = name
    } else if (names.has(name) || taken.has(name)) {
      throw invalidOption(`${where}.name`, name, 'a unique job name (this one is used twice)')
    }
    names.add(name)
    jobs.push({
      index: firstIndex + i,
      name,
      instructions,
      memory: instructions.memory === undefined ? 0 : parseSize(instructions.memory, 'memory'),
      expectedTime: (instructions.expectedTime as number | undefined) ?? 0,
      resources: toList(instructions.resources),
    })
  })
  return jobs
}

function individualRows(individual: unknown): Instructions[] {
  if (Array.isArray(individual)) {
    return individual.map((row: unknown, i) => {
      if (!isPlainObject(row)) throw invalidOption(`individual[${i}]`, row, 'a plain object')
      return row
    })
  }
  if (!isPlainObject(individual))
    throw invalidOption('individual', individual, 'an object of equal-length arrays, or an array of objects')
  let length: number | undefined
  let first = ''
  for (const [key, values] of Object.entries(individual)) {
    if (!Array.isArray(values))
      throw invalidOption(`individual.${key}`, values, 'an array (one value per job)')
    if (length === undefined) {
      length = values.length
      first = key
    } else if (values.length !== length) {
      throw new TaskosError(
        'ERR_INVALID_OPTION',
        `invalid option individual.${key}: ${values.length} values, but individual.${first} has ${length} (expected arrays of equal length)`,
      )
    }
  }
  const rows: Instructions[] = []
  for (let i = 0; i < (length ?? 0); i++) {
    const row: Instructions = {}
    for (const [key, values] of Object.entries(individual)) row[key] = (values as unknown[])[i]
    rows.push(row)
  }
  return rows
}

function checkReserved(o: Record<string, unknown>, where: string): void {
  if ('name' in o && (typeof o.name !== 'string' || o.name.trim() === ''))
    throw invalidOption(`${where}.name`, o.name, 'a non-empty string')
  if ('memory' in o && o.memory !== undefined) parseSize(o.memory, `${where}.memory`)
  if (
    'expectedTime' in o &&
    o.expectedTime !== undefined &&
    !(typeof o.expectedTime === 'number' && Number.isFinite(o.expectedTime) && o.expectedTime >= 0)
  )
    throw invalidOption(`${where}.expectedTime`, o.expectedTime, 'a number of seconds >= 0')
  if ('resources' in o && o.resources !== undefined) {
    const r = o.resources
    const ok =
      (typeof r === 'string' && r !== '') ||
      (Array.isArray(r) && r.every((x) => typeof x === 'string' && x !== ''))
    if (!ok) throw invalidOption(`${where}.resources`, r, 'a resource name or an array of names')
  }
}

function toList(r: unknown): readonly string[] {
  if (r === undefined) return []
  return typeof r === 'string' ? [r] : [...new Set(r as string[])]
}
