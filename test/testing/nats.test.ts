// startNats: options are checked before any server starts; extra configuration reaches the server.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { connect } from '@nats-io/transport-node'
import { TaskosError } from '../../src/index.js'
import { startNats } from '../../src/testing/nats.js'

describe('testing: startNats', () => {
  test('testing: startNats rejects a non-string config and a config authorization beside token', async () => {
    await assert.rejects(
      startNats({ config: 42 as unknown as string }),
      (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_OPTION' && /invalid option config: 42/.test((e as Error).message),
    )
    await assert.rejects(
      startNats({ token: 't', config: 'authorization { user: a, password: b }' }),
      (e: unknown) => e instanceof TaskosError && e.code === 'ERR_INVALID_OPTION' && /authorization block/.test((e as Error).message),
    )
  })

  test('testing: startNats appends config to the server configuration (max_connections 1 is enforced)', async () => {
    const nats = await startNats({ jetstream: false, config: 'max_connections: 1' })
    try {
      const first = await connect({ servers: nats.url })
      try {
        await assert.rejects(connect({ servers: nats.url, timeout: 2000, reconnect: false }))
      } finally {
        await first.close()
      }
    } finally {
      await nats.stop()
    }
  })
})
