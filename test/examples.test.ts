// Smoke-runs every example as a child process: exit code 0 and its key output line.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { describe, test } from 'node:test'
import { runTsx } from './fixtures/run-tsx.js'

const EXPECTED: Record<string, RegExp[]> = {
  '01-hello.ts': [/doubler returned 42/, /greeter returned Hello, taskos!/],
  '02-messages.ts': [/client got \[ 4, 9, 16 \]/, /receive gave up: ERR_TIMEOUT/, /ended server: false/],
  '03-structured.ts': [
    /joinAny order: fast, medium, slow/,
    /parent failed: .*failed: disk full/,
    /slow cancelled: task 'slow' #\d+ timed out after 20 ms/,
    /tasks left running: 0/,
  ],
  '04-dispatch.ts': [/word counts in job order: \[ 5, 2, 12, 3 \]/, /dispatch: job 1 \(parse\) failed/],
  '05-supervise.ts': [/total before the crash: 12/, /monitor: counter #\d+ failed/, /after the restart: 0/],
  '06-channels.ts': [
    /first edition reached 3 readers/,
    /cy read: first edition, second edition/,
    /peak concurrency 2, total 50, barrier cycles 1/,
  ],
  '07-pool.ts': [
    /square\(7\) on a worker: 49/,
    /self-contained a \+ b: 5/,
    /map: primes below 30: 2, 3, 5, 7, 11, 13, 17, 19, 23, 29/,
    /error came back: QuotaError: quota exceeded for eve \(code EQUOTA, cause: disk 3 is full\)/,
    /crash isolated: \[0, 1, crashed \(exit code 7\), 9, 16\]/,
    /timeout: pool task #\d+ \(spin\) timed out after 100 ms/,
    /the pool carries on: square\(9\) = 81/,
    /dispatch on the pool: \[1, 4, 9, 16\]; offload: 145/,
    /stats: \d+ done, 1 failed, 1 crashed, 1 cancelled/,
  ],
  '08-partition.ts': [
    /10 values over 3 parts: \[0,1,2\] \[3,4,5\] \[6,7,8,9\]/,
    /50 values over 4 parts: \[0,12\) \[12,25\) \[25,37\) \[37,50\)/,
    /primes below 3,000,000: 216,816 in this thread .*, 216,816 on \d+ workers .*: same count/,
    /speed-up: [\d.]+x on \d+ cores/,
    /prefix sums with t\.sync\(\): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10/,
    /a part failed: RangeError: no data for \[25, 50\)/,
  ],
  '09-batch.ts': [
    /word counts: 4, 2, 3, 3/,
    /summary: 4 done of 4, ok true/,
    /command job-2: failed, exit 3, stdout "hello bob o'brien\\n"/,
    /crash isolated: 1, crashed \(SIGKILL\), 9/,
    /server mode: first=2, second=3; 2 job-finished events/,
    /journal: first run 2 done; rerun 2 skipped, 2 done/,
  ],
  '10-cluster.ts': [
    /hosts: node-a \(1 slot\), node-b \(1 slot\); slots: 2/,
    /square\(7\) on a node: 49 \(ran on node-[ab]\)/,
    /local task got: HELLO CLUSTER/,
    /remote task answered 2 messages/,
    /dispatch over the cluster: \[ 1, 4, 9, 16, 25 \]/,
    /work spread over 2 nodes/,
    /remote error: RangeError: age must be >= 0, got -1 \(on node-[ab]\)/,
    /1 MiB round trip: 1048576 bytes back/,
    /service call: hello, taskos/,
    /all stopped/,
  ],
  '11-monitor.ts': [
    /dashboard: http:\/\/127\.0\.0\.1:\d+\//,
    /pool \(pool\): 2000 done, 1 crashed/,
    /kernel \(kernel\): 100 done, 0 crashed/,
    /taskos_tasks_ended_total\{source="pool",kind="pool",status="done"\} 2000/,
    /event: pool worker-exit: worker \d+ exited \(crashed, code 7\)/,
    /monitor closed/,
  ],
}

describe('examples', { concurrency: availableParallelism() }, () => {
  test('examples: every example file has expectations here', () => {
    const files = readdirSync(new URL('../examples/', import.meta.url)).filter((f) => f.endsWith('.ts'))
    assert.deepEqual(files.sort(), Object.keys(EXPECTED).sort())
  })

  for (const [file, patterns] of Object.entries(EXPECTED)) {
    test(`examples: ${file} runs and prints its result`, async () => {
      const r = await runTsx(`examples/${file}`)
      assert.equal(r.code, 0, `exit code ${r.code}\n${r.stderr}`)
      assert.equal(r.stderr, '', 'no warnings or errors')
      for (const pattern of patterns) assert.match(r.stdout, pattern)
    })
  }
})
