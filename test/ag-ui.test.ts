import type { AddressInfo } from 'node:net'
import { HttpAgent } from '@ag-ui/client'
import type { BaseEvent } from '@ag-ui/core'
import t, { type Test } from 'tap'
import { buildAgUiApp } from '../examples/ag-ui.ts'
import { SCRIPTS } from '../examples/demo/agent-run.ts'
import { agUiEvents, types, verified } from './ag-ui-events.ts'
import { startServer, until } from './helpers.ts'
import { keptOnResume, parseSse, readSse, readUntil, sseRequest, type SseMessageRead } from './sse-client.ts'

const SECRET = 'example-secret-example-secret-123'

interface Example {
  url: string
  app: Awaited<ReturnType<typeof buildAgUiApp>>
  token(sub: string): string
}

async function startExample(t: Test, extra: Partial<Parameters<typeof buildAgUiApp>[0]> = {}): Promise<Example> {
  const app = await buildAgUiApp({ secret: SECRET, logger: false, stepMs: 2, tokenMs: 1, ...extra })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    app,
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    token: (sub) => app.jwt.sign({ sub }, { expiresIn: '1h' }),
  }
}

function runInput(threadId: string, runId: string, scenario?: string): string {
  return JSON.stringify({ threadId, runId, messages: [], tools: [], context: [], state: {}, forwardedProps: scenario === undefined ? {} : { scenario } })
}

/** Read a finished run's stream again from the start, through the example's GET route. */
async function wholeRun(example: Example, user: string, runId: string, threadId: string): Promise<SseMessageRead[]> {
  const response = await fetch(`${example.url}/agent/runs/${runId}/events?threadId=${threadId}`, {
    headers: { authorization: `Bearer ${example.token(user)}` },
  })
  return (await readSse(response)).messages
}

t.test('HttpAgent runs the example endpoint: reasoning, tool calls, a streamed answer, RUN_FINISHED with the result', async (t) => {
  const example = await startExample(t)
  const agent = new HttpAgent({ url: `${example.url}/agent`, headers: { authorization: `Bearer ${example.token('alice')}` }, threadId: 'thread-1' })
  const seen: BaseEvent[] = []
  agent.subscribe({ onEvent: ({ event }) => void seen.push(event) })
  const { result, newMessages } = await agent.runAgent({ runId: 'run-1' })

  const script = SCRIPTS.success
  const answer = script.at(-1) as { data: { content: string; status: string } }
  t.match(result, { status: 'success', content: answer.data.content, content_type: 'text/plain' }, 'RUN_FINISHED carries the result data')
  t.equal(seen[0]?.type, 'RUN_STARTED')
  t.equal(seen.at(-1)?.type, 'RUN_FINISHED')
  const toolResults = seen.filter((event) => event.type === 'TOOL_CALL_RESULT') as unknown as { toolCallId: string; content: string }[]
  t.same(toolResults.map((event) => event.toolCallId), ['call-1', 'call-2', 'call-3'], 'tool calls keep their tool_call_id')
  t.same(JSON.parse(toolResults[2]?.content ?? ''), { refund: 'r-7730' }, 'a result is the output as JSON')
  const args = seen.filter((event) => event.type === 'TOOL_CALL_ARGS') as unknown as { toolCallId: string; delta: string }[]
  t.same(JSON.parse(args[0]?.delta ?? ''), { customer: 'c-2291' }, 'the input goes as the arguments, in JSON')
  const reasoning = seen.filter((event) => event.type === 'REASONING_MESSAGE_START')
  t.equal(reasoning.length, script.filter((step) => step.type === 'thought').length, 'one reasoning message per thought')

  const assistantText = newMessages
    .filter((message) => message.role === 'assistant' && typeof message.content === 'string' && message.content.length > 0)
    .map((message) => message.content)
  t.same(assistantText, [answer.data.content], 'the streamed answer rebuilds into one assistant message')
  t.ok(newMessages.some((message) => message.role === 'tool' && message.toolCallId === 'call-2'), 'tool results become tool messages')

  // The same run read again over plain SSE: the protocol's own schemas and verifier accept it.
  const messages = await wholeRun(example, 'alice', 'run-1', 'thread-1')
  const events = agUiEvents(t, messages)
  await verified(events)
  t.same(types(events), types(seen), 'read again, the run is the same sequence')
  t.equal(messages[0]?.id, undefined, 'RUN_STARTED is synthetic: no id')
  const ids = messages.flatMap((message) => (message.id === undefined ? [] : [Number(message.id)]))
  t.ok(ids.every((id, i) => Number.isInteger(id) && id > 0 && (i === 0 || id > (ids[i - 1] as number))), 'each event\'s seq as id, rising, once per event')
  t.equal(messages.at(-1)?.id, String(ids.at(-1)), 'the last message carries the terminal event\'s seq')
  t.equal(example.app.agentEvents.getReaderCount(), 0, 'no reader is left once the runs have ended')
})

