// fastify.agentEvents.pipe(): runs of the AI SDK's own streamText, driven by its mock language
// model, recorded as a workflow's events and received by a real socket.io-client.
import { jsonSchema, simulateReadableStream, stepCountIs, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import t from 'tap'
import { memoryReplayStore, type PipeResult } from '../src/index.ts'
import { AGENT_EVENTS, collect, connectAs, range, request, seqs, startServer, until, type SubscribeOk } from './helpers.ts'

type Received = { type: string; seq: number; data: Record<string, unknown> }
type StreamPart = Parameters<typeof simulateReadableStream<unknown>>[0]['chunks'][number]

const WIRE_EVENTS = [...AGENT_EVENTS, 'agent:delta']
const USAGE = {
  inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 20, text: 20, reasoning: 0 },
}
const finish = (unified: 'stop' | 'tool-calls', raw: string) => ({ type: 'finish', finishReason: { unified, raw }, usage: USAGE })

/** A model whose n-th call streams the n-th list of parts, a few milliseconds apart. */
function mockModel(...calls: StreamPart[][]): MockLanguageModelV4 {
  return new MockLanguageModelV4({
    doStream: calls.map((chunks) => ({ stream: simulateReadableStream({ chunks, chunkDelayInMs: 2 }) as never })),
  })
}

const weather = tool({
  description: 'The weather of a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  }),
  execute: async ({ city }) => ({ city, sky: 'sunny', celsius: 21 }),
})

// Step 1 thinks, says something and calls the tool; step 2 answers. The AI SDK's own ids repeat
// across the steps ('r0', 'txt-0'), as real providers' do.
const STEP_1: StreamPart[] = [
  { type: 'stream-start', warnings: [] },
  { type: 'reasoning-start', id: 'r0' },
  { type: 'reasoning-delta', id: 'r0', delta: 'The user wants ' },
  { type: 'reasoning-delta', id: 'r0', delta: 'the weather.' },
  { type: 'reasoning-end', id: 'r0' },
  { type: 'text-start', id: 'txt-0' },
  { type: 'text-delta', id: 'txt-0', delta: 'Let me ' },
  { type: 'text-delta', id: 'txt-0', delta: 'check.' },
  { type: 'text-end', id: 'txt-0' },
  { type: 'tool-call', toolCallId: 'call-paris-1', toolName: 'weather', input: '{"city":"Paris"}' },
  finish('tool-calls', 'tool_calls'),
]
const STEP_2: StreamPart[] = [
  { type: 'reasoning-start', id: 'r0' },
  { type: 'reasoning-delta', id: 'r0', delta: 'Sunny, 21.' },
  { type: 'reasoning-end', id: 'r0' },
  { type: 'text-start', id: 'txt-0' },
  { type: 'text-delta', id: 'txt-0', delta: 'It is sunny ' },
  { type: 'text-delta', id: 'txt-0', delta: 'in Paris, ' },
  { type: 'text-delta', id: 'txt-0', delta: '21 °C.' },
  { type: 'text-end', id: 'txt-0' },
  finish('stop', 'stop'),
]

const textOf = (deltas: Received[], messageId: unknown): string =>
  deltas.filter((event) => event.data.messageId === messageId).map((event) => event.data.text).join('')

