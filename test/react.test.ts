// `useWorkflow` in a real Chromium, against a real server, on React 19 and on React 18 (the
// lowest the peer range takes): a page (test/fixtures/react-page.js, bundled here by esbuild with
// React, the hook and the client, all from source) renders a workflow's events and a message
// being streamed; the server counts the subscriptions.
//
// React 18 is the repository's own `react` (tap's reporter renders with ink 5, which needs React
// 18 at the root); React 19 is installed apart, in test/fixtures/react-19/node_modules, and the
// page's bundle is pointed at it.
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import t from 'tap'
import type { Page } from 'playwright-core'
import { openBrowser, screenshot, skipWithoutChromium } from './browser.ts'
import { startServer, until, type TestServer } from './helpers.ts'

t.setTimeout(240_000)

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/page.js"></script></head>
<body><div id="root"></div></body></html>`

const REACT_19 = fileURLToPath(new URL('./fixtures/react-19/node_modules/', import.meta.url))
const REACTS = [
  { major: 19, alias: { react: `${REACT_19}react`, 'react-dom': `${REACT_19}react-dom` } },
  { major: 18, alias: {} },
] as const

/** The fixture page and what it imports, as one ES module (React's development build: StrictMode checks run). */
async function bundlePage(alias: Record<string, string>): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    alias,
    entryPoints: [fileURLToPath(new URL('./fixtures/react-page.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // tsconfig.json's `paths` map `fastify-agent-events/client` and `/react` to src/.
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    define: { 'process.env.NODE_ENV': '"development"' },
  })
  return { code: result.outputFiles[0]?.text ?? '', inputs: Object.keys(result.metafile.inputs) }
}

/** Sockets of this server in the room of `workflowId`: its subscribers. */
function subscribers(server: TestServer, workflowId: string): number {
  return server.app.agentEvents.io.of('/').adapter.rooms.get(`workflow:${workflowId}`)?.size ?? 0
}

async function shown(page: Page) {
  return page.$eval('#workflow', (section) => {
    const element = section as unknown as { dataset: Record<string, string>; querySelectorAll(s: string): ArrayLike<{ dataset: Record<string, string> }> }
    return {
      workflow: element.dataset['workflow'],
      status: element.dataset['status'],
      lastSeq: Number(element.dataset['lastSeq']),
      seqs: Array.from(element.querySelectorAll('#events > li')).map((item) => Number(item.dataset['seq'])),
    }
  })
}

async function message(page: Page, messageId: string): Promise<{ text: string; done: string | null } | null> {
  const row = await page.$(`#messages > p[data-message="${messageId}"]`)
  return row === null ? null : { text: (await row.textContent()) ?? '', done: await row.getAttribute('data-done') }
}

