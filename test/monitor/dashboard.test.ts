// The dashboard in a real browser (Debian's chromium through playwright-core): it shows each
// source, follows the live stream (counts change without a reload, events appear), and runs under
// its Content-Security-Policy without a single console error.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { Kernel, Pool } from '../../src/index.js'
import { Monitor } from '../../src/monitor/index.js'
import { add, exit, fail } from '../fixtures/pool-tasks.js'

const CHROMIUM = process.env.TASKOS_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

describe('monitor: dashboard in chromium', { timeout: 60_000 }, () => {
  let browser: Browser

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set TASKOS_CHROMIUM)`)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  })
  after(() => browser?.close())

  test('monitor: the dashboard shows every source and follows the live stream', async () => {
    const pool = new Pool({ workers: 2 })
    const k = new Kernel()
    const monitor = new Monitor({ pool, kernel: k }, { interval: 100 })
    const page = await browser.newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    try {
      const url = await monitor.listen()
      await page.goto(url)
      await page.waitForSelector('#status:text("live")')
      await page.waitForSelector('[data-source="pool"]')
      await page.waitForSelector('[data-source="kernel"]')
      assert.match(await page.textContent('[data-source="pool"] h2') ?? '', /^poolpool$/)

      assert.equal(await pool.run(add, [20, 22]), 42)
      await assert.rejects(async () => pool.run(fail, ['/y']))
      await assert.rejects(async () => pool.run(exit, [5]))
      // the card updates from the stream: done 1, failed 1, crashed 1 (in red)
      // locators only: Playwright's page predicates are eval()ed in the page, which its CSP forbids
      const cells = page.locator('[data-source="pool"] .nums div')
      const card = async (label: string): Promise<string> => {
        const cell = cells.filter({ hasText: new RegExp(`^[\\d,–]+${label}$`) })
        return `${(await cell.locator('b').textContent()) ?? ''}${(await cell.getAttribute('class')) === 'bad' ? ' red' : ''}`
      }
      await cells.filter({ hasText: /^1crashed$/ }).waitFor()
      assert.equal(await card('done'), '1')
      assert.equal(await card('failed'), '1 red')
      assert.equal(await card('crashed'), '1 red')
      assert.equal(await card('workers'), '2')
      // the crash's event is listed
      const event = await page.waitForSelector('#events li[data-type="worker-exit"]')
      assert.match((await event.textContent()) ?? '', /pool: worker \d+ exited \(crashed, code 5\)/)
      assert.equal(await page.locator('svg polyline').count(), 2, 'a throughput chart per source')
      assert.deepEqual(problems, [])
    } finally {
      await page.close()
      await monitor.close()
      await pool.destroy()
      await k.close()
    }
  })
})
