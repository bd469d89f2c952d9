// The demo page in a real Chromium, built on fastify-agent-events/client and loaded without a
// bundler (an import map, the client's modules served from src/client/): a run is rendered live,
// survives reloads in the middle (with events emitted while the page was away) and ends with every
// event exactly once, nothing shown before a reload handed out again; its answer is written token
// by token, visibly, and a reload in the middle of it picks it up; a reset (events gone from the
// server's buffer, or a new epoch) is shown plainly.
import { copyFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import type { Page, Route } from 'playwright-core'
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client'
import type { RecordedAgentEvent } from '../src/index.ts'
import { SCRIPTS, tokens } from '../examples/demo/agent-run.ts'
import { startDemo, type RunningDemo } from './demo-loader.ts'
import { ARTIFACTS, openBrowser, screenshot, skipWithoutChromium } from './browser.ts'
import { request, waitFor } from './helpers.ts'

// A browser (or `npm run demo` in child processes) on a busy machine can take longer than the
// suite's default per-file timeout; nothing here is a timed assertion.
t.setTimeout(240_000)

/** `UPDATE_DEMO_PNG=1` copies the screenshot of the answer half-written to the README's image. */
const DEMO_PNG = new URL('../docs/demo.png', import.meta.url)

// The page's globals, typed for the few calls made inside `page.evaluate` (no DOM lib here).
interface PageElement {
  dataset: Record<string, string | undefined>
  classList: { contains(name: string): boolean }
  querySelector(selector: string): { textContent: string | null } | null
}
interface PageGlobals {
  sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void }
}

/** Where the client keeps a workflow's position in the page's sessionStorage. */
const positionKey = (workflowId: string) => `agent-events:${workflowId}`

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => { resolve = done })
  return { promise, resolve }
}

/**
 * Holds a run before chosen steps (`5`) or before chosen tokens of a streamed step (`'14.6'`: the
 * seventh token of step 14) until the test lets it go on.
 */
class StepGates {
  readonly #gates = new Map<string, { reached: Deferred<void>; release: Deferred<void> }>()

  hold(at: number | string): void {
    this.#gates.set(String(at), { reached: deferred(), release: deferred() })
  }

  reached(at: number | string): Promise<void> {
    return this.#gate(at).reached.promise
  }

  /** Let the held run go on; later runs pass this point freely. */
  release(at: number | string): void {
    this.#gate(at).release.resolve()
    this.#gates.delete(String(at))
  }

  readonly beforeStep = async (_workflowId: string, stepIndex: number, signal: AbortSignal): Promise<void> => {
    await this.#pass(String(stepIndex), signal)
  }

  readonly beforeToken = async (_workflowId: string, stepIndex: number, tokenIndex: number, signal: AbortSignal): Promise<void> => {
    await this.#pass(`${stepIndex}.${tokenIndex}`, signal)
  }

  async #pass(at: string, signal: AbortSignal): Promise<void> {
    const gate = this.#gates.get(at)
    if (gate === undefined) return
    gate.reached.resolve()
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    await Promise.race([gate.release.promise, aborted])
  }

  #gate(at: number | string) {
    const gate = this.#gates.get(String(at))
    if (gate === undefined) throw new Error(`no gate at ${at}`)
    return gate
  }
}

interface Row {
  type: string
  seqs: number[]
  status: string | undefined
  text: string
}

async function rows(page: Page): Promise<Row[]> {
  return page.$$eval('#timeline > li', (items) =>
    items.map((item) => {
      const row = item as unknown as PageElement
      return {
        type: row.dataset['type'] ?? '',
        seqs: (row.dataset['seqs'] ?? '').split(' ').filter(Boolean).map(Number),
        status: row.dataset['status'],
        text: row.querySelector('.body')?.textContent ?? '',
      }
    }))
}

async function summary(page: Page): Promise<Record<string, string | undefined>> {
  return page.$eval('#summary', (element) => ({ ...(element as unknown as PageElement).dataset }))
}

async function stored<T>(page: Page, key: string): Promise<T> {
  return page.evaluate(
    (name) => JSON.parse((globalThis as unknown as PageGlobals).sessionStorage.getItem(`agent-demo:${name}`) ?? 'null'),
    key,
  ) as Promise<T>
}

/**
 * The rows that the compacted `events` of ended messages must produce: one per event, except one
 * per tool call (by `tool_call_id`).
 */
