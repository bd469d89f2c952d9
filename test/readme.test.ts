// The README is the API reference: every error code, option, decorator member and wire event
// that the code defines must appear in it, so that adding one without documenting it fails; and
// every code block in it runs as written (below).
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { CLIENT_ERROR_CODES, HANDSHAKE_ERROR_CODES, asyncapiDocument } from '../src/schemas/index.ts'
import { startServer } from './helpers.ts'
import { type AssembledBlock, type ReadmeBlock, assemble, codeBlocks, runBlock } from './readme-blocks.ts'
import { README_SECRET } from './readme-support.ts'
import { IOREDIS_MAJORS, NODE_REDIS_MAJORS, redisAvailable, startRedis } from './redis-server.ts'
import { redisClusterAvailable, startRedisCluster } from './redis-cluster.ts'

// The blocks are type-checked and each runs in a process of its own (about 40 of them, a Redis
// Cluster among them): on a busy 2-core machine that takes several minutes.
t.setTimeout(600_000)
const runProcess = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const readme = await readFile(join(root, 'README.md'), 'utf8')

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return Promise.all(
    entries
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
      .map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')),
  )
}

t.test('every error code in src/ appears in the README', async (t) => {
  const text = (await sources(join(root, 'src'))).join('\n')
  const pluginCodes = new Set(text.match(/FST_AGENT_EVENTS_[A-Z_]+/g))
  t.ok(pluginCodes.size >= 3, `${pluginCodes.size} FST_AGENT_EVENTS_* codes found`)
  for (const code of [...pluginCodes, ...CLIENT_ERROR_CODES, ...HANDSHAKE_ERROR_CODES]) {
    t.ok(readme.includes(`\`${code}\``), `${code} is documented`)
  }
})

t.test('every option appears in the README', async (t) => {
  const options = await readFile(join(root, 'src', 'options.ts'), 'utf8')
  const known = /const known = new Set\(\[([^\]]+)\]\)/.exec(options)?.[1]
  const names = [...(known ?? '').matchAll(/'([A-Za-z]+)'/g)].map((match) => match[1] as string)
  t.ok(names.length >= 12, `${names.length} options found`)
  for (const name of names) t.ok(readme.includes(`| \`${name}`), `option ${name} has a row`)
  for (const name of ['auth.tokenFrom', 'auth.userIdClaim', 'auth.verify', 'auth.requireExp']) {
    t.ok(readme.includes(`| \`${name}\``), `option ${name} has a row`)
  }
})

t.test('every member of fastify.agentEvents appears in the README', async (t) => {
  const server = await startServer(t)
  const members = Object.keys(server.app.agentEvents)
  t.ok(members.length >= 9, `${members.length} members`)
  for (const member of members) t.ok(readme.includes(`| \`${member}`), `${member} has a row`)
})

/** The names a module exports, read from its `export { … }` lists, following `export * from`. */
async function exportedNames(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8')
  const names = [...text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((match) => (match[1] ?? '').split(','))
    .map((entry) => entry.replace(/^\s*type\s+/, '').trim().split(/\s+as\s+/).at(-1) ?? '')
    .filter((name) => name !== '')
  for (const match of text.matchAll(/^export \* from '([^']+)'/gm)) names.push(...await exportedNames(join(file, '..', match[1] ?? '')))
  return names
}

t.test('every export of every entry point appears in the README', async (t) => {
  // Named in inline code outside the code blocks: `name`, `name(…)`, `{ name }`…
  const inlineCode = readme.replace(/^```[^]*?^```$/gm, '').match(/`[^`\n]+`/g) ?? []
  const names = [
    ...await exportedNames(join(root, 'src', 'index.ts')),
    ...await exportedNames(join(root, 'src', 'schemas', 'index.ts')),
    ...await exportedNames(join(root, 'src', 'client', 'index.ts')),
    ...await exportedNames(join(root, 'src', 'react', 'index.ts')),
  ]
  t.ok(names.length >= 80, `${names.length} exports`)
  for (const name of new Set(names)) {
    const word = new RegExp(`\\b${name}\\b`)
    t.ok(inlineCode.some((code) => word.test(code)), `${name} is documented`)
  }
})

t.test('every wire event appears in the README', async (t) => {
  const names = new Set(Object.values(asyncapiDocument().components.messages).map((message) => message.name as string))
  t.ok(names.size >= 10, `${names.size} events`)
  for (const name of names) t.ok(readme.includes(`\`${name}\``), `${name} is documented`)
})

