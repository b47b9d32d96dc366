/**
 * Sizes as bytes or strings ('512MiB', '8GiB', '1.5GB').
 * @module
 */
import { TaskosError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'

const UNITS: Record<string, number> = {
  b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
}

/** Bytes of a size option. @throws ERR_INVALID_OPTION naming `option`. */
export function parseSize(value: number | string, option: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
    const unit = m === null ? undefined : UNITS[(m[2] || 'b').toLowerCase()]
    if (m !== null && unit !== undefined) return Math.round(Number(m[1]) * unit)
  }
  throw new TaskosError('ERR_INVALID_OPTION', `invalid option ${option}: ${describe(value)} (expected bytes or a size like '512MiB', '16GiB')`)
}
