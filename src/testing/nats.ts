/**
 * `startNats`: a throwaway `nats-server` (or a cluster of them) on free loopback ports, for tests
 * and examples. Each server gets its own temporary store directory; `stop()` ends every process
 * and removes the directories.
 * @module
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskosError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'

/** Options of {@link startNats}. */
export interface StartNatsOptions {
  /** Enable JetStream (work queues, KV, Object Store). @default true */
  jetstream?: boolean
  /** Number of servers: 1 is a single server, 3 a cluster (JetStream replicas up to 3). @default 1 */
  cluster?: number
  /** Require this token from clients. @default none */
  token?: string
  /** Serve TLS with a throwaway self-signed certificate (made with `openssl`). @default false */
  tls?: boolean
  /**
   * More nats-server configuration, appended to every server's configuration file: an
   * `authorization { users = [...] }` block (user/password, nkeys), operator mode for JWT `.creds`
   * files (`operator`, `resolver: MEMORY`, `resolver_preload`), limits … Do not combine with `token`,
   * which writes an `authorization` block of its own. @default none
   */
  config?: string
  /** Largest message payload in bytes the server accepts. @default 1 MiB (server default) */
  maxPayload?: number
  /** The nats-server binary. @default `TASKOS_NATS_SERVER`, then `/usr/sbin/nats-server`, then `nats-server` on PATH */
  binary?: string
  /** How long (ms) to wait for the servers to be ready. @default 10000 */
  timeout?: number
}

/** Files of the throwaway TLS certificate. */
export interface NatsTlsFiles {
  /** PEM of the CA that signed the server certificate: give it to clients as `tls: { caFile }`. */
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
}