// ---------------------------------------------------------------------------------------------
// Every code block of the README runs as written. A `ts` block is joined with what the reader
// would have (a prelude: their `db`, `getToken`, `apiUrl`, a server for a client block to talk to)
// and a check after it (an epilogue that uses what the block built and reports what happened),
// then type-checked with the repository's tsconfig and run in its own Node process. The block
// itself is never edited. A new block needs an entry here, or this test fails.
// ---------------------------------------------------------------------------------------------

interface BlockRunner {
  /** Code before the block; `$SUPPORT` names test/readme-support.ts. */
  prelude: string
  /** Code after the block; it ends by calling `readme.report(result)`. */
  epilogue: string
  /** What `report` must have been given (`t.match`). */
  expect: (result: unknown) => Record<string, unknown> | void
  /**
   * Run against real Redis: once per ioredis major (`'ioredis'`) or node-redis major
   * (`'node-redis'`) on a redis-server (`REDIS_URL`), or once on a 3-master Redis Cluster
   * (`'cluster'`, `REDIS_CLUSTER_URLS`).
   */
  redis?: 'ioredis' | 'node-redis' | 'cluster'
}

const SUPPORT_IMPORT = "import * as readme from '$SUPPORT'"
const CLIENT_PRELUDE = `${SUPPORT_IMPORT}
const readmeServer = await readme.readmeServer()
const apiUrl = readmeServer.apiUrl
const getToken = () => readmeServer.token('alice')
const workflowId = 'wf-readme'`
const DB_PRELUDE = `${SUPPORT_IMPORT}
const db = { workflowOwner: async (workflowId: string) => (workflowId === 'wf-readme' ? 'alice' : 'bob') }`

/** The multi-node recipes: a client subscribes, an event goes through Redis and back, the app closes. */
const SEVERAL_NODES = {
  prelude: DB_PRELUDE,
  epilogue: `
const readmeUrl = await readme.listen(app)
const readmeClient = await readme.connect(readmeUrl, '/ws', app.jwt.sign({ sub: 'alice' }, { expiresIn: '1m' }))
const readmeAck = await readmeClient.emitWithAck('agent:subscribe', { workflowId: 'wf-readme' })
const readmeReceived = readme.next(readmeClient, 'agent:thought')
const readmeSent = await app.agentEvents.emitThought('wf-readme', 'through Redis')
const readmeGot = await readmeReceived
const readmeShutdown = readme.next(readmeClient, 'server:shutdown')
await app.close()
await readmeShutdown
readme.report({ ack: readmeAck, sent: readmeSent, got: readmeGot })`,
  expect: (result: unknown) => ({ ack: { ok: true }, sent: { seq: 1 }, got: (result as { sent: unknown }).sent }),
} satisfies Omit<BlockRunner, 'redis'>