t.test('a run with reasoning, text and a tool call over two steps reaches a subscribed client', async (t) => {
  // windowMs 0: each write is its own delta, so that every piece of text is seen to arrive.
  const server = await startServer(t, { streaming: { windowMs: 0 } })
  const socket = await connectAs(t, server, 'alice')
  const received = collect<Received>(socket, WIRE_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf-run' }), { ok: true, lastSeq: 0 })

  let finished = false
  const run = streamText({
    model: mockModel(STEP_1, STEP_2),
    prompt: 'What is the weather in Paris?',
    tools: { weather },
    stopWhen: stepCountIs(2),
    onFinish: () => { finished = true },
  })
  const outcome: PipeResult = await server.app.agentEvents.pipe('wf-run', run.fullStream)

  t.ok(finished, 'pipe resolves once the stream has ended')
  const steps = await run.steps
  t.equal(steps.length, 2, 'the run took two steps')
  const modelText = steps.map((step) => step.text).filter((text) => text !== '').join('\n\n')
  t.equal(modelText, 'Let me check.\n\nIt is sunny in Paris, 21 °C.')
  t.match(outcome, { status: 'success', finishReason: 'stop', event: { type: 'result', data: { status: 'success', content: modelText } } })

  await until(() => received.some((event) => event.type === 'result'))
  t.same(seqs(received), range(1, received.length), 'every event, live, in order')
  t.equal(received.at(-1)?.type, 'result', 'the result is the last event')
  t.equal(received.at(-1)?.seq, outcome.event.seq, 'and the one pipe resolved with')
  t.notOk(received.some((event) => event.type === 'error'), 'no error')

  const deltas = received.filter((event) => event.type === 'delta')
  const thoughts = received.filter((event) => event.type === 'thought')
  const results = received.filter((event) => event.type === 'result')
  t.equal(results.length, 1, 'ONE result for the whole run')
  const result = results[0] as Received
  t.match(result.data, { status: 'success', finish_reason: 'stop', content_type: 'text', content: modelText })
  t.equal(textOf(deltas, result.data.messageId), modelText, 'the result deltas add up to its content')

  t.same(thoughts.map((event) => event.data.content), ['The user wants the weather.', 'Sunny, 21.'], 'a thought per reasoning part')
  for (const thought of thoughts) t.equal(textOf(deltas, thought.data.messageId), thought.data.content, 'each thought was streamed first')
  t.ok(deltas.length >= 7, `${deltas.length} deltas`)
  for (const delta of deltas) t.match(delta.data, { kind: delta.data.messageId === result.data.messageId ? 'result' : 'thought' })

  const messageIds = [...thoughts, result].map((event) => event.data.messageId as string)
  t.equal(new Set(messageIds).size, 3, 'every message has its own id')
  t.notOk(messageIds.some((id) => ['r0', 'txt-0'].includes(id)), 'not the AI SDK part ids, which repeat across steps')

  const toolCalls = received.filter((event) => event.type === 'tool_call')
  t.same(toolCalls.map((event) => event.data), [
    { tool_name: 'weather', status: 'in_progress', tool_call_id: 'call-paris-1', input: { city: 'Paris' } },
    { tool_name: 'weather', status: 'completed', tool_call_id: 'call-paris-1', output: { city: 'Paris', sky: 'sunny', celsius: 21 } },
  ])
  const seqOf = (event: Received | undefined): number => event?.seq ?? -1
  t.ok(seqOf(thoughts[0]) < seqOf(toolCalls[0]) && seqOf(toolCalls[1]) < seqOf(thoughts[1]), 'in the order of the run')
  const firstWords = deltas.find((delta) => delta.data.text === 'Let me ')
  t.ok(seqOf(firstWords) < seqOf(toolCalls[0]), 'the text written before the call is recorded before it')

  // A reload: the finished run replays compacted, whole messages and no delta.
  const reader = await connectAs(t, server, 'alice')
  const replayed = collect<Received>(reader, WIRE_EVENTS)
  const ack = await request<SubscribeOk & { compacted: number }>(reader, 'agent:subscribe', { workflowId: 'wf-run', afterSeq: 0, compact: true })
  t.match(ack, { ok: true, lastSeq: received.length, compacted: deltas.length })
  t.same(replayed.map((event) => event.type), received.filter((event) => event.type !== 'delta').map((event) => event.type), 'no delta')
  t.same(replayed.at(-1), received.at(-1), 'the same result')
})

t.test('an erroring model ends the run with exactly one agent:error and no stream left open', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { replay: { store } })
  const socket = await connectAs(t, server, 'alice')
  const received = collect<Received>(socket, WIRE_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf-fail' })

  const run = streamText({
    model: mockModel([
      { type: 'reasoning-start', id: 'r0' },
      { type: 'reasoning-delta', id: 'r0', delta: 'Thinking' },
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'The answer is' },
      { type: 'error', error: new Error('The provider is overloaded') },
    ]),
    prompt: 'Anything',
    onError: () => {},
  })
  const outcome = await server.app.agentEvents.pipe('wf-fail', run.fullStream)
  t.match(outcome, { status: 'error', event: { type: 'error', data: { code: 'AI_SDK_ERROR', message: 'The provider is overloaded' } } })
  t.match(outcome.error, { message: 'The provider is overloaded' })

  await until(() => received.some((event) => event.type === 'error'))
  const errors = received.filter((event) => event.type === 'error')
  t.equal(errors.length, 1, 'one agent:error')
  t.notOk(received.some((event) => event.type === 'result'), 'no result')
  const resultDeltas = received.filter((event) => event.type === 'delta' && event.data.kind === 'result')
  t.equal(errors[0]?.data.messageId, resultDeltas[0]?.data.messageId, 'it ends the result message that was streaming')
  t.match(received.find((event) => event.type === 'thought')?.data, { content: 'Thinking' }, 'the open thought ended with its text')
  t.equal(received.at(-1)?.type, 'error', 'the error is the last event')

  // Closing the server aborts every stream still open with SERVER_CLOSING: none is recorded.
  await server.app.close()
  const recorded = await store.read('wf-fail', { afterSeq: 0, limit: 100 })
  t.same(recorded.events.filter((event) => event.type === 'error').map((event) => event.data), [errors[0]?.data], 'still exactly one error')
})

