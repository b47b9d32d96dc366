import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { Pool } from '../../src/pool/index.js'
import { loopWorkSeen, startLoopWork } from '../fixtures/pool-loop.js'
import { LIMIT, finish } from './helpers.js'

const FILE = fileURLToPath(import.meta.url)
const WINDOW = 2
const MAX_TRIPS = 20_000
const BUSY_MS = 0.05

// A thread worker that keeps getting short tasks one after the other may take them by spinning on a
// doorbell instead of through its event loop (src/pool/spin.ts): its event loop must still turn, so
// a timer, an immediate and a file read that a task started (and did not await) complete while the
// stream goes on. The spin's bounds themselves are tested with a fake clock in spin.test.ts; this
// is the whole worker, in real time.
for (const isolation of ['thread', 'process'] as const) {
  test(
    `pool (${isolation}): a worker's timers, immediates and I/O run while sequential tasks keep coming`,
    { timeout: LIMIT },
    async () => {
      const pool = new Pool({ workers: 1, isolation })
      try {
        assert.equal(await pool.run(startLoopWork, [20, FILE]), 'started')
        // WINDOW tasks in flight, each sent on its own as the one before it ends: the worker often
        // finds its next task waiting when it runs out, and takes it without its event loop
        let trips = 0
        let done: Awaited<ReturnType<typeof loopWorkSeen>> | undefined
        await new Promise<void>((resolve, reject) => {
          const next = (): void => {
            if (done !== undefined) return
            trips++
            pool.run(loopWorkSeen, [BUSY_MS]).then((seen) => {
              if (seen.timer && seen.immediate && seen.read >= 0) {
                done ??= seen
                resolve()
              } else if (trips >= MAX_TRIPS) {
                done ??= seen
                resolve()
              } else next()
            }, reject)
          }
          for (let i = 0; i < WINDOW; i++) next()
        })
        assert.deepEqual(
          done,
          { timer: true, immediate: true, read: statSync(FILE).size },
          `after ${trips} round trips`,
        )
      } finally {
        await finish(pool)
      }
    },
  )
}