const RUNNERS: Record<string, BlockRunner> = {
  'Use #1': {
    prelude: `${DB_PRELUDE}
const workflowId = 'wf-readme'`,
    epilogue: `
const readmePosted = await app.inject({ method: 'POST', url: \`/workflows/\${workflowId}/result\`, payload: { status: 'success', content: 'done' } })
await app.close()
readme.report({ status: readmePosted.statusCode, event: readmePosted.json() })`,
    expect: () => ({ status: 200, event: { type: 'result', workflowId: 'wf-readme', data: { status: 'success', content: 'done' }, seq: 3 } }),
  },
  'Use #2': {
    prelude: `${CLIENT_PRELUDE}
const rendered: unknown[] = []
const render = (event: unknown) => { rendered.push(event) }
const readmeJoined = readmeServer.joined(workflowId)`,
    epilogue: `
await readmeJoined
const readmeSent = await readmeServer.app.agentEvents.emitThought(workflowId, 'hello')
await readme.until(() => rendered.length === 1)
client.close()
await readmeServer.close()
readme.report({ rendered, sent: readmeSent })`,
    expect: (result) => ({ rendered: [(result as { sent: unknown }).sent] }),
  },
  'Client (`fastify-agent-events/client`) #1': {
    prelude: `${CLIENT_PRELUDE}
const rendered: number[] = []
const render = (event: { seq?: number }) => { rendered.push(event.seq ?? -1) }
const statuses: string[] = []
const showConnection = (status: string) => { statuses.push(status) }
const resets: string[] = []
const clearTimeline = (reason: string) => { resets.push(reason); rendered.length = 0 }
const showError = (code: string) => { throw new Error(\`refused: \${code}\`) }
const runStatuses: string[] = []
const showRunStatus = (status: string) => { runStatuses.push(status) }
for (let i = 1; i <= 2; i++) await readmeServer.app.agentEvents.emitThought(workflowId, \`before \${i}\`)`,
    epilogue: `
await readme.until(() => rendered.length === 2)
// The server lets the socket go (as server:shutdown or auth:expired do): the client comes back by itself.
for (const readmeSocket of readmeServer.app.agentEvents.io.of('/').sockets.values()) readmeSocket.disconnect(true)
await readme.until(() => client.status === 'offline')
await readmeServer.app.agentEvents.emitThought(workflowId, 'while away')
await readme.until(() => rendered.length === 3 && run.status === 'live')
const readmeRun = { lastSeq: run.lastSeq, status: run.status }
client.close()
await readmeServer.close()
readme.report({ rendered, statuses, runStatuses, resets, run: readmeRun })`,
    expect: () => ({
      rendered: [1, 2, 3],
      statuses: ['online', 'offline', 'connecting', 'online', 'offline'],
      runStatuses: ['live', 'subscribing', 'live', 'closed'],
      resets: [],
      run: { lastSeq: 3, status: 'live' },
    }),
  },
  'Streamed messages #1': {
    prelude: `${CLIENT_PRELUDE}
import { createAgentEventsClient } from 'fastify-agent-events/client'
const client = createAgentEventsClient(apiUrl, { path: '/ws', token: () => getToken() })
const shown = new Map<string, { text: string; streaming: boolean }>()
const showMessage = (messageId: string, text: string, state: { streaming: boolean }) => { shown.set(messageId, { text, ...state }) }
const readmeEvents = readmeServer.app.agentEvents
const readmeDone = readmeEvents.stream(workflowId, { kind: 'result', messageId: 'done' })
for (const word of ['An ', 'earlier ', 'answer.']) readmeDone.write(word)
await readmeDone.end()
const readmeOpen = readmeEvents.stream(workflowId, { kind: 'thought', messageId: 'open' })
readmeOpen.write('Still ')
await readmeEvents.history(workflowId) // the pending text is recorded by then
await new Promise((resolve) => setTimeout(resolve, 100))`,
    epilogue: `
await readme.until(() => shown.get('open')?.text === 'Still ')
readmeOpen.write('thinking.')
await readmeOpen.end()
await readme.until(() => shown.get('open')?.streaming === false)
client.close()
await readmeServer.close()
readme.report({ done: shown.get('done'), open: shown.get('open') })`,
    expect: () => ({ done: { text: 'An earlier answer.', streaming: false }, open: { text: 'Still thinking.', streaming: false } }),
  },
  'As an async iterator #1': {
    prelude: `${CLIENT_PRELUDE}
import { createAgentEventsClient } from 'fastify-agent-events/client'
const client = createAgentEventsClient(apiUrl, { path: '/ws', token: () => getToken() })
const rendered: string[] = []
const render = (event: { type: string }) => { rendered.push(event.type) }
await readmeServer.app.agentEvents.emitThought(workflowId, 'thinking')
await readmeServer.app.agentEvents.emitResult(workflowId, { status: 'success', content: 'done' })
await readmeServer.app.agentEvents.emitThought(workflowId, 'after the result')`,
    epilogue: `
client.close()
await readmeServer.close()
readme.report({ rendered })`,
    expect: () => ({ rendered: ['thought', 'result'] }),
  },
  'From the AI SDK: `pipe` #1': {
    prelude: `${SUPPORT_IMPORT}
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
const app = Fastify()
await app.register(fastifyJwt, { secret: process.env.JWT_SECRET! })
await app.register(agentEvents, { authorize: () => true })
const model = await readme.aiModel()
const tools = await readme.aiTools()
const workflowId = 'wf-readme'`,
    epilogue: `
const readmeEvents = (await app.agentEvents.history(workflowId)).events
await app.close()
readme.report({
  status,
  event,
  thoughts: readmeEvents.filter((recorded) => recorded.type === 'thought').map((recorded) => recorded.data.content),
  toolCalls: readmeEvents.filter((recorded) => recorded.type === 'tool_call').map((recorded) => recorded.data),
  results: readmeEvents.filter((recorded) => recorded.type === 'result').length,
})`,
    expect: () => ({
      status: 'success',
      event: { type: 'result', data: { status: 'success', finish_reason: 'stop', content_type: 'text', content: 'Let me check.\n\nIt is sunny in Paris.' } },
      thoughts: ['The user wants the weather.'],
      toolCalls: [
        { tool_name: 'weather', status: 'in_progress', tool_call_id: 'call-1', input: { city: 'Paris' } },
        { tool_name: 'weather', status: 'completed', tool_call_id: 'call-1', output: { city: 'Paris', sky: 'sunny' } },
      ],
      results: 1,
    }),
  },
  '`fastify.agentEvents` #1': {
    prelude: `${CLIENT_PRELUDE}
const app = readmeServer.app
await app.agentEvents.emitThought(workflowId, 'one')
setTimeout(() => void app.agentEvents.emitResult(workflowId, { content_type: 'text', content: 'done' }), 20)`,
    epilogue: `
const readmeReaders = app.agentEvents.getReaderCount()
const readmeLast = (await app.agentEvents.history(workflowId)).lastSeq
await readmeServer.close()
readme.report({ readers: readmeReaders, lastSeq: readmeLast })`,
    // The loop ended by itself after the result, and let go of its reader.
    expect: () => ({ readers: 0, lastSeq: 2 }),
  },
  'AG-UI #1': {
    prelude: `${SUPPORT_IMPORT}
const runAgent = readme.runAgent`,
    epilogue: `
const readmeUrl = await readme.listen(app)
const readmeRun = await readme.agUiRun(\`\${readmeUrl}/agent\`, app.jwt.sign({ sub: 'alice' }, { expiresIn: '1m' }))
await app.close()
readme.report(readmeRun)`,
    expect: () => ({
      types: [
        'RUN_STARTED',
        'REASONING_START', 'REASONING_MESSAGE_START', 'REASONING_MESSAGE_CONTENT', 'REASONING_MESSAGE_END', 'REASONING_END',
        'TOOL_CALL_START', 'TOOL_CALL_ARGS', 'TOOL_CALL_END', 'TOOL_CALL_RESULT',
        'TEXT_MESSAGE_START', 'TEXT_MESSAGE_CONTENT', 'TEXT_MESSAGE_END',
        'RUN_FINISHED',
      ],
      result: { status: 'success', content_type: 'text', content: 'It is sunny.' },
      roles: ['reasoning', 'assistant', 'tool', 'assistant'],
    }),
  },
  'AI SDK (useChat) #1': {
    // The reader's own agent and database: a run streams a thought and a short answer.
    prelude: `${SUPPORT_IMPORT}
const readmeRuns = new Map<string, string>()
const db = {
  runOwner: async (workflowId: string) => (workflowId.startsWith('alice.') ? 'alice' : 'bob'),
  latestRun: async (chatId: string) => readmeRuns.get(chatId),
}
async function startAgentRun(chatId: string, _messages: unknown[], _user: unknown): Promise<string> {
  const workflowId = \`alice.\${chatId}\`
  readmeRuns.set(chatId, workflowId)
  setTimeout(async () => {
    await app.agentEvents.emitThought(workflowId, 'Thinking.')
    const answer = app.agentEvents.stream(workflowId, { kind: 'result' })
    answer.write('Hello')
    await answer.end({ status: 'success' })
  }, 20)
  return workflowId
}`,
    epilogue: `
const readmeUrl = await readme.listen(app)
const readmeAs = (user: string) => ({ authorization: \`Bearer \${app.jwt.sign({ sub: user }, { expiresIn: '1m' })}\` })
const readmePosted = await fetch(\`\${readmeUrl}/api/chat\`, {
  method: 'POST',
  headers: { ...readmeAs('alice'), 'content-type': 'application/json' },
  body: JSON.stringify({ id: 'chat-1', messages: [] }),
})
const readmeStream = await readmePosted.text()
const readmeChunks = readmeStream.split('\\n\\n').flatMap((message) => /^data: (\\{.*)$/m.exec(message)?.[1] ?? []).map((data) => JSON.parse(data).type)
const readmeStatuses = {
  resumed: (await fetch(\`\${readmeUrl}/api/chat/chat-1/stream\`, { headers: readmeAs('alice') })).status,
  nothing: (await fetch(\`\${readmeUrl}/api/chat/chat-2/stream\`, { headers: readmeAs('alice') })).status,
  denied: (await fetch(\`\${readmeUrl}/api/chat/chat-1/stream\`, { headers: readmeAs('bob') })).status,
  anonymous: (await fetch(\`\${readmeUrl}/api/chat/chat-1/stream\`)).status,
}
await app.close()
readme.report({ header: readmePosted.headers.get('x-vercel-ai-ui-message-stream'), chunks: readmeChunks, done: readmeStream.endsWith('data: [DONE]\\n\\n'), statuses: readmeStatuses })`,
    expect: () => ({
      header: 'v1',
      chunks: ['start', 'start-step', 'reasoning-start', 'reasoning-delta', 'reasoning-end', 'text-start', 'text-delta', 'text-end', 'finish-step', 'finish'],
      done: true,
      statuses: { resumed: 200, nothing: 204, denied: 403, anonymous: 401 },
    }),
  },
  'Typed clients #1': {
    prelude: `${CLIENT_PRELUDE}
await readmeServer.app.agentEvents.emitThought(workflowId, 'one')
await readmeServer.app.agentEvents.emitThought(workflowId, 'two')
const afterSeq = 0
let lastSeq = 0
const retryIn = (ms: number) => { throw new Error(\`told to retry in \${ms} ms\`) }`,
    epilogue: `
socket.disconnect()
await readmeServer.close()
readme.report({ ok: ack.ok, lastSeq })`,
    expect: () => ({ ok: true, lastSeq: 2 }),
  },
  'Your JWT payload, typed once #1': {
    prelude: SUPPORT_IMPORT,
    epilogue: `
const readmeUrl = await readme.listen(app)
const readmeAs = (roles: string[], workflowId: string) =>
  readme.subscribeWith(readmeUrl, '/socket.io', app.jwt.sign({ sub: 'ann', tenant: 'acme', roles }, { expiresIn: '1m' }), workflowId)
const readmeVerdicts = { admin: await readmeAs(['admin'], 'globex-1'), tenant: await readmeAs([], 'acme-1'), other: await readmeAs([], 'globex-1') }
await app.close()
readme.report(readmeVerdicts)`,
    expect: () => ({ admin: 'ok', tenant: 'ok', other: 'FORBIDDEN' }),
  },
  'REST routes and OpenAPI #1': {
    prelude: `${SUPPORT_IMPORT}
const handler = async () => ({ type: 'thought', workflowId: 'wf-readme', data: { content: 'thinking' }, timestamp: '2025-01-01T00:00:00.000Z', seq: 1, id: 'e1' })`,
    epilogue: `
const readmeResponse = await app.inject({ method: 'POST', url: '/workflows/wf-readme/thoughts', payload: { content: 'thinking' } })
await app.ready()
const readmeDocument = app.swagger() as { components?: { schemas?: Record<string, unknown> } }
await app.close()
readme.report({ status: readmeResponse.statusCode, components: Object.keys(readmeDocument.components?.schemas ?? {}) })`,
    // The schema nested in the response (the event's data) is a component named by its $id.
    expect: () => ({ status: 200, components: ['AgentThoughtData'] }),
  },
  'AsyncAPI #1': {
    prelude: SUPPORT_IMPORT,
    epilogue: `
const readmeResponse = await app.inject({ url: '/asyncapi.json' })
await app.close()
const readmeDocument = readmeResponse.json() as { asyncapi: string; servers: Record<string, { host: string }> }
readme.report({ status: readmeResponse.statusCode, asyncapi: readmeDocument.asyncapi, host: readmeDocument.servers.production?.host })`,
    expect: () => ({ status: 200, asyncapi: '3.0.0', host: 'api.example.com' }),
  },
  'Custom replay stores #1': {
    prelude: SUPPORT_IMPORT,
    epilogue: `
for (const content of ['one', 'two', 'three']) await app.agentEvents.emitThought('wf-readme', content)
const readmeHistory = await app.agentEvents.history('wf-readme', { afterSeq: 1 })
const readmeClient = await readme.connect(await readme.listen(app), '/socket.io', app.jwt.sign({ sub: 'alice' }, { expiresIn: '1m' }))
const readmeReplayed: number[] = []
readmeClient.on('agent:thought', (event) => { readmeReplayed.push(event.seq ?? -1) })
const readmeAck = await readmeClient.emitWithAck('agent:subscribe', { workflowId: 'wf-readme', afterSeq: 1 })
const readmeLive = readme.next(readmeClient, 'agent:thought')
await app.agentEvents.emitThought('wf-readme', 'four')
const readmeLiveEvent = await readmeLive
readmeClient.disconnect()
await app.close()
readme.report({ history: readmeHistory.events.map((event) => event.seq), lastSeq: readmeHistory.lastSeq, ack: readmeAck, replayed: readmeReplayed, live: readmeLiveEvent })`,
    expect: () => ({ history: [2, 3], lastSeq: 3, ack: { ok: true, lastSeq: 3, replayed: 2, truncated: false }, replayed: [2, 3], live: { seq: 4, data: { content: 'four' } } }),
  },
  'Running several nodes #1': { redis: 'ioredis', ...SEVERAL_NODES },
  'Running several nodes #2': { redis: 'node-redis', ...SEVERAL_NODES },
  'Running several nodes #3': { redis: 'cluster', ...SEVERAL_NODES },
  'Streaming messages (token streaming) #1': {
    prelude: `${CLIENT_PRELUDE}
const app = readmeServer.app
const prompt = 'Say hello'
async function* llmTokens(_prompt: string) {
  for (const token of ['Hel', 'lo', ', ', 'wor', 'ld', '.']) {
    await new Promise((resolve) => setTimeout(resolve, 15))
    yield token
  }
}`,
    epilogue: `
const readmeHistory = await app.agentEvents.history(workflowId)
const readmeCompacted = await app.agentEvents.history(workflowId, { compact: true })
await readmeServer.close()
readme.report({
  result,
  types: readmeHistory.events.map((event) => event.type),
  text: readmeHistory.events.flatMap((event) => (event.type === 'delta' ? [event.data.text] : [])).join(''),
  compacted: readmeCompacted.events.map((event) => event.type),
})`,
    expect: (result) => {
      const { types } = result as { types: string[] }
      return {
        result: { type: 'result', seq: types.length, data: { content_type: 'text', content: 'Hello, world.', status: 'success' } },
        text: 'Hello, world.',
        compacted: ['result'],
      }
    },
  },
  'Following a workflow by hand #2': {
    prelude: `${CLIENT_PRELUDE}
const shown = new Map<string, { text: string; streaming: boolean }>()
const showMessage = (messageId: string, text: string, state: { streaming: boolean }) => { shown.set(messageId, { text, ...state }) }
const readmeEvents = readmeServer.app.agentEvents
const readmeDone = readmeEvents.stream(workflowId, { kind: 'result', messageId: 'done' })
for (const word of ['An ', 'earlier ', 'answer.']) readmeDone.write(word)
await readmeDone.end()
const readmeOpen = readmeEvents.stream(workflowId, { kind: 'result', messageId: 'open' })
for (const word of ['Still ', 'writ']) readmeOpen.write(word)
await readmeEvents.history(workflowId) // the pending text is recorded by then
await new Promise((resolve) => setTimeout(resolve, 100))
const readmeJoined = readmeServer.joined(workflowId)
const readmeDeltas: number[] = []`,
    epilogue: `
socket.on('agent:delta', (event) => { readmeDeltas.push(event.seq ?? -1) })
await readmeJoined
await readme.until(() => shown.get('open')?.text === 'Still writ')
readmeOpen.write('ing.')
await readmeOpen.end()
await readme.until(() => shown.get('open')?.streaming === false)
socket.disconnect()
await readmeServer.close()
readme.report({ done: shown.get('done'), open: shown.get('open'), deltas: readmeDeltas.length })`,
    expect: () => ({
      done: { text: 'An earlier answer.', streaming: false },
      open: { text: 'Still writing.', streaming: false },
      // The open message's two deltas replayed as one, then one live; the finished one's none.
      deltas: 2,
    }),
  },
  'React #1': {
    prelude: CLIENT_PRELUDE,
    // Rendered on the server, where the hook follows nothing (test/react.test.ts renders it in
    // Chromium, on React 18 and 19, against a real server).
    epilogue: `
import { renderToString } from 'react-dom/server'
const readmeHtml = renderToString(h(Run, { workflowId }))
client.close()
await readmeServer.close()
readme.report({ html: readmeHtml, status: client.status })`,
    expect: () => ({ html: '<ol></ol>', status: 'offline' }),
  },
  'Following a workflow by hand #1': {
    prelude: `${CLIENT_PRELUDE}
const sessionStorage = readme.memoryStorage()
const rendered: number[] = []
const render = (event: AgentEvent) => { rendered.push(event.seq ?? -1) }
const showError = (error: unknown) => { throw new Error(\`subscribe failed: \${JSON.stringify(error)}\`) }
let cleared = 0
const clearTimeline = () => { cleared++; rendered.length = 0 }
for (let i = 1; i <= 3; i++) await readmeServer.app.agentEvents.emitThought(workflowId, \`before \${i}\`)`,
    epilogue: `
await readme.until(() => rendered.length === 3)
for (let i = 4; i <= 5; i++) await readmeServer.app.agentEvents.emitThought(workflowId, \`live \${i}\`)
await readme.until(() => rendered.length === 5)
// The network drops: socket.io-client reconnects by itself, and the block subscribes again.
const readmeDown = new Promise((resolve) => socket.once('disconnect', resolve))
socket.io.engine.close()
await readmeDown
for (let i = 6; i <= 7; i++) await readmeServer.app.agentEvents.emitThought(workflowId, \`missed \${i}\`)
await readme.until(() => rendered.length === 7)
const readmeSaved = JSON.parse(sessionStorage.getItem(workflowId) ?? '{}') as unknown
socket.disconnect()
await readmeServer.close()
readme.report({ rendered, cleared, saved: readmeSaved })`,
    expect: () => ({ rendered: [1, 2, 3, 4, 5, 6, 7], cleared: 0, saved: { lastSeq: 7, epoch: String } }),
  },
}

