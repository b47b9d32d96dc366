// Helpers of the cluster integration tests: real `taskos node` processes started from the CLI in a
// directory of their own (they cannot see the test's files: code reaches them as bundles).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')
const TSX = import.meta.resolve('tsx')

export interface NodeProcess {
  readonly child: ChildProcess
  readonly name: string
  readonly pid: number
  /** stdout + stderr so far. */
  output(): string
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
}

const started = new Set<NodeProcess>()
// a test file that times out still exits: take its node processes along (they would retry NATS forever)
process.on('exit', () => {
  for (const node of started) node.child.kill('SIGKILL')
})

/** Starts `taskos node --servers url …args` and waits for its ready line. */
export async function startNode(servers: string, name: string, args: string[] = [], timeout = 15_000): Promise<NodeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'taskos-node-'))
  const child = spawn(process.execPath, ['--import', TSX, MAIN, 'node', '--servers', servers, '--name', name, '--cache-dir', join(dir, 'cache'), ...args], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      rmSync(dir, { recursive: true, force: true })
      resolve()
    }),
  )
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
  const node: NodeProcess = {
    child,
    name,
    pid: child.pid!,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
      started.delete(node)
    },
  }
  started.add(node)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} not ready after ${timeout} ms: ${out}`)), timeout)
    const check = (): void => {
      if (/ready: \d+ slots/.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`node ${name} exited before ready: ${out}`))
    })
  })
  return node
}

/** Kills every node process still running (test teardown). */
export async function killAllNodes(): Promise<void> {
  await Promise.all([...started].map((n) => n.kill('SIGKILL')))
}

/** Resolves when `cond()` holds, checked every 20 ms; throws after `timeout` ms naming `what`. */
export async function until(cond: () => boolean | Promise<boolean>, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
