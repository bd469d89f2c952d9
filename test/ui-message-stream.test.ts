// The UI message stream's state machine on recorded runs of a real plugin, read back with the AI
// SDK's own SSE parser and `readUIMessageStream`: the message it rebuilds, and a stream cut after
// any event and resumed from there (plain or compact replay) rebuilding the same message.
import { jsonSchema, simulateReadableStream, stepCountIs, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import t from 'tap'
import { SCRIPTS, playRun, type Scenario } from '../examples/demo/agent-run.ts'
import { UI_MESSAGE_STREAM_DONE, uiMessageSse } from '../src/bridges/ui-message-sse.ts'
import { UiMessageChunkMachine, type UiMessageStreamChunk } from '../src/bridges/ui-message-stream.ts'
import type { RecordedAgentEvent } from '../src/schemas/index.ts'
import { startServer, type TestServer } from './helpers.ts'
import { checkSuccessMessage, parseUiMessageSse, plain, readMessage, sseBody, texts, type AgentUIMessage } from './ui-message-chunks.ts'

const WORKFLOW = 'wf-ui-1'

/** SSE messages as the responder frames them: the last one of a recorded event with `id: <seq>`. */
function encodeUiMessageSse(chunks: readonly UiMessageStreamChunk[], seq?: number): string {
  const messages = uiMessageSse(chunks)
  return messages.map((message, i) => (seq === undefined || i < messages.length - 1 ? message : `id: ${seq}\n${message}`)).join('')
}

/**
 * A recorded run of the demo's agent. `deltaPerToken`: one delta per token written, so that the
 * stream can be cut between any two pieces of a message (else about one delta per message).
 */
async function recordedRun(t: Parameters<typeof startServer>[0], scenario: Scenario, deltaPerToken = false): Promise<{ server: TestServer; events: RecordedAgentEvent[] }> {
  const server = await startServer(t, deltaPerToken ? { streaming: { windowMs: 0 } } : {})
  await playRun(server.app.agentEvents, WORKFLOW, { scenario, stepMs: 0, tokenMs: 0, signal: new AbortController().signal })
  const { events } = await server.app.agentEvents.history(WORKFLOW, { limit: 1000 })
  return { server, events }
}

/** The SSE text of a whole stream, or of its part after `afterSeq` (the events up to it fed, their output dropped). */
function sseOf(events: readonly RecordedAgentEvent[], afterSeq = 0, resumed: readonly RecordedAgentEvent[] = events.filter((event) => event.seq > afterSeq)): string {
  const protocol = new UiMessageChunkMachine({ messageId: WORKFLOW })
  for (const event of events) if (event.seq <= afterSeq) protocol.next(event)
  const messages = [encodeUiMessageSse(protocol.opening())]
  for (const event of resumed) messages.push(encodeUiMessageSse(protocol.next(event), event.seq))
  const terminal = events.at(-1) as RecordedAgentEvent
  messages.push(encodeUiMessageSse(protocol.closing(terminal)), UI_MESSAGE_STREAM_DONE)
  return messages.join('')
}

/** What a client has read when the stream is cut right after the messages of `seq` `cutAt`. */
function cutText(events: readonly RecordedAgentEvent[], cutAt: number): string {
  const protocol = new UiMessageChunkMachine({ messageId: WORKFLOW })
  const messages = [encodeUiMessageSse(protocol.opening())]
  for (const event of events) if (event.seq <= cutAt) messages.push(encodeUiMessageSse(protocol.next(event), event.seq))
  return messages.join('')
}

const read = (text: string, message?: AgentUIMessage) => readMessage(parseUiMessageSse(sseBody(text)), message)

t.test('a successful run rebuilds one assistant message: its thoughts, three tool calls, the answer, how it finished', async (t) => {
  const { events } = await recordedRun(t, 'success')
  const { message, errors } = await read(sseOf(events))
  t.same(errors, [])
  t.equal(message?.id, WORKFLOW, 'the message id is the workflow id')
  checkSuccessMessage(t, message)
})

t.test('a failing run: the failed calls as output errors, then one error, the error data as metadata', async (t) => {
  const { events } = await recordedRun(t, 'failure')
  const { message, errors } = await read(sseOf(events))
  const failure = SCRIPTS.failure.at(-1)
  t.same(errors.map((error) => error.message), [failure?.type === 'error' ? failure.data.message : ''], 'exactly one error chunk, with the error message')
  const calls = message?.parts.flatMap((part) => (part.type === 'dynamic-tool' ? [[part.toolCallId, part.state, part.errorText]] : [])) ?? []
  t.same(calls, [
    ['call-1', 'output-available', undefined],
    ['call-2', 'output-error', 'billing did not answer within 5 s'],
    ['call-3', 'output-error', 'billing did not answer within 5 s'],
  ])
  t.same(message?.metadata, { error: failure?.type === 'error' ? failure.data : {} })
  const chunks = await chunksOf(sseOf(events))
  t.same(chunks.slice(-3).map((chunk) => chunk.type), ['error', 'finish-step', 'finish'])
  t.match(chunks.at(-1), { type: 'finish', finishReason: 'error' })
})

async function chunksOf(text: string): Promise<UiMessageStreamChunk[]> {
  const chunks: UiMessageStreamChunk[] = []
  for await (const chunk of parseUiMessageSse(sseBody(text))) chunks.push(chunk as UiMessageStreamChunk)
  return chunks
}

// The failing run with a delta per token (a cut between any two pieces of a message), the longer
// successful one with about one delta per message (a cut between a message's text and its end).
for (const [scenario, deltaPerToken] of [['success', false], ['failure', true]] as const) {
  t.test(`${scenario}: cut after any event and resumed after it, plain or compact, the stream rebuilds the same message`, async (t) => {
    const { server, events } = await recordedRun(t, scenario, deltaPerToken)
    const whole = await read(sseOf(events))
    const last = (events.at(-1) as RecordedAgentEvent).seq
    let checked = 0
    for (let cutAt = 0; cutAt < last; cutAt++) {
      for (const compact of [false, true]) {
        const { events: rest } = await server.app.agentEvents.history(WORKFLOW, { afterSeq: cutAt, limit: 1000, compact })
        // The client goes on with the state it had when the stream was cut (as useChat does with
        // `resumeStreamIsReplay: false`): one reader of what came before the cut, then the resumed stream.
        const resumed = await read(cutText(events, cutAt) + sseOf(events, cutAt, rest))
        t.same(resumed.message, whole.message, `cut after ${cutAt}${compact ? ', compact replay' : ''}`)
        t.same(resumed.errors, whole.errors, 'errors neither lost nor repeated, no chunk refused')
        checked++
      }
    }
    t.ok(checked >= 40, `${checked} cuts checked`)
  })
}

t.test('calls without tool_call_id are told apart by tool name and order; whole thoughts and results are parts too', async (t) => {
  const server = await startServer(t)
  const { agentEvents } = server.app
  await agentEvents.emitThought(WORKFLOW, 'Two lookups at once.')
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'pending', input: { q: 'a' } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'pending', input: { q: 'b' } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'in_progress', output: { partial: true } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'completed', output: 'A' })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'failed' })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'completed', message: 'C, from its message' })
  await agentEvents.emitResult(WORKFLOW, { status: 'success', content_type: 'application/json', content: { answer: 42 } })
  const { events } = await agentEvents.history(WORKFLOW, { limit: 100 })
  const { message, errors } = await read(sseOf(events))
  t.same(errors, [])
  t.same(message?.parts.map((part) => part.type === 'dynamic-tool' ? [part.toolCallId, part.state, part.input, part.output ?? part.errorText] : [part.type]), [
    ['step-start'],
    ['reasoning'],
    ['call-2', 'output-available', { q: 'a' }, 'A'],
    ['call-3', 'output-error', { q: 'b' }, 'The tool call failed'],
    ['step-start'],
    ['call-7', 'output-available', {}, 'C, from its message'],
  ], 'the oldest open call of a name takes the update; a completion without output shows its message')
  t.same(texts(message, 'reasoning'), ['Two lookups at once.'])
  t.same(message?.metadata, { result: { status: 'success', content_type: 'application/json', content: { answer: 42 } } }, 'a result that is no text stays whole in the metadata')
})