const blocks = codeBlocks(readme)
const tsBlocks = blocks.filter((block) => block.lang === 'ts')

t.test('every code block of the README is a ts or sh block, and every ts block has a runner', async (t) => {
  t.same(blocks.filter((block) => block.lang !== 'ts' && block.lang !== 'sh').map((block) => `README.md:${block.line} (${block.lang || 'no language'})`), [],
    'no block in another language (give it a check here)')
  t.same(tsBlocks.filter((block) => RUNNERS[block.key] === undefined).map((block) => `README.md:${block.line} ${block.key}`), [],
    'every ts block has an entry in RUNNERS')
  t.same(Object.keys(RUNNERS).filter((key) => !tsBlocks.some((block) => block.key === key)), [], 'no runner for a block that is gone')
})

const artifacts = join(root, 'test-artifacts')
await mkdir(artifacts, { recursive: true })
const work = await mkdtemp(join(artifacts, 'readme-'))
t.teardown(() => rm(work, { recursive: true, force: true }))

/** Write a block's file in `dir` (a directory inside the repository, so that its node_modules resolve). */
async function writeBlock(dir: string, block: ReadmeBlock, runner: BlockRunner): Promise<AssembledBlock> {
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${block.key.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}.ts`)
  const support = relative(dir, join(root, 'test', 'readme-support.ts'))
  const importPath = support.startsWith('.') ? support : `./${support}`
  const assembled = assemble(block, file, runner.prelude.replaceAll('$SUPPORT', importPath), runner.epilogue.replaceAll('$SUPPORT', importPath))
  await writeFile(file, assembled.source)
  return assembled
}

const assembledBlocks = await Promise.all(tsBlocks.filter((block) => RUNNERS[block.key] !== undefined)
  .map((block) => writeBlock(work, block, RUNNERS[block.key] as BlockRunner)))

// Every run is started here, two at a time, beside the type-check (a process of its own): each
// test then awaits its own run.
const startRun = twoAtATime()
const withRedis = assembledBlocks.some((assembled) => RUNNERS[assembled.block.key]?.redis !== undefined) && redisAvailable(t)
const withCluster = assembledBlocks.some((assembled) => RUNNERS[assembled.block.key]?.redis === 'cluster') && redisClusterAvailable(t)

/**
 * The block's file, written again in a directory of its own whose node_modules maps `name` to the
 * `alias` devDependency (an older major), when there is one.
 */
async function withAlias(assembled: AssembledBlock, runner: BlockRunner, name: string, alias: string | undefined): Promise<string> {
  if (alias === undefined) return assembled.file
  const dir = join(work, alias)
  const file = (await writeBlock(dir, assembled.block, runner)).file
  await mkdir(join(dir, 'node_modules'), { recursive: true })
  await symlink(join(root, 'node_modules', alias), join(dir, 'node_modules', name), 'dir').catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error
  })
  return file
}

const runs = assembledBlocks.flatMap((assembled) => {
  const runner = RUNNERS[assembled.block.key] as BlockRunner
  const name = `README.md:${assembled.block.line} ${assembled.block.key} runs`
  if (runner.redis === undefined) {
    return [{ name, runner, run: startRun(() => runBlock(root, assembled.file, { JWT_SECRET: README_SECRET })) }]
  }
  if (runner.redis === 'cluster') {
    if (!withCluster) return []
    return [{
      name: `${name} (node-redis 6, a real 3-master Redis Cluster)`,
      runner,
      run: startRun(async () => {
        const cluster = await startRedisCluster(t)
        const urls = cluster.ports.map((port) => `redis://127.0.0.1:${port}`).join(',')
        return await runBlock(root, assembled.file, { JWT_SECRET: README_SECRET, REDIS_CLUSTER_URLS: urls })
      }),
    }]
  }
  if (!withRedis) return []
  // Once per major that the peer range accepts, each on its own redis-server. For the older major,
  // the block's import resolves to the alias devDependency (`ioredis-v5`, `redis-v5`) through a
  // node_modules of its own directory.
  const library = runner.redis
  const packageName = library === 'ioredis' ? 'ioredis' : 'redis'
  const majors: readonly number[] = library === 'ioredis' ? IOREDIS_MAJORS : NODE_REDIS_MAJORS
  const newest = Math.max(...majors)
  return majors.map((major) => ({
    name: `${name} (${library} ${major}, a real redis-server)`,
    runner,
    run: startRun(async () => {
      const redis = await startRedis(t)
      const file = await withAlias(assembled, runner, packageName, major === newest ? undefined : `${packageName}-v${major}`)
      const run = await runBlock(root, file, { JWT_SECRET: README_SECRET, REDIS_URL: redis.url })
      await redis.stop()
      return run
    }),
  }))
})