t.test('an abort while a tool runs records the call failed, then one agent:error ABORTED', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'alice')
  const received = collect<Received>(socket, WIRE_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf-abort' })

  const controller = new AbortController()
  const slow = tool({
    inputSchema: jsonSchema<{ query: string }>({ type: 'object', properties: { query: { type: 'string' } }, required: ['query'] }),
    execute: (_input, { abortSignal }) => new Promise((_resolve, reject) => {
      abortSignal?.addEventListener('abort', () => reject(new Error('stopped')))
      controller.abort()
    }),
  })
  const run = streamText({
    model: mockModel([
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'Searching.' },
      { type: 'text-end', id: 'txt-0' },
      { type: 'tool-call', toolCallId: 'call-slow', toolName: 'slow', input: '{"query":"all"}' },
      finish('tool-calls', 'tool_calls'),
    ]),
    prompt: 'Search',
    tools: { slow },
    stopWhen: stepCountIs(2),
    abortSignal: controller.signal,
  })
  const outcome = await server.app.agentEvents.pipe('wf-abort', run.fullStream)
  t.match(outcome, { status: 'aborted', event: { type: 'error', data: { code: 'ABORTED' } } })

  await until(() => received.some((event) => event.type === 'error'))
  t.same(received.filter((event) => event.type === 'tool_call').map((event) => event.data.status), ['in_progress', 'failed'])
  t.match(received.filter((event) => event.type === 'tool_call')[1]?.data, { tool_call_id: 'call-slow', tool_name: 'slow' })
  t.equal(received.filter((event) => event.type === 'error').length, 1, 'one agent:error')
  t.equal(received.at(-1)?.type, 'error', 'last')
  t.notOk(received.some((event) => event.type === 'result'), 'no result')
})

t.test('a tool that throws is a failed call with its message; the run goes on to its result', async (t) => {
  const server = await startServer(t)
  const failing = tool({
    inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
    execute: async (): Promise<{ sky: string }> => {
      throw new Error('The station is down')
    },
  })
  const run = streamText({
    model: mockModel(
      [{ type: 'tool-call', toolCallId: 'call-oslo', toolName: 'weather', input: '{"city":"Oslo"}' }, finish('tool-calls', 'tool_calls')],
      [{ type: 'text-start', id: 'txt-0' }, { type: 'text-delta', id: 'txt-0', delta: 'No data.' }, { type: 'text-end', id: 'txt-0' }, finish('stop', 'stop')],
    ),
    prompt: 'Weather in Oslo?',
    tools: { weather: failing },
    stopWhen: stepCountIs(2),
  })
  const outcome = await server.app.agentEvents.pipe('wf-tool-error', run.fullStream)
  t.match(outcome, { status: 'success', event: { data: { content: 'No data.' } } })
  const { events } = await server.app.agentEvents.history('wf-tool-error')
  t.same(events.filter((event) => event.type === 'tool_call').map((event) => event.data), [
    { tool_name: 'weather', status: 'in_progress', tool_call_id: 'call-oslo', input: { city: 'Oslo' } },
    { tool_name: 'weather', status: 'failed', tool_call_id: 'call-oslo', message: 'The station is down' },
  ])
})