t.test('a preliminary output, then the input that came late, then the output', async (t) => {
  const server = await startServer(t)
  const { agentEvents } = server.app
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'pending', tool_call_id: 'c1' })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'in_progress', tool_call_id: 'c1', input: { q: 'x' } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'in_progress', tool_call_id: 'c1', output: { hits: 1 } })
  const halfway = await agentEvents.history(WORKFLOW, { limit: 100 })
  const preliminary = await read(cutText(halfway.events, 3))
  t.match(preliminary.message?.parts.at(-1), { type: 'dynamic-tool', state: 'output-available', input: { q: 'x' }, output: { hits: 1 }, preliminary: true })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'completed', tool_call_id: 'c1', output: { hits: 2 } })
  await agentEvents.emitResult(WORKFLOW, { content: 'Done.' })
  const { events } = await agentEvents.history(WORKFLOW, { limit: 100 })
  const { message } = await read(sseOf(events))
  t.same(plain(message?.parts), [
    { type: 'step-start' },
    { type: 'dynamic-tool', toolName: 'search', toolCallId: 'c1', state: 'output-available', input: { q: 'x' }, output: { hits: 2 } },
    { type: 'step-start' },
    { type: 'text', text: 'Done.', state: 'done' },
  ])
})

t.test('a thought that fails alone ends its part and the run goes on; a result stream that fails ends the run', async (t) => {
  const server = await startServer(t)
  const { agentEvents } = server.app
  const thought = agentEvents.stream(WORKFLOW, { kind: 'thought', messageId: 'msg-thought-1' })
  thought.write('Half a thou')
  await thought.abort({ code: 'MODEL_HICCUP', message: 'The reasoning stream broke' })
  const answer = agentEvents.stream(WORKFLOW, { kind: 'result', messageId: 'msg-answer-1' })
  answer.write('Half an ans')
  await answer.abort({ code: 'MODEL_DOWN', message: 'The model stopped answering' })
  const { events } = await agentEvents.history(WORKFLOW, { limit: 100 })
  t.same(events.filter((event) => event.type === 'error').map((event) => event.data), [
    { code: 'MODEL_HICCUP', message: 'The reasoning stream broke', messageId: 'msg-thought-1', kind: 'thought' },
    { code: 'MODEL_DOWN', message: 'The model stopped answering', messageId: 'msg-answer-1', kind: 'result' },
  ], 'each abort records its kind')
  const chunks = await chunksOf(sseOf(events))
  t.same(chunks.map((chunk) => chunk.type), [
    'start', 'start-step', 'reasoning-start', 'reasoning-delta', 'reasoning-end',
    'text-start', 'text-delta', 'text-end', 'error', 'finish-step', 'finish',
  ], 'one error chunk: the failed thought is no end of the run')
  const { message, errors } = await read(sseOf(events))
  t.same(errors.map((error) => error.message), ['The model stopped answering'])
  t.same(plain(message?.parts), [
    { type: 'step-start' },
    { type: 'reasoning', id: 'msg-thought-1', text: 'Half a thou', state: 'done' },
    { type: 'text', text: 'Half an ans', state: 'done' },
  ])
  t.same(message?.metadata, { error: { code: 'MODEL_DOWN', message: 'The model stopped answering' } })
})