function expectedRows(events: RecordedAgentEvent[]): Array<Pick<Row, 'type' | 'seqs' | 'status'>> {
  const expected: Array<Pick<Row, 'type' | 'seqs' | 'status'>> = []
  const calls = new Map<string, Pick<Row, 'type' | 'seqs' | 'status'>>()
  for (const event of events) {
    if (event.type === 'tool_call') {
      const key = String(event.data.tool_call_id ?? event.data.tool_name)
      const row = calls.get(key) ?? { type: 'tool_call', seqs: [], status: undefined }
      if (!calls.has(key)) {
        calls.set(key, row)
        expected.push(row)
      }
      row.seqs.push(event.seq)
      row.status = event.data.status
    } else {
      expected.push({ type: event.type, seqs: [event.seq], status: undefined })
    }
  }
  return expected
}

interface Box { top: number; bottom: number; left: number; right: number; width: number; height: number }
interface HeaderLayout {
  header: Box
  brand: Box
  pill: Box
  /** The pill's text fits its box: nothing clipped or wrapped. */
  pillFits: boolean
  pillState: string
}

/** Where the header's parts are, measured in the page (no DOM types here, hence a string). */
async function headerLayout(page: Page): Promise<HeaderLayout> {
  return page.evaluate(`(() => {
    const box = (element) => {
      const { top, bottom, left, right, width, height } = element.getBoundingClientRect()
      return { top, bottom, left, right, width, height }
    }
    const pill = document.querySelector('#connection')
    return {
      header: box(document.querySelector('header.bar')),
      brand: box(document.querySelector('.brand')),
      pill: box(pill),
      pillFits: pill.scrollWidth <= pill.clientWidth && pill.scrollHeight <= pill.clientHeight,
      pillState: pill.dataset.state,
    }
  })()`) as Promise<HeaderLayout>
}

/** Whether the spinner of an in-progress tool call turns (its ::before is shown and animated). */
async function spinnerTurns(page: Page): Promise<boolean> {
  return page.evaluate(`(() => {
    const chip = document.querySelector('#timeline .chip.status-in_progress')
    if (chip === null) return false
    const spinner = getComputedStyle(chip, '::before')
    return spinner.display !== 'none' && spinner.animationName !== 'none'
  })()`) as Promise<boolean>
}

/** A socket.io-client of the test itself, as `token`'s user. */
async function connectAs(t: Test, demo: RunningDemo, token: string): Promise<ClientSocket> {
  const socket = ioClient(demo.url, { path: '/ws', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true })
  t.teardown(() => {
    socket.disconnect()
  })
  await waitFor(socket, 'connect')
  return socket
}

/** The recorded events of the run, its messages' deltas left out (they are ended). */
async function compactHistory(demo: RunningDemo, workflowId: string, afterSeq = 0) {
  return demo.app.agentEvents.history(workflowId, { afterSeq, limit: 1000, compact: true })
}

/** The rows a page must show at a point where every message has ended. */
async function expectedRowsNow(demo: RunningDemo, workflowId: string) {
  return expectedRows((await compactHistory(demo, workflowId)).events)
}

const shape = (shown: Row[]) => shown.map(({ type, seqs, status }) => ({ type, seqs, status }))

/**
 * Checks the page against the replay buffer and the REST fallback: every event exactly once, each
 * streamed message as one row with its whole text.
 */
async function assertCompleteTimeline(t: Test, page: Page, demo: RunningDemo, workflowId: string) {
  const history = await compactHistory(demo, workflowId)
  const token = await stored<string>(page, 'token')
  const rest = await demo.app.inject({
    method: 'GET',
    url: `/workflows/${workflowId}/events?afterSeq=0&compact=true&limit=1000`,
    headers: { authorization: `Bearer ${token}` },
  })
  t.equal(rest.statusCode, 200, 'the REST fallback answers the run\'s owner')
  t.same(rest.json().events, history.events, 'the REST fallback returns the replay buffer')

  const shown = await rows(page)
  const seqs = shown.flatMap((row) => row.seqs)
  t.same(seqs, history.events.map((event) => event.seq), 'every final event is on the page exactly once, in seq order')
  const texts = await page.$$eval('#timeline > li[data-message] .text', (items) => items.map((item) => (item as unknown as PageElement & { textContent: string }).textContent))
  t.same(
    texts,
    history.events.filter((event) => event.type === 'thought' || event.type === 'result').map((event) => event.data.content),
    'every streamed message shows its whole text, once',
  )
  t.same(
    shown.map(({ type, seqs, status }) => ({ type, seqs, status })),
    expectedRows(history.events),
    'one row per event, one per tool call',
  )
  t.match(await summary(page), { anomalies: '0', lastSeq: String(history.lastSeq) }, 'no duplicate or gap was seen')
}

