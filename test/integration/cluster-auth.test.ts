// Every NATS authentication method passes through clients and `taskos node` processes: user and
// password, nkeys, and JWT `.creds` files (operator mode, made here with the official JWT and nkeys
// libraries). Each is refused with a clear AuthError when the credentials are missing or wrong, and
// runs tasks (fast and durable paths) when they are right. Token and TLS: cluster-servers.test.ts.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt'
import { createAccount, createOperator, createUser } from '@nats-io/nkeys'
import { AuthError, Cluster } from '../../src/cluster/index.js'
import type { ConnectionOptions } from '../../src/cluster/index.js'
import { TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'
import type { NatsServerHandle } from '../../src/testing/nats.js'
import { double, envProbe } from '../fixtures/cluster-tasks.js'
import { killAllNodes, startNode } from './cluster-helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'taskos-auth-'))

/** Connecting with these options is refused with an AuthError naming the problem. */
async function refused(servers: string, options: Partial<ConnectionOptions>): Promise<void> {
  await assert.rejects(Cluster.connect({ servers, timeout: 3000, ...options }), (e: unknown) => {
    assert.ok(e instanceof AuthError && e instanceof TaskosError && e.code === 'ERR_AUTH', String(e))
    assert.match((e as Error).message, /refused the credentials/)
    return true
  })
}

/** A node started with `nodeArgs` and a client connected with `options` run tasks on both paths. */
async function works(
  nats: NatsServerHandle,
  name: string,
  nodeArgs: string[],
  options: Partial<ConnectionOptions>,
  more?: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  await startNode(nats.url, name, ['--slots', '1', ...nodeArgs])
  const cluster = await Cluster.connect({ servers: nats.url, timeout: 5000, ...options })
  try {
    await cluster.waitForHosts(1)
    assert.equal(await (await cluster.spawn(double, [21])).join(), 42)
    assert.equal(await (await cluster.spawn(double, [4], { durable: true })).join(), 8)
    await more?.(cluster)
  } finally {
    await cluster.close()
    await killAllNodes()
  }
}

describe('cluster: NATS authentication methods', { timeout: 120_000 }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }))

  describe('user and password', () => {
    let nats: NatsServerHandle
    before(async () => {
      nats = await startNats({ config: 'authorization { users = [ { user: "alice", password: "wonder-land" } ] }' })
    })
    after(() => nats?.stop())

    test('cluster: user/password: missing or wrong is refused clearly; right works (password from TASKOS_NATS_PASS for the node)', async () => {
      await refused(nats.url, {})
      await refused(nats.url, { user: 'alice', pass: 'wrong' })
      await refused(nats.url, { user: 'bob', pass: 'wonder-land' })
      process.env.TASKOS_NATS_PASS = 'wonder-land'
      try {
        await works(nats, 'userpass', ['--user', 'alice'], { user: 'alice', pass: 'wonder-land' }, async (cluster) => {
          // the node's credentials reach its workers, but neither a task's environment nor the
          // child processes a task starts
          const seen = await (await cluster.spawn(envProbe, ['wonder-land'])).join()
          assert.deepEqual(seen, { inEnv: [], childSeesSecret: false })
        })
      } finally {
        delete process.env.TASKOS_NATS_PASS
      }
    })
  })

  describe('nkeys', () => {
    const user = createUser()
    let nats: NatsServerHandle
    before(async () => {
      nats = await startNats({ config: `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }` })
    })
    after(() => nats?.stop())

    test('cluster: nkey: no seed or another key is refused clearly; the right seed works', async () => {
      await refused(nats.url, {})
      await refused(nats.url, { nkeySeed: new TextDecoder().decode(createUser().getSeed()) })
      const seed = new TextDecoder().decode(user.getSeed())
      await works(nats, 'nkey', ['--nkey-seed', seed], { nkeySeed: seed })
    })
  })

  describe('JWT credentials files (operator mode)', () => {
    let nats: NatsServerHandle
    let good: string
    let stranger: string
    before(async () => {
      const operator = createOperator()
      const account = createAccount()
      const system = createAccount()
      const unlimited = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true }
      const jetstream = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 }
      const operatorJwt = await encodeOperator('taskos-test', operator, { system_account: system.getPublicKey() })
      const accountJwt = await encodeAccount('work', account, { limits: { ...unlimited, ...jetstream } }, { signer: operator })
      const systemJwt = await encodeAccount('SYS', system, { limits: unlimited }, { signer: operator })
      const user = createUser()
      good = join(dir, 'good.creds')
      writeFileSync(good, fmtCreds(await encodeUser('worker', user, account), user))
      // a user signed by an account the server does not know
      const otherAccount = createAccount()
      const other = createUser()
      stranger = join(dir, 'stranger.creds')
      writeFileSync(stranger, fmtCreds(await encodeUser('stranger', other, otherAccount), other))
      nats = await startNats({
        config: [
          `operator: "${operatorJwt}"`,
          `system_account: "${system.getPublicKey()}"`,
          'resolver: MEMORY',
          `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }`,
        ].join('\n'),
      })
    })
    after(() => nats?.stop())

    test('cluster: creds file: none or an unknown account is refused clearly; an unreadable file is named; the right one works', async () => {
      await refused(nats.url, {})
      await refused(nats.url, { credsFile: stranger })
      await assert.rejects(
        Cluster.connect({ servers: nats.url, credsFile: join(dir, 'missing.creds') }),
        (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_OPTION' && /credsFile: cannot read .*missing\.creds/.test((e as Error).message),
      )
      await works(nats, 'creds', ['--creds', good], { credsFile: good })
    })
  })
})