// Settled here so that a failure is reported by its own test, not as an unhandled rejection.
for (const { run } of runs) run.catch(() => {})

t.test('every ts block of the README type-checks as written', async (t) => {
  const list = join(work, 'blocks.json')
  await writeFile(list, JSON.stringify(assembledBlocks))
  const { stdout } = await runProcess(process.execPath, ['--import', 'tsx', join(root, 'test', 'readme-typecheck.ts'), root, list], {
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 16 * 1024 * 1024,
  })
  const diagnostics = JSON.parse(stdout) as Record<string, string[]>
  for (const assembled of assembledBlocks) {
    t.same(diagnostics[assembled.file], [], `README.md:${assembled.block.line} ${assembled.block.key}`)
  }
})

for (const { name, runner, run } of runs) {
  t.test(name, async (t) => {
    const result = await run
    t.equal(result.code, 0, 'exits with code 0', { stderr: result.stderr.slice(-3000) })
    t.equal(result.signal, null, 'ends by itself (no open handle, no time-out)')
    t.notMatch(result.stderr, /Error/, 'prints no error')
    t.not(result.result, undefined, 'reaches the end of the epilogue', { stdout: result.stdout.slice(-2000), stderr: result.stderr.slice(-2000) })
    if (result.result !== undefined) t.match(result.result, runner.expect(result.result) ?? {}, 'does what the README says')
  })
}