// A run of the AI SDK's own streamText (its mock model), recorded by pipe(): step 1 thinks, says a
// few words and calls a tool; step 2 thinks again and answers.
type ModelPart = Parameters<typeof simulateReadableStream<unknown>>[0]['chunks'][number]
const USAGE = { inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 20, text: 20, reasoning: 0 } }
const MODEL_STEPS: ModelPart[][] = [
  [
    { type: 'stream-start', warnings: [] },
    { type: 'reasoning-start', id: 'r0' },
    { type: 'reasoning-delta', id: 'r0', delta: 'The user wants the weather.' },
    { type: 'reasoning-end', id: 'r0' },
    { type: 'text-start', id: 'txt-0' },
    { type: 'text-delta', id: 'txt-0', delta: 'Let me check.' },
    { type: 'text-end', id: 'txt-0' },
    { type: 'tool-call', toolCallId: 'call-paris-1', toolName: 'weather', input: '{"city":"Paris"}' },
    { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage: USAGE },
  ],
  [
    { type: 'reasoning-start', id: 'r0' },
    { type: 'reasoning-delta', id: 'r0', delta: 'Sunny, 21.' },
    { type: 'reasoning-end', id: 'r0' },
    { type: 'text-start', id: 'txt-0' },
    { type: 'text-delta', id: 'txt-0', delta: 'It is sunny in Paris.' },
    { type: 'text-end', id: 'txt-0' },
    { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: USAGE },
  ],
]