t.test('the demo page in Chromium', { skip: skipWithoutChromium }, async (t) => {
  const gates = new StepGates()
  const demo = await startDemo(t, { beforeStep: gates.beforeStep })
  const page = await openBrowser(t)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  await t.test('a run that succeeds, with two reloads in the middle', async (t) => {
    // Steps 0..14: thoughts (streamed: deltas, then the thought), tool calls, the result. Hold
    // before step 5 (a thought) and before step 10 (the third tool call).
    gates.hold(5)
    gates.hold(10)
    await page.goto(`${demo.url}/?stepMs=40&tokenMs=10`)
    await page.waitForSelector('body[data-connection="connected"]')
    await page.click('#run-success')
    await gates.reached(5)
    const workflowId = await stored<string>(page, 'workflowId')
    t.match(workflowId, /^wf-/, 'the page follows the run it started')
    const atFive = (await demo.app.agentEvents.history(workflowId)).lastSeq
    await page.waitForSelector(`#summary[data-last-seq="${atFive}"]`)
    t.same(
      shape(await rows(page)),
      await expectedRowsNow(demo, workflowId),
      'live rows arrive in order, one per message, the tool call updated in place',
    )
    t.same(shape(await rows(page)).map((row) => row.type), ['thought', 'thought', 'tool_call'])
    t.equal(await page.textContent('#connection'), 'live')

    // A reload while the run is held: the rows come back from sessionStorage, the page resumes
    // after the last seq it saw with nothing to replay, and the rest of the run arrives live.
    await page.reload()
    await page.waitForSelector('body[data-connection="live"]')
    t.match(await summary(page), { resumedAfter: String(atFive), received: '0', lastSeq: String(atFive) }, 'the client resumed after the last seq shown, and handed out nothing again')
    t.same(shape(await rows(page)), await expectedRowsNow(demo, workflowId), 'the rows came back from storage, each once')
    gates.release(5)
    await gates.reached(10)
    const atTen = (await demo.app.agentEvents.history(workflowId)).lastSeq
    await page.waitForSelector(`#summary[data-last-seq="${atTen}"]`)
    const beforeSecondReload = await rows(page)
    t.same(shape(beforeSecondReload), await expectedRowsNow(demo, workflowId), 'restored and live rows, in order')
    t.match(await summary(page), { resumedAfter: String(atFive), anomalies: '0' })

    // Reload again, and keep the new page from connecting until the run has ended: the rest of
    // the run is emitted while no page is listening, and must come back from the replay buffer.
    const bundleRequested = deferred<Route>()
    await page.route('**/ws/socket.io.esm.min.js', (route) => bundleRequested.resolve(route))
    const reloading = page.reload()
    const route = await bundleRequested.promise
    const watcher = await connectAs(t, demo, await stored<string>(page, 'token'))
    t.match(await request(watcher, 'agent:subscribe', { workflowId, afterSeq: atTen }), { ok: true, lastSeq: atTen })
    const ended = waitFor(watcher, 'agent:result')
    gates.release(10)
    await ended
    const missed = await compactHistory(demo, workflowId, atTen)
    t.equal(missed.events.at(-1)?.type, 'result', 'the run ended while the page was away')
    await route.continue()
    await page.unroute('**/ws/socket.io.esm.min.js')
    await reloading
    await page.waitForSelector('body[data-run="succeeded"]')
    await page.waitForSelector('body[data-connection="live"]')
    t.match(
      await summary(page),
      { resumedAfter: String(atTen), received: String(missed.events.length), lastSeq: String(missed.lastSeq) },
      'only the missed events were handed out, the deltas of their ended messages left out',
    )
    t.ok((missed.compacted ?? 0) > 0, `the replay left out deltas (${missed.compacted})`)

    await assertCompleteTimeline(t, page, demo, workflowId)
    const final = await rows(page)
    t.same(final.slice(0, beforeSecondReload.length), beforeSecondReload, 'the rows shown before the reload stay as they were, each once')
    t.equal(await page.isHidden('#reset'), true, 'no reset')
    t.equal(final.at(-1)?.type, 'result', 'the result ends the timeline')
    t.match(final.at(-1)?.text, /Refund r-7730/)
    t.equal(await page.$$eval('#timeline > li.result', (items) => items.length), 1, 'one highlighted result')
    t.same(
      final.filter((row) => row.type === 'tool_call').map((row) => row.status),
      ['completed', 'completed', 'completed'],
    )
    await screenshot(page, 'demo-success.png')
  })

  await t.test('a run that fails, then a reload with a stale epoch rebuilds the timeline', async (t) => {
    await page.click('#run-failure')
    await page.waitForSelector('body[data-run="failed"]')
    const workflowId = await stored<string>(page, 'workflowId')
    await assertCompleteTimeline(t, page, demo, workflowId)
    const shown = await rows(page)
    t.equal(shown.at(-1)?.type, 'error', 'the error ends the timeline')
    t.match(shown.at(-1)?.text, /TOOL_UNAVAILABLE/)
    t.same(
      shown.filter((row) => row.type === 'tool_call').map((row) => row.status),
      ['completed', 'failed', 'failed'],
      'failed tool calls show as failed',
    )
    await screenshot(page, 'demo-failure.png')

    // An epoch the server does not know (as after a restart of its store): it replays the whole
    // buffer with truncated: true, the client reports a reset, and the page must start over from
    // that replay instead of appending to what it had. The position is the client's, in the
    // page's sessionStorage.
    const position = await page.evaluate((key) => (globalThis as unknown as PageGlobals).sessionStorage.getItem(key), positionKey(workflowId))
    const lastShown = Math.max(...shown.flatMap((row) => row.seqs))
    t.match(JSON.parse(position ?? 'null'), { lastSeq: lastShown, epoch: String }, 'the client stored the last seq shown and the epoch')
    await page.evaluate(([key, value]) => (globalThis as unknown as PageGlobals).sessionStorage.setItem(key as string, value as string),
      [positionKey(workflowId), JSON.stringify({ lastSeq: lastShown, epoch: 'stale-epoch' })])
    await page.reload()
    await page.waitForSelector('body[data-reset="epoch"]')
    await page.waitForSelector('body[data-run="failed"]')
    t.ok(await page.isVisible('#reset'), 'a reset banner is shown')
    t.match(await page.textContent('#reset'), /History reset.*started over/s, 'and says why')
    const history = await compactHistory(demo, workflowId)
    t.match(await summary(page), { resumedAfter: String(lastShown), received: String(history.events.length), anomalies: '0' }, 'the whole buffer was handed out again')
    await assertCompleteTimeline(t, page, demo, workflowId)
    await screenshot(page, 'demo-reset-epoch.png')
    await page.reload()
    await page.waitForSelector('body[data-connection="live"]')
    t.ok(await page.isVisible('#reset'), 'the banner stays after a reload')
    t.match(await summary(page), { received: '0' }, 'and nothing is handed out again')
  })

  await t.test('the REST fallback is scoped to the run\'s owner', async (t) => {
    const workflowId = await stored<string>(page, 'workflowId')
    const login = await demo.app.inject({ method: 'POST', url: '/login', payload: { username: 'mallory' } })
    const other = await demo.app.inject({
      method: 'GET',
      url: `/workflows/${workflowId}/events`,
      headers: { authorization: `Bearer ${login.json().token}` },
    })
    t.equal(other.statusCode, 404, 'another user cannot read the run')
    const anonymous = await demo.app.inject({ method: 'GET', url: `/workflows/${workflowId}/events` })
    t.equal(anonymous.statusCode, 401)
  })

  await t.test('at 390 px the header stays on one line and the connection pill keeps its shape', async (t) => {
    await page.setViewportSize({ width: 960, height: 640 })
    await page.waitForSelector('body[data-connection="live"]')
    const wide = await headerLayout(page)
    await page.setViewportSize({ width: 390, height: 844 })
    const narrow = await headerLayout(page)
    await screenshot(page, 'demo-390px.png')
    await page.setViewportSize({ width: 960, height: 640 })
    t.equal(narrow.pillState, 'live')
    // One line: the brand and the pill share the header's single row.
    t.ok(narrow.header.height <= wide.header.height + 1, `the header is as high as at 960 px (${narrow.header.height} px, ${wide.header.height} px wide)`)
    t.ok(narrow.brand.top < narrow.pill.bottom && narrow.pill.top < narrow.brand.bottom, 'the brand and the pill are on one row')
    t.ok(narrow.pill.right <= 390, 'the pill is inside the viewport')
    // Not squashed: the pill is as wide and as high as it is at 960 px, and its text fits.
    t.ok(Math.abs(narrow.pill.width - wide.pill.width) <= 1, `the pill keeps its width (${narrow.pill.width} px, ${wide.pill.width} px wide)`)
    t.ok(Math.abs(narrow.pill.height - wide.pill.height) <= 1, `the pill keeps its height (${narrow.pill.height} px, ${wide.pill.height} px wide)`)
    t.ok(narrow.pillFits, 'the pill\'s text is neither clipped nor wrapped')
  })

  t.same(pageErrors, [], 'no script error on the page')
})