t.test('a stream that throws ends the run with one agent:error; pipe resolves with the error', async (t) => {
  const server = await startServer(t)
  const run = streamText({
    model: mockModel([
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'Half' },
      { type: 'text-delta', id: 'txt-0', delta: ' an answer' },
      { type: 'text-end', id: 'txt-0' },
      finish('stop', 'stop'),
    ]),
    prompt: 'Anything',
  })
  // The AI SDK turns a model's errors into parts; a stream that throws is one the app wrapped.
  const thrown = new Error('The connection dropped')
  async function* cutAfterFirstText() {
    for await (const part of run.fullStream) {
      yield part
      if (part.type === 'text-delta') throw thrown
    }
  }
  const outcome = await server.app.agentEvents.pipe('wf-thrown', cutAfterFirstText(), {
    errorData: (error) => ({ code: 'RUN_FAILED', message: `Run failed: ${(error as Error).message}` }),
  })
  t.match(outcome, { status: 'error', error: thrown, event: { data: { code: 'RUN_FAILED', message: 'Run failed: The connection dropped' } } })
  const { events } = await server.app.agentEvents.history('wf-thrown')
  t.same(events.map((event) => event.type), ['delta', 'error'])
  t.equal(events[1]?.data.messageId, events[0]?.data.messageId, 'the error ends the result message')
})

t.test('a run without text still ends with its one result; resultData joins it', async (t) => {
  const server = await startServer(t)
  const run = streamText({ model: mockModel([finish('stop', 'stop')]), prompt: 'Nothing' })
  const outcome = await server.app.agentEvents.pipe('wf-empty', run.fullStream, { resultData: { conversationId: 'c-1' } })
  t.match(outcome.event.data, { status: 'success', finish_reason: 'stop', content: '', conversationId: 'c-1' })
})

t.test('bad input is refused with a coded error naming the field', async (t) => {
  const server = await startServer(t)
  const { fullStream } = streamText({ model: mockModel([finish('stop', 'stop')]), prompt: 'x' })
  await t.rejects(server.app.agentEvents.pipe('no spaces allowed', fullStream), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
  await t.rejects(server.app.agentEvents.pipe('wf', {} as never), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', message: /fullStream/ })
  await t.rejects(server.app.agentEvents.pipe('wf', fullStream, { textSeparator: 1 as never }), {
    code: 'FST_AGENT_EVENTS_INVALID_EVENT',
    message: /options\.textSeparator/,
  })
  await t.rejects(server.app.agentEvents.pipe('wf', fullStream, { resultData: { content: 'mine' } as never }), {
    code: 'FST_AGENT_EVENTS_INVALID_EVENT',
    message: /options\.resultData\.content/,
  })
  t.same((await server.app.agentEvents.history('wf')).events, [], 'nothing recorded')
})

t.test('resultData that makes the result invalid: the result message ends with the error, pipe rejects', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { replay: { store } })
  const run = streamText({
    model: mockModel([{ type: 'text-start', id: 'txt-0' }, { type: 'text-delta', id: 'txt-0', delta: 'Done.' }, { type: 'text-end', id: 'txt-0' }, finish('stop', 'stop')]),
    prompt: 'x',
  })
  await t.rejects(server.app.agentEvents.pipe('wf-bad-result', run.fullStream, { resultData: { status: 5 as never } }), {
    code: 'FST_AGENT_EVENTS_INVALID_EVENT',
    message: /status/,
  })
  await server.app.close()
  const { events } = await store.read('wf-bad-result', { afterSeq: 0, limit: 100 })
  t.same(events.map((event) => event.type), ['delta', 'error'], 'one error, no SERVER_CLOSING: the message was not left open')
  t.match(events[1]?.data, { code: 'FST_AGENT_EVENTS_INVALID_EVENT', messageId: events[0]?.data.messageId })
})