t.test('a failing run ends with RUN_ERROR; a failed tool call\'s result says so', async (t) => {
  const example = await startExample(t)
  const response = await fetch(`${example.url}/agent`, {
    method: 'POST',
    headers: { authorization: `Bearer ${example.token('alice')}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: runInput('thread-2', 'run-2', 'failure'),
  })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  t.equal(response.headers.get('cache-control'), 'no-cache')
  t.equal(response.headers.get('x-accel-buffering'), 'no')
  const events = agUiEvents(t, (await readSse(response)).messages)
  await verified(events)
  t.match(events.at(-1), { type: 'RUN_ERROR', code: 'TOOL_UNAVAILABLE', message: /billing system/ })
  t.notOk(events.some((event) => event.type === 'RUN_FINISHED'))
  const failed = events.find((event) => event.type === 'TOOL_CALL_RESULT' && (event as { toolCallId?: string }).toolCallId === 'call-2')
  t.same(JSON.parse((failed as unknown as { content: string }).content), { error: 'billing did not answer within 5 s' })
})

t.test('a stream cut in the middle of the answer resumes with Last-Event-ID, without a second TEXT_MESSAGE_START', async (t) => {
  const answerStep = SCRIPTS.success.length - 1
  let release: () => void = () => undefined
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  // The run waits before the answer's fourth token until the client has left.
  const example = await startExample(t, {
    beforeToken: (_workflowId, step, token) => (step === answerStep && token === 3 ? released : undefined),
  })
  const headers = { authorization: `Bearer ${example.token('alice')}`, 'content-type': 'application/json' }
  const first = await sseRequest(`${example.url}/agent`, { method: 'POST', headers, body: runInput('thread-3', 'run-3') })
  const cut = await readUntil(first, (read) => read.messages.some((message) => message.data.includes('"TEXT_MESSAGE_CONTENT"')))
  const lastId = cut.lastEventId as string
  t.ok(lastId, 'the cut stream had ids')
  const kept = keptOnResume(cut.messages)
  release()

  const resumed = await fetch(`${example.url}/agent/runs/run-3/events?threadId=thread-3`, { headers: { ...headers, 'last-event-id': lastId } })
  t.equal(resumed.status, 200)
  const rest = (await readSse(resumed)).messages
  const restEvents = agUiEvents(t, rest)
  t.notOk(restEvents.some((event) => event.type === 'TEXT_MESSAGE_START' || event.type === 'RUN_STARTED'), 'the open text message goes on')
  t.equal(restEvents[0]?.type, 'TEXT_MESSAGE_CONTENT', 'it goes on with the answer\'s next text')

  const whole = await wholeRun(example, 'alice', 'run-3', 'thread-3')
  t.same([...kept, ...rest], whole, 'cut + resumed = the uncut stream, message for message')
  await verified(agUiEvents(t, [...kept, ...rest]))
})

t.test('401 without a token or a request.user, 403 when authorize denies, 204 for a resume of nothing, 409 past the buffer', async (t) => {
  const example = await startExample(t)
  const auth = (user: string) => ({ authorization: `Bearer ${example.token(user)}` })
  t.equal((await fetch(`${example.url}/agent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: runInput('t', 'r') })).status, 401)

  const nothing = await fetch(`${example.url}/agent/runs/run-9/events?threadId=t`, { headers: auth('alice') })
  t.equal(nothing.status, 204, 'resume: true on a run with nothing recorded answers 204')
  await example.app.agentEvents.emitThought('bob-run-9', 'bob\'s run')
  const own = await fetch(`${example.url}/agent/runs/run-9/events?threadId=t`, { headers: auth('bob') })
  t.equal(own.status, 200, 'bob follows his own run')
  await own.body?.cancel()
  const other = await fetch(`${example.url}/agent/runs/run-9/events?threadId=t`, { headers: { ...auth('bob'), 'last-event-id': '7' } })
  t.equal(other.status, 409)
  t.match(await other.json(), { code: 'FST_AGENT_EVENTS_HISTORY_RESET' })
  const bad = await fetch(`${example.url}/agent/runs/run-9/events?threadId=t`, { headers: { ...auth('bob'), 'last-event-id': 'abc' } })
  t.equal(bad.status, 400)
  t.match(await bad.json(), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', message: /Last-Event-ID/ })

  // A workflow whose id does not start with the user's: the example's authorize denies it.
  const server = await startServer(t, { rateLimit: false, authorize: ({ userId, workflowId }) => workflowId.startsWith(`${userId}-`) }, {
    before(app) {
      app.get<{ Params: { id: string } }>('/open/:id', async (req, reply) => reply.agUi(req.params.id))
      app.get<{ Params: { id: string } }>('/runs/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => reply.agUi(req.params.id))
    },
  })
  const noUser = await fetch(`${server.url}/open/alice-1`)
  t.equal(noUser.status, 401, 'a route that does not authenticate gets 401 from the bridge')
  t.match(await noUser.json(), { code: 'FST_AGENT_EVENTS_UNAUTHORIZED', message: /request\.user/ })
  const forbid = await fetch(`${server.url}/runs/alice-1`, { headers: { authorization: `Bearer ${server.token('bob')}` } })
  t.equal(forbid.status, 403)
  t.match(forbid.headers.get('content-type'), /application\/json/, 'a JSON error, before any SSE byte')
  t.match(await forbid.json(), { statusCode: 403, code: 'FST_AGENT_EVENTS_FORBIDDEN' })
  t.equal(server.app.agentEvents.getReaderCount(), 0)
})

t.test('keep-alive comments while the run is quiet; a client that leaves leaves no reader behind', async (t) => {
  const server = await startServer(t, { rateLimit: false }, {
    before(app) {
      app.get<{ Params: { id: string } }>('/runs/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) =>
        reply.agUi(req.params.id, { keepAlive: 20 }))
    },
  })
  const response = await sseRequest(`${server.url}/runs/quiet`, { headers: { authorization: `Bearer ${server.token('alice')}` } })
  t.equal(response.status, 200, 'a workflow with nothing recorded is waited on')
  t.equal(server.app.agentEvents.getReaderCount(), 1)
  const read = await readUntil(response, (read) => read.comments.length >= 2 && read.messages.length >= 1)
  t.same(read.comments.slice(0, 2), ['keep-alive', 'keep-alive'])
  t.match(JSON.parse(read.messages[0]?.data ?? '{}'), { type: 'RUN_STARTED', threadId: 'quiet', runId: 'quiet' })
  await until(() => server.app.agentEvents.getReaderCount() === 0)
  t.pass('the reader ended when the client left')
  await server.app.agentEvents.emitResult('quiet', { content_type: 'text', content: 'nobody listens' })
  t.equal(server.app.agentEvents.getReaderCount(), 0)
})

t.test('a client that stops reading: the server waits for drain instead of buffering the run, then sends the rest', async (t) => {
  let raw: import('node:http').ServerResponse | undefined
  const server = await startServer(t, { rateLimit: false }, {
    before(app) {
      app.get<{ Params: { id: string } }>('/runs/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => {
        raw = reply.raw
        return reply.agUi(req.params.id)
      })
    },
  })
  const response = await sseRequest(`${server.url}/runs/big`, { headers: { authorization: `Bearer ${server.token('alice')}` } })
  response.body.pause()
  const output = 'x'.repeat(100_000)
  // 30 MB of tool results, far more than the socket's buffers hold.
  for (let i = 1; i <= 300; i++) {
    await server.app.agentEvents.emitToolCall('big', { tool_name: 'dump', status: 'completed', tool_call_id: `c${i}`, output })
  }
  await server.app.agentEvents.emitResult('big', { content_type: 'text', content: 'done' })
  // The server has filled the socket's buffers and waits for 'drain'.
  await until(() => raw?.writableNeedDrain === true)
  const held = (raw as import('node:http').ServerResponse).writableLength
  t.ok(held < 1_000_000, `the response holds ${held} bytes unsent, not the run`)

  let rest = ''
  const read = { messages: [] as SseMessageRead[], comments: [] as string[] }
  response.body.resume()
  for await (const chunk of response.body as AsyncIterable<Buffer>) rest = parseSse(rest + chunk.toString('utf8'), read)
  const events = agUiEvents(t, read.messages)
  await verified(events)
  t.equal(events.filter((event) => event.type === 'TOOL_CALL_RESULT').length, 300, 'every tool result arrives once the client reads')
  t.equal(events.at(-1)?.type, 'RUN_FINISHED')
  t.equal(server.app.agentEvents.getReaderCount(), 0)
})