/** The text of the page's one row of message `messageId`, and whether it is still being written. */
async function messageText(page: Page, messageId: string): Promise<{ rows: number; text: string; streaming: boolean }> {
  return page.$$eval('#timeline > li[data-message]', (items, id) => {
    const mine = items.map((item) => item as unknown as PageElement).filter((row) => row.dataset['message'] === id)
    return {
      rows: mine.length,
      text: mine[0]?.querySelector('.text')?.textContent ?? '',
      streaming: mine[0]?.dataset['streaming'] === 'true',
    }
  }, messageId)
}

/** Wait until the row of the message being written shows `text`, and say what it shows. */
async function waitForText(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (expected) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } })
      .document.querySelector('#timeline > li[data-streaming] .text')?.textContent === expected,
    text,
    { timeout: 60_000 },
  )
}

t.test('the answer is written token by token', { skip: skipWithoutChromium }, async (t) => {
  const gates = new StepGates()
  const demo = await startDemo(t, { beforeStep: gates.beforeStep, beforeToken: gates.beforeToken })
  const page = await openBrowser(t)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  // Step 14 writes the result. The page is looked at with the answer held after 6, 11 and 16 of
  // its tokens; the tokens from 16 to 21 are written while a reload keeps the page away.
  const resultStep = SCRIPTS.success.length - 1
  const scripted = SCRIPTS.success[resultStep]
  if (scripted?.type !== 'result') throw new Error('the success script ends with its result')
  const answer = tokens(scripted.data.content)
  const written = (count: number) => answer.slice(0, count).join('')
  const looks = [6, 11, 16]
  const away = 21
  for (const at of [...looks, away]) gates.hold(`${resultStep}.${at}`)

  await page.goto(`${demo.url}/?stepMs=20&tokenMs=10`)
  await page.waitForSelector('body[data-connection="connected"]')
  await page.click('#run-success')
  const samples: string[] = []
  let messageId = ''
  for (const [index, at] of looks.entries()) {
    await gates.reached(`${resultStep}.${at}`)
    await waitForText(page, written(at))
    if (messageId === '') messageId = (await page.getAttribute('#timeline > li[data-streaming]', 'data-message')) ?? ''
    const shown = await messageText(page, messageId)
    t.match(shown, { rows: 1, streaming: true }, `after ${at} tokens the answer's row is being written`)
    samples.push(shown.text)
    await screenshot(page, `demo-streaming-${index + 1}.png`)
    if (index === looks.length - 1 && process.env.UPDATE_DEMO_PNG === '1') {
      copyFileSync(new URL(`demo-streaming-${index + 1}.png`, ARTIFACTS), DEMO_PNG)
    }
    if (index < looks.length - 1) gates.release(`${resultStep}.${at}`)
  }
  t.equal(await page.getAttribute('body', 'data-run'), 'running')
  const workflowId = await stored<string>(page, 'workflowId')

  // A reload in the middle of the answer, with the page kept away while more of it is written:
  // the row comes back from sessionStorage, and the tokens it missed come as one merged delta.
  const afterSeq = Number((await summary(page))['lastSeq'])
  const bundleRequested = deferred<Route>()
  await page.route('**/ws/socket.io.esm.min.js', (route) => bundleRequested.resolve(route))
  const reloading = page.reload()
  const route = await bundleRequested.promise
  const watcher = await connectAs(t, demo, await stored<string>(page, 'token'))
  t.match(await request(watcher, 'agent:subscribe', { workflowId, afterSeq }), { ok: true, lastSeq: afterSeq })
  let missedText = ''
  const missedAll = new Promise<void>((resolve) => {
    watcher.on('agent:delta', (event: { data: { text: string } }) => {
      missedText += event.data.text
      if (written(16) + missedText === written(away)) resolve()
    })
  })
  gates.release(`${resultStep}.${looks.at(-1)}`)
  await gates.reached(`${resultStep}.${away}`)
  await missedAll
  await route.continue()
  await page.unroute('**/ws/socket.io.esm.min.js')
  await reloading
  await page.waitForSelector('body[data-connection="live"]')
  const afterReload = await messageText(page, messageId)
  t.same(afterReload, { rows: 1, text: written(away), streaming: true }, 'after the reload: the text so far, once, still being written')
  t.match(await summary(page), { resumedAfter: String(afterSeq), received: '1', anomalies: '0' }, 'what it missed came as one delta')
  samples.push(afterReload.text)
  await screenshot(page, 'demo-streaming-reloaded.png')

  gates.release(`${resultStep}.${away}`)
  await page.waitForSelector('body[data-run="succeeded"]')
  const final = await messageText(page, messageId)
  t.same(final, { rows: 1, text: scripted.data.content, streaming: false }, 'the result replaced what its deltas wrote, in the same row')
  samples.push(final.text)
  for (let index = 1; index < samples.length; index++) {
    const [before, after] = [samples[index - 1] as string, samples[index] as string]
    t.ok(after.length > before.length && after.startsWith(before), `the text grew (${before.length} → ${after.length} characters)`)
  }
  const result = (await demo.app.agentEvents.history(workflowId, { limit: 1000 })).events.at(-1)
  t.match(result, { type: 'result', data: { content: final.text, messageId } }, 'the page ends with the result\'s content')
  await assertCompleteTimeline(t, page, demo, workflowId)
  t.equal(await page.$$eval('#timeline > li[data-streaming]', (items) => items.length), 0, 'nothing is left being written')
  await screenshot(page, 'demo-streaming-done.png')

  await t.test('a run stopped in the middle of a thought marks its row as aborted', async (t) => {
    gates.hold('0.4')
    await page.click('#run-success')
    await gates.reached('0.4')
    await waitForText(page, tokens((SCRIPTS.success[0] as { content: string }).content).slice(0, 4).join(''))
    // Closing the server stops its runs: the thought being written ends with the run's error.
    await demo.app.close()
    await page.waitForSelector('#timeline > li[data-aborted]')
    const row = await page.$eval('#timeline > li[data-aborted]', (item) => ({ ...(item as unknown as PageElement).dataset }))
    t.match(row, { type: 'thought', message: /./ }, 'the thought\'s row')
    t.notOk(row['streaming'], 'is no longer being written')
    t.match(await page.textContent('#timeline > li[data-aborted]'), /RUN_STOPPED/, 'and says why')
    await screenshot(page, 'demo-streaming-aborted.png')
  })
  t.same(pageErrors, [], 'no script error on the page')
})