t.test('a tool output over maxEventBytes: the call is recorded failed, the run ends with one agent:error, pipe rejects', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { maxEventBytes: 4096, replay: { store } })
  const huge = tool({
    inputSchema: jsonSchema<{ id: string }>({ type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }),
    execute: async ({ id }) => ({ id, page: 'x'.repeat(10_000) }),
  })
  const model = mockModel([
    { type: 'text-start', id: 'txt-0' },
    { type: 'text-delta', id: 'txt-0', delta: 'Fetching.' },
    { type: 'text-end', id: 'txt-0' },
    { type: 'tool-call', toolCallId: 'call-huge', toolName: 'fetch', input: '{"id":"p1"}' },
    finish('tool-calls', 'tool_calls'),
  ])
  const run = streamText({ model, prompt: 'Fetch p1', tools: { fetch: huge } })
  await t.rejects(server.app.agentEvents.pipe('wf-huge', run.fullStream), { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE' })

  await server.app.close()
  const { events } = await store.read('wf-huge', { afterSeq: 0, limit: 100 })
  t.same(events.map((event) => event.type), ['delta', 'tool_call', 'tool_call', 'error'])
  t.match(events[2]?.data, { tool_call_id: 'call-huge', status: 'failed', message: /maxEventBytes/ })
  t.match(events[3]?.data, { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', messageId: events[0]?.data.messageId })
})

t.test('an error whose message is over maxEventBytes still ends the run with one agent:error, that says so', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { maxEventBytes: 4096, replay: { store } })
  const run = streamText({
    model: mockModel([
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'Partial' },
      { type: 'error', error: new Error(`<html>${'y'.repeat(10_000)}</html>`) },
    ]),
    prompt: 'Anything',
    onError: () => {},
  })
  await t.rejects(server.app.agentEvents.pipe('wf-long-error', run.fullStream), { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE' })
  await server.app.close()
  const { events } = await store.read('wf-long-error', { afterSeq: 0, limit: 100 })
  t.same(events.map((event) => event.type), ['delta', 'error'], 'one error, no SERVER_CLOSING: no stream was left open')
  t.match(events[1]?.data, { code: 'AI_SDK_ERROR', message: /could not be recorded/ })
})

t.test('fastify.close() during a run: the open messages end with SERVER_CLOSING, pipe rejects, nothing more is recorded', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { replay: { store } })
  const words = Array.from({ length: 40 }, (_, i) => ({ type: 'text-delta', id: 'txt-0', delta: `word${i} ` }))
  const run = streamText({
    model: new MockLanguageModelV4({
      doStream: { stream: simulateReadableStream({ chunks: [{ type: 'text-start', id: 'txt-0' }, ...words, { type: 'text-end', id: 'txt-0' }, finish('stop', 'stop')] as StreamPart[], chunkDelayInMs: 20 }) as never },
    }),
    prompt: 'A long answer',
  })
  const socket = await connectAs(t, server, 'alice')
  const received = collect<Received>(socket, WIRE_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf-closing' })
  const piping = server.app.agentEvents.pipe('wf-closing', run.fullStream)
  piping.catch(() => {})
  await until(() => received.length > 0)
  await server.app.close()
  await t.rejects(piping, { code: 'FST_AGENT_EVENTS_STREAM_ENDED' })
  const { events } = await store.read('wf-closing', { afterSeq: 0, limit: 100 })
  t.equal(events.at(-1)?.type, 'error')
  t.same(events.filter((event) => event.type !== 'delta').map((event) => event.type === 'error' && event.data.code), ['SERVER_CLOSING'], 'the one error is the server\'s')
})

t.test('a thought over maxEventBytes ends itself with MESSAGE_TOO_LARGE and the run goes on to its result', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { maxEventBytes: 4096, replay: { store } })
  const longThought = 'z'.repeat(6000)
  const run = streamText({
    model: mockModel([
      { type: 'reasoning-start', id: 'r0' },
      { type: 'reasoning-delta', id: 'r0', delta: longThought },
      { type: 'reasoning-end', id: 'r0' },
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'Short answer.' },
      { type: 'text-end', id: 'txt-0' },
      finish('stop', 'stop'),
    ]),
    prompt: 'Think a lot',
  })
  const result = await server.app.agentEvents.pipe('wf-long-thought', run.fullStream)
  t.equal(result.status, 'success')
  const { events } = await store.read('wf-long-thought', { afterSeq: 0, limit: 100 })
  const errors = events.filter((event) => event.type === 'error')
  t.equal(errors.length, 1, 'one error: the thought\'s own')
  t.match(errors[0]?.data, { code: 'MESSAGE_TOO_LARGE' })
  t.match(events.at(-1), { type: 'result', data: { content: 'Short answer.', status: 'success' } }, 'the run still ends with its result')
  const thoughtText = events.flatMap((event) => (event.type === 'delta' && event.data.kind === 'thought' ? [event.data.text] : [])).join('')
  t.equal(thoughtText, longThought, 'the thought\'s text went out in its deltas')
})