t.test('a run piped from the AI SDK: the parts of each step in that step, the answer after the tool call', async (t) => {
  const server = await startServer(t)
  const weather = tool({
    inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
    execute: async ({ city }) => ({ city, sky: 'sunny' }),
  })
  const model = new MockLanguageModelV4({ doStream: MODEL_STEPS.map((chunks) => ({ stream: simulateReadableStream({ chunks, chunkDelayInMs: 1 }) as never })) })
  const run = streamText({ model, prompt: 'Weather in Paris?', tools: { weather }, stopWhen: stepCountIs(2) })
  await server.app.agentEvents.pipe(WORKFLOW, run.fullStream)
  const { events } = await server.app.agentEvents.history(WORKFLOW, { limit: 100 })
  const { message, errors } = await read(sseOf(events))
  t.same(errors, [])
  t.same(message?.parts.map((part) => part.type === 'reasoning' || part.type === 'text' ? [part.type, part.text] : part.type === 'dynamic-tool' ? [part.toolName, part.state, part.input, part.output] : [part.type]), [
    ['step-start'],
    ['reasoning', 'The user wants the weather.'],
    ['text', 'Let me check.'],
    ['weather', 'output-available', { city: 'Paris' }, { city: 'Paris', sky: 'sunny' }],
    ['step-start'],
    ['reasoning', 'Sunny, 21.'],
    ['text', '\n\nIt is sunny in Paris.'],
  ], 'the one result message goes on in the second step, in a part of its own')
  t.ok(message?.parts.every((part) => !('state' in part) || part.state === 'done' || part.state === 'output-available'), 'every part ended')
  t.same(message?.metadata, { result: { status: 'success', finish_reason: 'stop', content_type: 'text' } })
  const chunks = await chunksOf(sseOf(events))
  t.match(chunks.at(-1), { type: 'finish', finishReason: 'stop' })
  const textIds = chunks.flatMap((chunk) => (chunk.type === 'text-start' ? [chunk.id] : []))
  t.equal(textIds.length, 2)
  t.equal(textIds[1], `${textIds[0]}-1`, 'the second part of a message is named after it')

  // Cut anywhere, the resumed stream goes on in the right part.
  for (let cutAt = 0; cutAt < (events.at(-1) as RecordedAgentEvent).seq; cutAt++) {
    const resumed = await read(cutText(events, cutAt) + sseOf(events, cutAt))
    t.same(resumed.message, message, `cut after ${cutAt}`)
  }
})

t.test('over HTTP: keep-alive comments between chunks are nothing to the AI SDK\'s parser', async (t) => {
  const server = await startServer(t, {}, {
    before: (app) => {
      app.get<{ Params: { id: string } }>('/runs/:id/stream', { onRequest: (request) => request.jwtVerify() }, async (request, reply) => {
        return reply.uiMessageStream(request.params.id, { keepAlive: 10 })
      })
    },
  })
  const response = await fetch(`${server.url}/runs/${WORKFLOW}/stream`, { headers: { authorization: `Bearer ${server.token('alice')}` } })
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
  await server.app.agentEvents.emitThought(WORKFLOW, 'Waiting for the model.')
  // Read until a comment line went by in the quiet spell, then the run ends.
  let text = ''
  while (!/^: keep-alive$/m.test(text.slice(text.indexOf('reasoning-end')))) text += (await reader.read()).value ?? ''
  await server.app.agentEvents.emitResult(WORKFLOW, { content_type: 'text', content: 'Done.' })
  for (let next = await reader.read(); next.done !== true; next = await reader.read()) text += next.value
  t.match(text, /^: keep-alive$/m, 'comment lines were sent')
  const { message, errors } = await read(text)
  t.same(errors, [])
  t.same(plain(message?.parts), [
    { type: 'step-start' },
    { type: 'reasoning', id: 'thought-1', text: 'Waiting for the model.', state: 'done' },
    { type: 'text', text: 'Done.', state: 'done' },
  ])
})

t.test('a run that ends with an empty result shows no empty text part', async (t) => {
  const server = await startServer(t)
  await server.app.agentEvents.emitThought(WORKFLOW, 'Nothing to say.')
  await server.app.agentEvents.stream(WORKFLOW, { kind: 'result' }).end({ status: 'success' })
  const { events } = await server.app.agentEvents.history(WORKFLOW, { limit: 100 })
  const { message } = await read(sseOf(events))
  t.same(message?.parts.map((part) => part.type), ['step-start', 'reasoning'])
  t.same(message?.metadata, { result: { status: 'success', content_type: 'text' } })
})