t.test('a run the server lost in a restart', { skip: skipWithoutChromium }, async (t) => {
  const gates = new StepGates()
  const first = await startDemo(t, { beforeStep: gates.beforeStep })
  const page = await openBrowser(t)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  // Steps 0..3: two thoughts, the first tool call pending then in progress. Hold there.
  gates.hold(4)
  await page.goto(`${first.url}/?stepMs=40&tokenMs=10`)
  await page.waitForSelector('body[data-connection="connected"]')
  await page.click('#run-success')
  await gates.reached(4)
  const workflowId = await stored<string>(page, 'workflowId')
  const held = await compactHistory(first, workflowId)
  await page.waitForSelector(`#summary[data-last-seq="${held.lastSeq}"]`)
  t.equal(await page.getAttribute('body', 'data-run'), 'running')
  t.ok(await spinnerTurns(page), 'the tool call in progress shows a turning spinner')

  // The server restarts: same port and secret, nothing of the run remembered (the demo keeps runs
  // in memory). The page reconnects by itself and subscribes again.
  // Seen once in ten runs: close() not finishing. Fail here, saying so, rather than at the
  // file's time-out (not a timed assertion: 60 s is far beyond any normal close).
  let stuck: NodeJS.Timeout | undefined
  await Promise.race([
    first.app.close(),
    new Promise((_, reject) => { stuck = setTimeout(() => reject(new Error('the demo server did not finish closing within 60 s')), 60_000) }),
  ]).finally(() => clearTimeout(stuck))
  await startDemo(t, {}, Number(new URL(first.url).port))
  await page.waitForSelector('body[data-run="interrupted"]')
  await screenshot(page, 'demo-restarted.png')
  t.match(await page.textContent('#run-state'), /interrupted/, 'the run is no longer shown as running')
  t.match(await page.textContent('#run-note'), /server no longer has this run/, 'the page says why, and it stays said')
  t.notOk(await spinnerTurns(page), 'no spinner turns any more')
  t.same((await rows(page)).flatMap((row) => row.seqs), held.events.map((event) => event.seq), 'what the page had stays on it')
  t.ok(await page.isEnabled('#run-success'), 'a new run can be started')
  t.same(pageErrors, [], 'no script error on the page')
})