/** Runs the given tasks two at a time, in the order they were given. */
function twoAtATime(): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: (() => void)[] = []
  return async (task) => {
    // A finishing task hands its place to the next one waiting, so never more than two run.
    if (running < 2) running++
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      return await task()
    } finally {
      const next = waiting.shift()
      if (next === undefined) running--
      else next()
    }
  }
}

// sh blocks: each command is one that the repository defines (a script, a file, a package it
// names), checked rather than run: they install, run the whole suite or serve forever.
t.test('every sh command of the README names a script, a file or a package that exists', async (t) => {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    name: string
    scripts: Record<string, string>
    dependencies: Record<string, string>
    devDependencies: Record<string, string>
    peerDependencies: Record<string, string>
  }
  const packages = new Set([manifest.name, ...Object.keys({ ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies })])
  const commands = blocks.filter((block) => block.lang === 'sh')
    .flatMap((block) => block.code.split('\n').map((line, i) => ({ line: block.line + i, text: line.replace(/#.*$/, '').trim() })))
    .filter((command) => command.text !== '')
    .flatMap((command) => command.text.split('&&').map((part) => ({ line: command.line, text: part.trim().replace(/^([A-Z_]+=\S*\s+)+/, '') })))
  t.ok(commands.length >= 10, `${commands.length} commands`)
  for (const { line, text } of commands) {
    const words = text.split(/\s+/)
    const where = `README.md:${line} \`${text}\``
    if (text === 'npm install') {
      t.pass(where)
    } else if (text === 'npm test') {
      t.ok(manifest.scripts.test !== undefined, `${where}: script test`)
    } else if (words[0] === 'npm' && words[1] === 'install') {
      for (const name of words.slice(2)) t.ok(packages.has(name), `${where}: ${name} is this package or one it depends on`)
    } else if (words[0] === 'npm' && words[1] === 'run') {
      t.ok(manifest.scripts[words[2] ?? ''] !== undefined, `${where}: script ${words[2]}`)
    } else if (words[0] === 'npx' && words[1] === 'tsx') {
      t.ok(existsSync(join(root, words[2] ?? '')), `${where}: ${words[2]} exists`)
    } else {
      t.fail(`${where}: no check for this command (add one to test/readme.test.ts)`)
    }
  }
})