for (const react of REACTS) {
t.test(`useWorkflow renders a workflow in React ${react.major}, in Chromium`, { skip: skipWithoutChromium }, async (t) => {
  const bundle = await bundlePage(react.alias)
  t.ok(bundle.inputs.some((input) => input.endsWith('src/react/use-workflow.ts')), 'the hook comes from src/')
  t.ok(bundle.inputs.some((input) => input.startsWith('src/client/')), 'the client comes from src/')

  const server = await startServer(t, { path: '/ws', authorize: ({ workflowId }) => workflowId !== 'wf-denied' }, {
    before: (app) => {
      app.get('/', (_req, reply) => reply.type('text/html').send(PAGE))
      app.get('/page.js', (_req, reply) => reply.type('text/javascript').send(bundle.code))
    },
  })
  // Every `agent:subscribe` that reaches the server, by workflow.
  const subscribes: string[] = []
  server.app.agentEvents.io.of('/').on('connection', (socket) => {
    socket.onAny((name: string, payload: { workflowId?: string }) => {
      if (name === 'agent:subscribe') subscribes.push(String(payload?.workflowId))
    })
  })
  const events = server.app.agentEvents
  await events.emitThought('wf-react', 'before the page opened')
  await events.emitToolCall('wf-react', { tool_name: 'search', status: 'completed' })

  const page = await openBrowser(t)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  await page.goto(`${server.url}/?workflow=wf-react&token=${server.token('ada')}`)
  await page.waitForSelector('#workflow[data-status="live"]')
  const version = await page.evaluate(() => (globalThis as unknown as { reactPage: { version: string } }).reactPage.version)
  t.equal(version.split('.')[0], String(react.major), `the page runs React ${version}`)
  t.match(await shown(page), { workflow: 'wf-react', status: 'live', seqs: [1, 2], lastSeq: 2 }, 'what was emitted before the page opened is replayed')
  t.same(subscribes, ['wf-react'], 'StrictMode\'s second mount goes on with the same run: one subscribe')
  t.equal(subscribers(server, 'wf-react'), 1, 'one subscriber on the server')

  await events.emitThought('wf-react', 'live')
  await page.waitForSelector('#events > li[data-seq="3"]')
  t.same((await shown(page)).seqs, [1, 2, 3], 'a live event is added')

  // A message written in three parts, each seen on the page before the next is written.
  const stream = events.stream('wf-react', { kind: 'result', messageId: 'answer-1' })
  const texts: string[] = []
  for (const [part, written] of [['Hel', 'Hel'], ['lo, ', 'Hello, '], ['world', 'Hello, world']] as const) {
    stream.write(part)
    await page.waitForFunction((expected) => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } })
      .document.querySelector('#messages > p[data-message="answer-1"]')?.textContent === expected, written)
    const seen = await message(page, 'answer-1')
    t.same(seen, { text: written, done: 'false' }, `the message grows: "${written}"`)
    texts.push(seen?.text ?? '')
  }
  await screenshot(page, `react-${react.major}-streaming.png`)
  await stream.end({ status: 'success' })
  await page.waitForSelector('#messages > p[data-message="answer-1"][data-done="true"]')
  t.same(await message(page, 'answer-1'), { text: 'Hello, world', done: 'true' }, 'the final result ends it, its whole text')
  const seqs = (await events.history('wf-react')).events.map((event) => event.seq)
  t.same((await shown(page)).seqs, seqs, 'every event once, in seq order, deltas included')

  const statuses = await page.evaluate(() => (globalThis as unknown as { reactPage: { statuses: string[] } }).reactPage.statuses)
  t.same(statuses, ['subscribing', 'live'], 'the status went from subscribing to live')

  // Another workflow: the run of the first is closed, its subscription gone from the server.
  await page.evaluate(() => (globalThis as unknown as { reactPage: { setWorkflowId(id: string): void } }).reactPage.setWorkflowId('wf-other'))
  // Attached, not visible: the section is empty until an event of the new workflow comes.
  await page.waitForSelector('#workflow[data-workflow="wf-other"][data-status="live"]', { state: 'attached' })
  await until(() => subscribers(server, 'wf-react') === 0, 10_000)
  t.equal(subscribers(server, 'wf-other'), 1, 'the new workflow is followed')
  t.same((await shown(page)).seqs, [], 'the view starts over for the new workflow')
  await events.emitThought('wf-react', 'not for this view')
  await events.emitThought('wf-other', 'for this view')
  await page.waitForSelector('#events > li[data-seq="1"]')
  t.same((await shown(page)).seqs, [1], 'only the followed workflow\'s events show')

  // Unmounted: no subscription is left, while the client stays connected.
  await page.evaluate(() => (globalThis as unknown as { reactPage: { unmount(): void } }).reactPage.unmount())
  await page.waitForSelector('#unmounted')
  await until(() => subscribers(server, 'wf-other') === 0, 10_000)
  t.equal(server.app.agentEvents.getConnectedCount(), 1, 'the client is still connected')
  t.same(subscribes, ['wf-react', 'wf-other'], 'no subscribe was sent again')

  // A workflow that this user may not follow: the refusal is the view's status and error.
  await page.goto(`${server.url}/?workflow=wf-denied&token=${server.token('ada')}`)
  await page.waitForSelector('#workflow[data-status="forbidden"]', { state: 'attached' })
  t.equal(await page.textContent('#error'), 'FORBIDDEN', 'the refusal\'s code is shown')
  t.same(pageErrors, [], 'no script error on the page')
})
}
