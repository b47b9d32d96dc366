/**
 * The reaper: a tiny `/bin/sh` process that outlives nothing. Command jobs run in their own process
 * groups (so a stop kills a job's whole tree); the boss tells the reaper each group it starts and
 * ends over a pipe. When the boss's process dies, even by SIGKILL, the pipe closes and the reaper
 * kills every group still registered, so no command outlives its batch. It ignores SIGINT/SIGTERM (a
 * Ctrl-C at a terminal reaches it too) and exits quietly on `q`.
 *
 * Wire format, one line each: `+ <pgid>` registered, `- <pgid>` ended, `q` quit without killing.
 * @module
 */
import type { ChildProcess } from 'node:child_process'
import { childProcess } from '../pool/builtins.js'

const SCRIPT = `trap '' INT TERM HUP
set -f
pids=' '
while read -r op pid; do
  case $op in
    +) pids="$pids$pid " ;;
    -) case "$pids" in *" $pid "*) pids="\${pids%% $pid *} \${pids#* $pid }" ;; esac ;;
    q) exit 0 ;;
  esac
done
for p in $pids; do kill -KILL -- "-$p" 2>/dev/null; done
`

/** @internal the reaper of one boss. */
export class Reaper {
  #child: ChildProcess | undefined

  #ensure(): ChildProcess | undefined {
    if (this.#child === undefined) {
      const child = childProcess().spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] })
      child.on('error', () => undefined)
      child.stdin.on('error', () => undefined)
      child.unref()
      ;(child.stdin as unknown as { unref?(): void }).unref?.()
      this.#child = child
    }
    return this.#child
  }

  /** The reaper will kill process group `pgid` if this process dies while it runs. */
  add(pgid: number): void {
    this.#ensure()?.stdin?.write(`+ ${pgid}\n`)
  }

  /** Group `pgid` has ended. */
  remove(pgid: number): void {
    this.#child?.stdin?.write(`- ${pgid}\n`)
  }

  /** Stops the reaper without killing anything. */
  close(): void {
    const child = this.#child
    this.#child = undefined
    child?.stdin?.end('q\n')
  }
}
