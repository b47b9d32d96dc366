/**
 * Connecting to NATS with the cluster's options: every auth method passes through (token,
 * user/password, nkey seed, creds file, or any authenticator), TLS too; failures become TaskosErrors
 * that say what went wrong and what to check.
 * @module
 */
import { readFileSync } from 'node:fs'
import type { Authenticator, NatsConnection, NodeConnectionOptions, TlsOptions } from '@nats-io/transport-node'
import { TaskosError } from '../kernel/index.js'
import { describe } from '../kernel/errors.js'
import { AuthError, ConnectError } from './errors.js'
import { loadCore } from './nats.js'

/** How to reach and authenticate to NATS; shared by `Cluster.connect` and `Node.start`. */
export interface ConnectionOptions {
  /** NATS server URL(s). @default 'nats://127.0.0.1:4222' */
  servers?: string | readonly string[]
  /** Cluster name: clusters with different names share a NATS server without seeing each other. @default 'default' */
  name?: string
  /** How long (ms) to wait for the first connection. @default 5000 */
  timeout?: number
  /** Token authentication. */
  token?: string
  /** User/password authentication. */
  user?: string
  pass?: string
  /** NKey authentication: the seed (`SU…`). */
  nkeySeed?: string
  /** JWT + NKey credentials file (`.creds`). */
  credsFile?: string
  /** TLS: `{ caFile, certFile, keyFile }` (paths) or any nats.js TLS options; `tls://` URLs imply TLS. */
  tls?: TlsOptions
  /** Anything else for nats.js `connect()` (reconnect timing, custom authenticators, …). */
  nats?: Partial<NodeConnectionOptions>
}

export const CONNECTION_DEFAULTS = Object.freeze({
  servers: 'nats://127.0.0.1:4222',
  name: 'default',
  timeout: 5000,
})

export function validateConnection(o: ConnectionOptions): void {
  const servers = o.servers ?? CONNECTION_DEFAULTS.servers
  const list = typeof servers === 'string' ? [servers] : servers
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || s === '')) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option servers: ${describe(servers)} (expected a NATS URL or a non-empty array of them)`)
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.name))) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option name: ${describe(o.name)} (expected letters, digits, '-' or '_')`)
  }
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || !(o.timeout > 0))) {
    throw new TaskosError('ERR_INVALID_OPTION', `invalid option timeout: ${describe(o.timeout)} (expected a number of ms > 0)`)
  }
}

/**
 * Connects, turning nats.js failures into clear TaskosErrors.
 * @throws ERR_AUTH ({@link AuthError}) when the credentials are refused; ERR_CONNECT
 *   ({@link ConnectError}) when no server answers within `timeout` or TLS fails; ERR_INVALID_OPTION
 *   for an unreadable `credsFile`.
 */
export async function connectNats(o: ConnectionOptions, clientName: string): Promise<NatsConnection> {
  const { connect, credsAuthenticator, nkeyAuthenticator } = await loadCore()
  const servers = o.servers ?? CONNECTION_DEFAULTS.servers
  const list = typeof servers === 'string' ? [servers] : [...servers]
  const authenticators: Authenticator[] = []
  if (o.nkeySeed !== undefined) authenticators.push(nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed)))
  if (o.credsFile !== undefined) {
    let creds: Uint8Array
    try {
      creds = readFileSync(o.credsFile)
    } catch (error) {
      throw new TaskosError('ERR_INVALID_OPTION', `invalid option credsFile: cannot read ${o.credsFile}: ${(error as Error).message}`, { cause: error })
    }
    authenticators.push(credsAuthenticator(creds))
  }
  const timeout = o.timeout ?? CONNECTION_DEFAULTS.timeout
  const options: NodeConnectionOptions = {
    servers: list,
    name: clientName,
    timeout,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    ...(o.token === undefined ? {} : { token: o.token }),
    ...(o.user === undefined ? {} : { user: o.user }),
    ...(o.pass === undefined ? {} : { pass: o.pass }),
    ...(authenticators.length === 0 ? {} : { authenticator: authenticators.length === 1 ? authenticators[0]! : authenticators }),
    ...(o.tls === undefined ? {} : { tls: o.tls }),
    ...o.nats,
  }
  try {
    return await connect(options)
  } catch (error) {
    const message = (error as Error).message ?? String(error)
    const where = list.join(', ')
    if (/authori[sz]ation|authentication|auth/i.test(message)) {
      throw new AuthError(`NATS at ${where} refused the credentials (check the token, user/pass, nkeySeed or credsFile options): ${message}`, { cause: error })
    }
    if (/tls|certificate|self.signed|ssl/i.test(message)) {
      throw new ConnectError(`TLS to NATS at ${where} failed (check the tls option: caFile for a private CA, certFile/keyFile for client certificates): ${message}`, { cause: error })
    }
    throw new ConnectError(`no NATS server answered at ${where} within ${timeout} ms (is nats-server running? try \`taskos cluster --local 2\`): ${message}`, { cause: error })
  }
}
