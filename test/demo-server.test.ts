// `npm run demo` as a user runs it: it starts on PORT=0, prints its URL, and serves the page, the
// Socket.IO client, the REST routes and their OpenAPI document.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { SCRIPTS } from '../examples/demo/agent-run.ts'
import { startDemo } from './demo-loader.ts'

// A browser (or `npm run demo` in child processes) on a busy machine can take longer than the
// suite's default per-file timeout; nothing here is a timed assertion.
t.setTimeout(240_000)

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const URL_LINE = /fastify-agent-events demo: (http:\/\/127\.0\.0\.1:\d+)\//

/** `npm run demo` in its own process group, ended (with everything npm started) when the test ends. */
function runDemo(t: Test, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn('npm', ['run', '--silent', 'demo'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    process.kill(-(child.pid as number), 'SIGTERM')
    await exited
  })
  return { child, output: () => output }
}

/** The specifiers of a module's static and dynamic imports and re-exports. */
function importsOf(code: string): string[] {
  const specifiers = code.matchAll(/(?:\bimport|\bexport)\s*(?:[^'"();]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)
  return [...specifiers].map((match) => match[1] ?? match[2] ?? '')
}

async function printedUrl(child: ChildProcess, output: () => string): Promise<string> {
  const exited = once(child, 'exit').then(() => {
    throw new Error(`the demo exited before printing its URL:\n${output()}`)
  })
  const printed = new Promise<string>((resolve) => {
    const look = () => {
      const match = URL_LINE.exec(output())
      if (match?.[1] !== undefined) resolve(match[1])
    }
    child.stdout?.on('data', look)
    look()
  })
  return Promise.race([printed, exited])
}

t.test('npm run demo starts on PORT=0 and prints its URL', async (t) => {
  const { child, output } = runDemo(t, { PORT: '0' })
  const url = await printedUrl(child, output)
  t.not(new globalThis.URL(url).port, '0', 'a real port was chosen')

  const page = await fetch(`${url}/`)
  t.equal(page.status, 200)
  const html = await page.text()
  t.match(html, /<script type="module" src="\/app\.js">/, 'the page is served')
  const importMap = JSON.parse(/<script type="importmap">([^]*?)<\/script>/.exec(html)?.[1] ?? 'null') as { imports: Record<string, string> }
  t.same(importMap, {
    imports: { 'fastify-agent-events/client': '/client/index.js', 'socket.io-client': '/ws/socket.io.esm.min.js' },
  }, 'an import map of two entries: the client, and Socket.IO from the plugin\'s path')
  const script = await (await fetch(`${url}/app.js`)).text()
  t.same(importsOf(script), ['fastify-agent-events/client'], 'the page imports the client, and nothing else')
  const bundle = await fetch(`${url}/ws/socket.io.esm.min.js`)
  t.equal(bundle.status, 200, 'Socket.IO serves its browser client on the plugin\'s path')
  await bundle.arrayBuffer()

  // The client's modules, as the browser walks them from /client/index.js: each one served as
  // JavaScript, the relative imports resolved beside it, no other bare import than socket.io-client.
  const seen = new Set<string>()
  const bare = new Set<string>()
  const walk = async (path: string): Promise<void> => {
    if (seen.has(path)) return
    seen.add(path)
    const response = await fetch(`${url}${path}`)
    t.equal(response.status, 200, `${path} is served`)
    t.match(response.headers.get('content-type'), /^text\/javascript/)
    for (const specifier of importsOf(await response.text())) {
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        t.match(specifier, /\.js$/, `${path} imports ${specifier} by its .js name`)
        await walk(new globalThis.URL(specifier, `${url}${path}`).pathname)
      } else {
        bare.add(specifier)
      }
    }
  }
  await walk('/client/index.js')
  t.ok(seen.size > 3, `${seen.size} modules`)
  t.same([...bare], ['socket.io-client'], 'the client imports nothing else')
  for (const path of ['/client/nothing.js', '/client/../app.ts', '/client/%2e%2e/index.ts', '/client/index.ts']) {
    const response = await fetch(`${url}${path}`)
    t.equal(response.status, 404, `${path} is not served`)
    await response.arrayBuffer()
  }

  const exited = once(child, 'exit')
  process.kill(-(child.pid as number), 'SIGTERM')
  await exited
  await t.rejects(fetch(`${url}/`), 'the server is gone after SIGTERM')
})

t.test('npm run demo refuses a PORT that is not a port', async (t) => {
  const { child, output } = runDemo(t, { PORT: 'eighty' })
  const [code] = await once(child, 'exit')
  t.not(code, 0)
  t.match(output(), /PORT must be an integer from 0 to 65535/)
})

t.test('the REST routes and their OpenAPI document', async (t) => {
  // The run holds before its fourth step, so that the REST route and history() see the same events:
  // a streamed thought (its deltas, then the thought with the whole text) and two tool calls.
  let reached!: () => void
  const held = new Promise<void>((resolve) => { reached = resolve })
  const { app } = await startDemo(t, {
    beforeStep: async (_workflowId, stepIndex, signal) => {
      if (stepIndex !== 3) return
      reached()
      await once(signal, 'abort')
    },
  })
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ada' } })
  t.equal(login.statusCode, 200)
  const { token, expiresAt } = login.json()
  t.ok(Date.parse(expiresAt) - Date.now() <= 600_000, 'demo tokens are short-lived')
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: '../x' } })).statusCode, 400)

  const auth = { authorization: `Bearer ${token}` }
  t.equal((await app.inject({ method: 'POST', url: '/workflows', payload: {} })).statusCode, 401, 'starting a run needs a token')
  t.equal(
    (await app.inject({ method: 'POST', url: '/workflows', headers: auth, payload: { stepMs: 1 } })).statusCode,
    400,
    'stepMs is bounded',
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/workflows', headers: auth, payload: { tokenMs: 1 } })).statusCode,
    400,
    'tokenMs is bounded',
  )
  const started = await app.inject({ method: 'POST', url: '/workflows', headers: auth, payload: { scenario: 'failure', stepMs: 10, tokenMs: 5 } })
  t.equal(started.statusCode, 202)
  const { workflowId } = started.json()
  t.match(workflowId, /^wf-/)

  await held
  const page = await app.inject({ method: 'GET', url: `/workflows/${workflowId}/events?afterSeq=0`, headers: auth })
  t.equal(page.statusCode, 200)
  t.same(page.json(), await app.agentEvents.history(workflowId), 'the REST fallback is history()')
  const events: Array<{ seq: number; type: string; data: Record<string, unknown> }> = page.json().events
  t.same(events.map((event) => event.seq), events.map((_, index) => index + 1), 'every recorded event, deltas included')
  const deltas = events.filter((event) => event.type === 'delta')
  const thought = events.find((event) => event.type === 'thought')
  const scripted = SCRIPTS.failure[0]
  t.ok(deltas.length > 1, `the thought was streamed (${deltas.length} deltas)`)
  t.equal(deltas.map((event) => event.data['text']).join(''), scripted?.type === 'thought' ? scripted.content : undefined, 'its deltas hold its text')
  t.same(thought?.data, { content: deltas.map((event) => event.data['text']).join(''), messageId: deltas[0]?.data['messageId'] }, 'the thought ends it')
  t.same(events.filter((event) => event.type !== 'delta').map((event) => event.type), ['thought', 'tool_call', 'tool_call'])
  t.match(events.find((event) => event.type === 'tool_call')?.data, { tool_call_id: 'call-1', input: { invoice: 'INV-2025-0193' } })
  const after = await app.inject({ method: 'GET', url: `/workflows/${workflowId}/events?afterSeq=1&limit=1`, headers: auth })
  t.same(after.json().events.map((event: { seq: number }) => event.seq), [2], 'afterSeq and limit page through it')
  const compacted = await app.inject({ method: 'GET', url: `/workflows/${workflowId}/events?compact=true`, headers: auth })
  t.same(compacted.json(), await app.agentEvents.history(workflowId, { compact: true }), 'compact=true is history({ compact: true })')
  t.same(compacted.json().events.map((event: { type: string }) => event.type), ['thought', 'tool_call', 'tool_call'], 'a finished message is its final event')
  t.equal(
    (await app.inject({ method: 'GET', url: `/workflows/${workflowId}/events?afterSeq=-1`, headers: auth })).statusCode,
    400,
  )

  const openapi = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
  t.ok(openapi.paths['/workflows'], 'POST /workflows is documented')
  t.ok(openapi.paths['/workflows/{id}/events'], 'the REST fallback is documented')
  t.ok(openapi.paths['/login'], 'the demo login is documented')
  for (const id of ['AgentThoughtEvent', 'AgentToolCallEvent', 'AgentResultEvent', 'AgentErrorEvent', 'AgentDeltaEvent']) {
    t.ok(openapi.components.schemas[id], `${id} is a component under its own name`)
  }
  t.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode < 400, true, 'Swagger UI is served')
})
