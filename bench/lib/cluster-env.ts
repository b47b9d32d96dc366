/**
 * Environments of bench/cluster.ts: a nats-server and 2 taskos nodes × 2 slots (child processes),
 * or the peers' 2 worker processes (BullMQ on Redis 127.0.0.1:6379, Moleculer over NATS).
 * @module
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSX = import.meta.resolve('tsx')
export const NODES = 2
export const SLOTS = 2

/** Starts a process and waits for a line matching `ready`. */
export function startProcess(args: string[], ready: RegExp, cwd = ROOT): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 20 s: ${out}`)), 20_000)
    const onData = (c: string): void => {
      out += c
      if (ready.test(out)) {
        clearTimeout(timer)
        resolve(child)
      }
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before ready: ${out}`))
    })
  })
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

export interface Env {
  readonly nats: NatsServerHandle
  readonly workers: ChildProcess[]
  stop(): Promise<void>
}

/** A nats-server plus `count` worker processes made by `start(url, i)`. */
export async function withNats(start: (url: string, i: number) => Promise<ChildProcess>, count = NODES): Promise<Env> {
  const nats = await startNats({ jetstream: true })
  const workers: ChildProcess[] = []
  try {
    for (let i = 0; i < count; i++) workers.push(await start(nats.url, i))
  } catch (error) {
    await Promise.all(workers.map(stopProcess))
    await nats.stop()
    throw error
  }
  return {
    nats,
    workers,
    async stop() {
      await Promise.all(workers.map(stopProcess))
      await nats.stop()
    },
  }
}

/** `taskos node` processes (each with its own cache dir, away from the repository). */
export function taskosNodes(durable: boolean, count = NODES, slots = SLOTS): Promise<Env> {
  return withNats((url, i) => {
    const dir = mkdtempSync(join(tmpdir(), 'taskos-bench-node-'))
    const args = ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'node', '--servers', url, '--slots', String(slots), '--name', `bench-${i}`, '--cache-dir', join(dir, 'cache'), '--pulse', '1000']
    if (!durable) args.push('--no-durable')
    return startProcess(args, /ready: \d+ slots/, dir).then((child) => {
      child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
      return child
    })
  }, count)
}

export function moleculerWorkers(): Promise<Env> {
  return withNats((url) => startProcess([join(ROOT, 'bench/fixtures/cluster-moleculer-worker.mjs'), url], /ready/))
}

/** Whether Redis answers on 127.0.0.1:6379. */
export function redisAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 6379 })
    socket.setTimeout(500)
    socket.once('connect', () => {
      socket.write('PING\r\n')
    })
    socket.once('data', (d) => {
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => resolve(false))
  })
}

export async function bullmqWorkers(queue: string): Promise<{ workers: ChildProcess[]; stop(): Promise<void> }> {
  const workers: ChildProcess[] = []
  for (let i = 0; i < NODES; i++) workers.push(await startProcess([join(ROOT, 'bench/fixtures/cluster-bullmq-worker.mjs'), queue], /ready/))
  return { workers, stop: async () => void (await Promise.all(workers.map(stopProcess))) }
}