t.test('a page away while its run outgrew the replay buffer shows the reset', { skip: skipWithoutChromium }, async (t) => {
  const gates = new StepGates()
  // A buffer of 6 events: a run records far more (its deltas included), so a page that misses
  // more than 6 finds the events after its last seq gone from the server.
  const demo = await startDemo(t, { beforeStep: gates.beforeStep, replay: { maxEvents: 6 } })
  const page = await openBrowser(t)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))

  // Held before step 2 (two thoughts shown), then before step 12 (the third tool call in progress).
  gates.hold(2)
  gates.hold(12)
  await page.goto(`${demo.url}/?stepMs=20&tokenMs=5`)
  await page.waitForSelector('body[data-connection="connected"]')
  await page.click('#run-success')
  await gates.reached(2)
  const workflowId = await stored<string>(page, 'workflowId')
  const atTwo = (await demo.app.agentEvents.history(workflowId)).lastSeq
  await page.waitForSelector(`#summary[data-last-seq="${atTwo}"]`)
  t.same(shape(await rows(page)).map((row) => row.type), ['thought', 'thought'])

  // The page reloads and is kept from connecting while ten more steps are recorded.
  const bundleRequested = deferred<Route>()
  await page.route('**/ws/socket.io.esm.min.js', (route) => bundleRequested.resolve(route))
  const reloading = page.reload()
  const route = await bundleRequested.promise
  gates.release(2)
  await gates.reached(12)
  t.match(await demo.app.agentEvents.history(workflowId, { afterSeq: atTwo }), { truncated: true }, 'the events after the page\'s last seq are no longer all there')
  await route.continue()
  await page.unroute('**/ws/socket.io.esm.min.js')
  await reloading

  await page.waitForSelector('body[data-reset="truncated"]')
  await page.waitForSelector('body[data-connection="live"]')
  t.ok(await page.isVisible('#reset'), 'a reset banner is shown')
  t.match(await page.textContent('#reset'), /History reset.*left the server's replay buffer/s, 'and says why')
  t.equal(await page.getAttribute('body', 'data-run'), 'running', 'the run goes on')
  await assertCompleteTimeline(t, page, demo, workflowId)
  t.notOk((await rows(page)).some((row) => row.seqs.includes(1)), 'what the page showed before is cleared, not kept beside the rest')
  await screenshot(page, 'demo-reset-truncated.png')

  // The rest arrives live; the small buffer moves on meanwhile, so the page now holds more than it.
  gates.release(12)
  await page.waitForSelector('body[data-run="succeeded"]')
  const seqs = (await rows(page)).flatMap((row) => row.seqs)
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'every seq once, in order')
  t.equal(new Set(seqs).size, seqs.length)
  t.equal(seqs.at(-1), (await demo.app.agentEvents.history(workflowId)).lastSeq, 'up to the result')
  t.match(await summary(page), { anomalies: '0' })
  t.ok(await page.isVisible('#reset'), 'the banner stays until a new run')
  await page.click('#run-failure')
  await page.waitForSelector('body[data-run="failed"]')
  t.ok(await page.isHidden('#reset'), 'a new run starts without it')
  t.same(pageErrors, [], 'no script error on the page')
})
