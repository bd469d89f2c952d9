// Headless Chromium for the browser tests, through playwright-core: the system's own
// `/usr/bin/chromium` (never a downloaded browser), a fresh profile per page, closed when the test
// ends.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { chromium, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
// Headless, and kept off the network: no updates, no sync, no QUIC probes, no first-run pings.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
/** Where screenshots go. */
export const ARTIFACTS = new URL('../test-artifacts/', import.meta.url)
const inCi = process.env.CI !== undefined && process.env.CI !== ''
const missing = existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM}: install it with \`apt-get install chromium\``

/**
 * The `skip` option of a browser test: skipped with a hint where Chromium is missing, except in CI
 * (`CI` set), where `openBrowser` fails instead.
 */
export const skipWithoutChromium: string | false = !inCi && missing !== undefined ? missing : false

export async function openBrowser(t: Test): Promise<Page> {
  if (missing !== undefined) throw new Error(`${missing} (CI is set, so this test may not skip)`)
  const profile = mkdtempSync(join(tmpdir(), 'agent-events-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 960, height: 640 },
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context.pages()[0] ?? context.newPage()
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true })
}
