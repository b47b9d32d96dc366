/**
 * Sizes in bytes from numbers or strings: `'512MiB'`, `'2GiB'`, `'1.5 GB'`, `'100k'`.
 * @module
 */
import { invalidOption } from '../kernel/errors.js'

const UNITS: Readonly<Record<string, number>> = Object.freeze({
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
})

/**
 * Parses a size: a number of bytes (>= 0), or a string of a number and a unit (`B`, `kB`/`KiB`/`k`,
 * `MB`/`MiB`/`M`, `GB`/`GiB`/`G`, `TB`/`TiB`/`T`; case-insensitive; `KiB` = 1024, `kB` = 1000, a lone
 * letter is binary). The result is rounded down to whole bytes.
 * @param key - the option name used in the error message.
 * @throws ERR_INVALID_OPTION naming `key` when the value is not a size.
 * @example
 * parseSize('2GiB')   // 2147483648
 * parseSize(4096)     // 4096
 */
export function parseSize(value: unknown, key = 'size'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.floor(value)
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(value)
    const factor = m === null ? undefined : UNITS[m[2]!.toLowerCase()]
    if (m !== null && factor !== undefined) return Math.floor(Number(m[1]) * factor)
  }
  throw invalidOption(key, value, "a size: bytes >= 0 or a string like '512MiB', '2GiB'")
}

/** Renders bytes with a binary unit: `formatSize(2147483648)` is `'2 GiB'`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2).replace(/\.?0+$/, '')} ${units[i]!}`
}
