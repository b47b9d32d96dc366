/**
 * The cluster's connection errors: NATS could not be reached ({@link ConnectError}, `ERR_CONNECT`)
 * or refused the credentials ({@link AuthError}, `ERR_AUTH`).
 * @module
 */
import { TaskosError } from '../kernel/index.js'
import type { TaskosErrorOptions } from '../kernel/index.js'

/**
 * No NATS server answered within `timeout`, or the TLS handshake failed (an untrusted server
 * certificate: set `tls.caFile`). Code `ERR_CONNECT`; `cause` is the nats.js error.
 * @example
 * try { await Cluster.connect({ servers: 'nats://127.0.0.1:1', timeout: 500 }) }
 * catch (e) { if (e instanceof ConnectError) console.log(e.code) } // ERR_CONNECT
 */
export class ConnectError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_CONNECT', message, options)
  }
}

/**
 * NATS refused the credentials (token, user/password, nkey, creds file) or a TLS client
 * certificate. Code `ERR_AUTH`; `cause` is the nats.js error.
 */
export class AuthError extends TaskosError {
  constructor(message: string, options?: TaskosErrorOptions) {
    super('ERR_AUTH', message, options)
  }
}
