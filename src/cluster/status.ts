/**
 * A node's machine status for its pulse: CPU use since the last sample, load, memory and disk.
 * Sampled on the node's main thread (never in a worker), so a blocked task cannot silence it.
 * @module
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { statfs } from 'node:fs/promises'

export interface MachineStatus {
  cpu: number
  load: number[]
  memory: { total: number; free: number }
  disk: { total: number; free: number }
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0
  let total = 0
  for (const c of cpus()) {
    const t = c.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return { idle, total }
}

export class StatusSampler {
  #last = cpuTimes()
  #disk = { total: 0, free: 0 }
  readonly #path: string

  constructor(path: string) {
    this.#path = path
    this.#refreshDisk()
  }

  #refreshDisk(): void {
    statfs(this.#path).then(
      (s) => void (this.#disk = { total: s.blocks * s.bsize, free: s.bavail * s.bsize }),
      () => undefined,
    )
  }

  /** CPU % (0-100, all cores) since the previous sample, and the rest now. */
  sample(): MachineStatus {
    const now = cpuTimes()
    const total = now.total - this.#last.total
    const idle = now.idle - this.#last.idle
    this.#last = now
    this.#refreshDisk()
    return {
      cpu: total > 0 ? Math.round((1000 * (total - idle)) / total) / 10 : 0,
      load: loadavg(),
      memory: { total: totalmem(), free: freemem() },
      disk: this.#disk,
    }
  }
}
