/**
 * The journal: one JSON line per finished job, appended as the job ends (written to the file at
 * once, so a killed batch process loses nothing it finished; fsync'd in groups, once per event-loop
 * turn, against a machine crash). Rerunning with the same journal skips the jobs it records as done
 * with the same instructions, and reuses their recorded results.
 *
 * Line format (`v: 1`): `{ v, name, key, status, attempt, start, end, durationMs, result?, error?,
 * exitCode?, signal?, peakRssBytes?, slot? }`; `key` is a hash of the job's instructions. A torn last
 * line (a crash in mid-write) is ignored.
 * @module
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { TaskosError } from '../kernel/index.js'
import { nodeCrypto } from '../pool/builtins.js'
import type { Instructions } from './instructions.js'

/** One journal line. */
export interface JournalEntry {
  readonly v: 1
  readonly name: string
  readonly key: string
  readonly status: string
  readonly attempt: number
  readonly start: number
  readonly end: number
  readonly durationMs: number
  readonly result?: unknown
  readonly error?: unknown
  readonly exitCode?: number
  readonly signal?: string
  readonly peakRssBytes?: number
  readonly slot?: number
}

/** A stable hash of a job's instructions (key order does not matter). */
export function instructionsKey(ins: Instructions): string {
  return nodeCrypto().createHash('sha1').update(stableJson(ins)).digest('base64url')
}

function stableJson(v: unknown): string {
  if (ArrayBuffer.isView(v)) {
    // large shared arrays are hashed by content, not rendered
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
    return `<${v.constructor.name} ${nodeCrypto().createHash('sha1').update(bytes).digest('base64url')}>`
  }
  if (typeof v === 'bigint') return `${v}n`
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v) ?? 'undefined'
}

/** @internal an open journal. */
export class Journal {
  readonly path: string
  readonly #done = new Map<string, JournalEntry>()
  #fd: number | undefined
  #syncScheduled = false

  /**
   * Opens (creating) the journal at `path` and reads what it holds.
   * @throws ERR_INVALID_OPTION (journal) when the file cannot be opened.
   */
  constructor(path: string) {
    this.path = path
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new TaskosError('ERR_INVALID_OPTION', `invalid option journal: cannot read ${path}`, {
          cause: error,
        })
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      let entry: JournalEntry
      try {
        entry = JSON.parse(line) as JournalEntry
      } catch {
        continue // a torn line
      }
      if (entry.v !== 1 || typeof entry.name !== 'string') continue
      if (entry.status === 'done') this.#done.set(entry.name, entry)
      else if (this.#done.get(entry.name)?.key === entry.key) this.#done.delete(entry.name)
    }
    try {
      this.#fd = openSync(path, 'a')
    } catch (error) {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid option journal: cannot open ${path}`, {
        cause: error,
      })
    }
  }

  /** Jobs recorded as done. */
  get doneCount(): number {
    return this.#done.size
  }

  /** The entry of a job recorded as done with these instructions, if any. */
  finished(name: string, key: string): JournalEntry | undefined {
    const e = this.#done.get(name)
    return e !== undefined && e.key === key ? e : undefined
  }

  /** Appends one entry (written now, fsync'd within this event-loop turn). */
  append(entry: JournalEntry): void {
    if (this.#fd === undefined) return
    let line: string
    try {
      line = JSON.stringify(entry)
    } catch {
      line = JSON.stringify({ ...entry, result: undefined, error: String(entry.error) })
    }
    writeSync(this.#fd, line + '\n')
    if (!this.#syncScheduled) {
      this.#syncScheduled = true
      setImmediate(() => this.#sync())
    }
  }

  #sync(): void {
    this.#syncScheduled = false
    if (this.#fd !== undefined) fdatasyncSync(this.#fd)
  }

  /** Syncs and closes the file. */
  close(): void {
    if (this.#fd === undefined) return
    fdatasyncSync(this.#fd)
    closeSync(this.#fd)
    this.#fd = undefined
  }
}