/** A running test server (or cluster) from {@link startNats}. */
export interface NatsServerHandle {
  /** The first server's URL, e.g. `nats://127.0.0.1:41234` (`tls://` with TLS). */
  readonly url: string
  /** Every server's URL, in start order. */
  readonly urls: readonly string[]
  /** The certificate files when started with `tls: true`. */
  readonly tls: NatsTlsFiles | undefined
  /** Process ids of the servers (undefined for a stopped one). */
  pids(): (number | undefined)[]
  /** Kills server `index` with SIGKILL (failover tests); the others keep running. */
  kill(index: number): Promise<void>
  /** Stops every server and removes its store directory. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const DEFAULTS = Object.freeze({ jetstream: true, cluster: 1, timeout: 10_000 })

function findBinary(given: string | undefined): string {
  if (given !== undefined) return given
  if (process.env.TASKOS_NATS_SERVER) return process.env.TASKOS_NATS_SERVER
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server'
  return 'nats-server'
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function makeCertificate(dir: string): NatsTlsFiles {
  const caKey = join(dir, 'ca-key.pem')
  const caFile = join(dir, 'ca.pem')
  const keyFile = join(dir, 'server-key.pem')
  const csr = join(dir, 'server.csr')
  const certFile = join(dir, 'server.pem')
  const ext = join(dir, 'server.ext')
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' })
  try {
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '1', '-subj', '/CN=taskos test CA'])
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1'])
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    run(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', ext])
  } catch (error) {
    throw new TaskosError('ERR_INVALID_STATE', `startNats: openssl could not make a test certificate: ${(error as Error).message}`, { cause: error })
  }
  return { caFile, certFile, keyFile }
}

/**
 * Starts `nats-server` on free 127.0.0.1 ports with temporary store directories and waits until
 * every server accepts connections (and, for a JetStream cluster, until its meta leader is elected).
 * Never use a shared server in tests: each test file starts its own. The servers are killed when
 * this process exits, if `stop()` was not called.
 * @throws ERR_INVALID_OPTION for a bad option; ERR_INVALID_STATE when the binary is missing or a
 *   server does not become ready within `timeout`.
 * @example
 * const nats = await startNats({ jetstream: true })
 * try { const cluster = await Cluster.connect({ servers: nats.url }) … } finally { await nats.stop() }
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const o = { ...DEFAULTS, ...options }
  if (!Number.isSafeInteger(o.cluster) || o.cluster < 1 || o.cluster > 9) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option cluster: ${describe(o.cluster)} (expected an integer 1..9)`)
  }
  if (o.token !== undefined && (typeof o.token !== 'string' || o.token === '' || /["\s]/.test(o.token))) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option token: ${describe(o.token)} (expected a non-empty string without spaces or quotes)`)
  }
  if (o.config !== undefined && typeof o.config !== 'string') {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option config: ${describe(o.config)} (expected nats-server configuration text)`)
  }
  if (o.config !== undefined && o.token !== undefined && /\bauthorization\b/.test(o.config)) {
    throw new TaskosError('ERR_INVALID_OPTION', 'invalid option config: it has an authorization block, and so does the token option (use one)')
  }
  const binary = findBinary(o.binary)
  const base = mkdtempSync(join(tmpdir(), 'taskos-nats-'))
  const tlsFiles = o.tls === true ? makeCertificate(base) : undefined
  const n = o.cluster
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
  const routePorts = n > 1 ? await Promise.all(Array.from({ length: n }, () => freePort())) : []
  const processes: (ChildProcess | undefined)[] = []
  const exited: Promise<void>[] = []
  const logs: string[] = []
  let metaLeader = n === 1 || !o.jetstream

  for (let i = 0; i < n; i++) {
    const lines = [
      `listen: "127.0.0.1:${ports[i]}"`,
      `server_name: "taskos-test-${i}"`,
      o.maxPayload === undefined ? '' : `max_payload: ${o.maxPayload}`,
      o.jetstream ? `jetstream { store_dir: "${join(base, `store-${i}`)}" }` : '',
      o.token === undefined ? '' : `authorization { token: "${o.token}" }`,
      tlsFiles === undefined ? '' : `tls { cert_file: "${tlsFiles.certFile}", key_file: "${tlsFiles.keyFile}" }`,
      o.config ?? '',
    ]
    if (n > 1) {
      const routes = routePorts.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`)
      lines.push(`cluster { name: "taskos-test", listen: "127.0.0.1:${routePorts[i]}", routes: [${routes.join(', ')}] }`)
    }
    const config = join(base, `server-${i}.conf`)
    writeFileSync(config, lines.filter((l) => l !== '').join('\n') + '\n')
    const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    processes.push(child)
    exited.push(new Promise<void>((resolve) => child.once('exit', () => resolve())))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      if (logs.length < 200) logs.push(chunk)
      if (/JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/.test(chunk)) metaLeader = true
    })
  }

  // servers never outlive the process that started them (a test file that timed out, say)
  const onExit = (): void => {
    for (const child of processes) if (child !== undefined && child.exitCode === null) child.kill('SIGKILL')
  }
  process.once('exit', onExit)
  const stop = async (): Promise<void> => {
    process.removeListener('exit', onExit)
    for (const child of processes) if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const killer = setTimeout(() => {
      for (const child of processes) if (child !== undefined && child.exitCode === null) child.kill('SIGKILL')
    }, 3000)
    await Promise.all(exited)
    clearTimeout(killer)
    rmSync(base, { recursive: true, force: true })
  }

  const spawnError = new Promise<Error>((resolve) => {
    for (const child of processes) child?.once('error', (e) => resolve(e))
  })
  const deadline = Date.now() + o.timeout
  const ready = async (): Promise<void> => {
    for (const port of ports) {
      while (!(await canConnect(port))) {
        if (Date.now() > deadline) throw new Error('timeout')
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    while (!metaLeader) {
      if (Date.now() > deadline) throw new Error('timeout')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  try {
    const outcome = await Promise.race([ready().then(() => undefined), spawnError])
    if (outcome !== undefined) throw outcome
  } catch (error) {
    await stop()
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
    throw new TaskosError(
      'ERR_INVALID_STATE',
      missing
        ? `startNats: ${binary} not found (install nats-server: apt-get install nats-server, or https://github.com/nats-io/nats-server/releases; or set TASKOS_NATS_SERVER)`
        : `startNats: nats-server did not become ready in ${o.timeout} ms: ${logs.join('').slice(-800)}`,
      { cause: error },
    )
  }
  const scheme = tlsFiles === undefined ? 'nats' : 'tls'
  const urls = ports.map((p) => `${scheme}://127.0.0.1:${p}`)
  return {
    url: urls[0]!,
    urls,
    tls: tlsFiles,
    pids: () => processes.map((c) => (c !== undefined && c.exitCode === null && c.signalCode === null ? c.pid : undefined)),
    async kill(index: number): Promise<void> {
      const child = processes[index]
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited[index]
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}
