// examples/use-chat.ts driven by the AI SDK's own client code, as `useChat` runs it: its `Chat`
// (AbstractChat with an in-memory state, what the React hook wraps) and `DefaultChatTransport`,
// over real HTTP. A run rebuilt whole, a failing run, a stream cut halfway and resumed with
// `Last-Event-ID` and through the resume route, the refusals, and no reader left behind.
import type { AddressInfo } from 'node:net'
import { AbstractChat, DefaultChatTransport, type ChatState, type ChatStatus, type UIMessageChunk } from 'ai'
import t, { type Test } from 'tap'
import { SCRIPTS } from '../examples/demo/agent-run.ts'
import { buildUseChatApp } from '../examples/use-chat.ts'
import { until } from './helpers.ts'
import { checkSuccessMessage, parseUiMessageSse, plain, readMessage, sseBody, type AgentUIMessage } from './ui-message-chunks.ts'

const SECRET = 'use-chat-example-secret-0123456789'
const REFUND = 'The parcel of order 4812 arrived damaged: refund it, please.'
const INVOICE = 'Send me a copy of invoice INV-2025-0193.'

interface Example {
  app: Awaited<ReturnType<typeof buildUseChatApp>>
  url: string
  api: string
  headers(user: string): Record<string, string>
}

async function startExample(t: Test, pace: { stepMs: number; tokenMs: number } = { stepMs: 0, tokenMs: 0 }): Promise<Example> {
  const app = await buildUseChatApp({ secret: SECRET, logger: false, ...pace })
  t.teardown(async () => {
    const closing = app.close()
    // Node's fetch opens a spare connection when a request is aborted; it sends nothing, so it is
    // never idle to Fastify's close, which would wait for the server's request timeout.
    app.server.closeAllConnections()
    await closing
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return {
    app,
    url,
    api: `${url}/api/chat`,
    headers: (user) => ({ authorization: `Bearer ${app.jwt.sign({ sub: user }, { expiresIn: '1h' })}` }),
  }
}

/** What `useChat` keeps in React state, kept in memory instead. */
class MemoryChatState implements ChatState<AgentUIMessage> {
  status: ChatStatus = 'ready'
  error: Error | undefined = undefined
  messages: AgentUIMessage[] = []
  pushMessage = (message: AgentUIMessage): void => {
    this.messages = [...this.messages, message]
  }

  popMessage = (): void => {
    this.messages = this.messages.slice(0, -1)
  }

  replaceMessage = (index: number, message: AgentUIMessage): void => {
    this.messages = this.messages.map((old, at) => (at === index ? message : old))
  }

  snapshot = <T>(value: T): T => structuredClone(value)
}

class NodeChat extends AbstractChat<AgentUIMessage> {
  constructor(init: ConstructorParameters<typeof AbstractChat<AgentUIMessage>>[0]) {
    super(init)
  }
}

function chatOf(example: Example, user: string, id: string, fetchImpl?: typeof fetch): NodeChat {
  const transport = new DefaultChatTransport<AgentUIMessage>({
    api: example.api,
    headers: () => example.headers(user),
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  })
  return new NodeChat({ id, transport, state: new MemoryChatState() })
}

/** The whole stream of a chat's latest run, read from the resume route from its start. */
async function wholeMessage(example: Example, user: string, chatId: string): Promise<AgentUIMessage | undefined> {
  const transport = new DefaultChatTransport<AgentUIMessage>({ api: example.api, headers: () => example.headers(user) })
  const stream = await transport.reconnectToStream({ chatId })
  if (stream === null) return undefined
  return (await readMessage(stream)).message
}

t.test('useChat: a run streams into one assistant message, then the chat is ready', async (t) => {
  const example = await startExample(t)
  let finished: { finishReason?: string | undefined; isError: boolean } | undefined
  const transport = new DefaultChatTransport<AgentUIMessage>({ api: example.api, headers: () => example.headers('alice') })
  const chat = new NodeChat({ id: 'chat-ok', transport, state: new MemoryChatState(), onFinish: ({ finishReason, isError }) => (finished = { finishReason, isError }) })
  await chat.sendMessage({ text: REFUND })
  t.equal(chat.status, 'ready')
  t.equal(chat.messages.length, 2, 'the user message and one assistant message')
  const answer = plain(chat.messages[1])
  checkSuccessMessage(t, answer)
  t.same(finished, { finishReason: 'stop', isError: false })
  t.same(await wholeMessage(example, 'alice', 'chat-ok'), answer, 'the resume route rebuilds the same message')

  const response = await fetch(`${example.url}/api/chat/chat-ok/stream`, { headers: example.headers('alice') })
  t.equal(response.headers.get('x-vercel-ai-ui-message-stream'), 'v1')
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  const text = await response.text()
  t.ok(text.endsWith('data: [DONE]\n\n'), 'the stream ends with [DONE]')
  t.match(text, /^data: \{"type":"start","messageId":"chat-ok\.[0-9a-f-]+"\}\n\n/, 'start first, without id')
})

t.test('useChat: a failing run ends with an error chunk; the chat shows the error and the failed calls', async (t) => {
  const example = await startExample(t)
  const chat = chatOf(example, 'alice', 'chat-fail')
  await chat.sendMessage({ text: INVOICE })
  const failure = SCRIPTS.failure.at(-1)
  t.equal(chat.status, 'error')
  t.equal(chat.error?.message, failure?.type === 'error' ? failure.data.message : '')
  const answer = plain(chat.messages[1])
  t.same(answer?.parts.flatMap((part) => (part.type === 'dynamic-tool' ? [[part.toolCallId, part.state]] : [])), [
    ['call-1', 'output-available'],
    ['call-2', 'output-error'],
    ['call-3', 'output-error'],
  ])
  const stream = await new DefaultChatTransport<AgentUIMessage>({ api: example.api, headers: () => example.headers('alice') }).reconnectToStream({ chatId: 'chat-fail' })
  const chunks: UIMessageChunk[] = []
  for await (const chunk of stream ?? []) chunks.push(chunk)
  t.same(chunks.slice(-3).map((chunk) => chunk.type), ['error', 'finish-step', 'finish'])
  t.match(chunks.at(-1), { type: 'finish', finishReason: 'error', messageMetadata: { error: { code: 'TOOL_UNAVAILABLE' } } })
})

/**
 * Read a POST /api/chat response until the messages of the first event that writes the answer's
 * text, and the next message after them; the SSE text up to the end of that event's messages, and its `seq`.
 */
async function readUntilAnswerStreams(response: Response): Promise<{ text: string; lastEventId: number }> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader()
  let received = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done === true) throw new Error('the stream ended before its answer was streamed')
    received += value
    const messages = received.split('\n\n').slice(0, -1)
    let kept = ''
    let cutAt: number | undefined
    for (const message of messages) {
      // A message came after the first text delta's: the cut falls right after that event.
      if (cutAt !== undefined) {
        await reader.cancel()
        return { text: kept, lastEventId: cutAt }
      }
      const id = /^id: (\d+)$/m.exec(message)?.[1]
      // A text delta is the last message of its event: it carries the event's seq.
      if (id !== undefined && message.includes('"type":"text-delta"')) cutAt = Number(id)
      kept += `${message}\n\n`
    }
  }
}

t.test('a stream cut while the answer streams, resumed with Last-Event-ID, ends as the uncut one: no part twice, no start again', async (t) => {
  // Slow enough that the answer is written in several deltas, and the run still goes on when the stream is cut.
  const example = await startExample(t, { stepMs: 5, tokenMs: 5 })
  const body = JSON.stringify({ id: 'chat-cut', messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: REFUND }] }] })
  const response = await fetch(example.api, { method: 'POST', headers: { ...example.headers('alice'), 'content-type': 'application/json' }, body })
  t.equal(response.status, 200)
  const cut = await readUntilAnswerStreams(response)
  const before = await readMessage(parseUiMessageSse(sseBody(cut.text)))
  t.match(before.message?.parts.at(-1), { type: 'text', state: 'streaming' }, 'cut with the answer half written')

  const transport = new DefaultChatTransport<AgentUIMessage>({ api: example.api, headers: () => example.headers('alice') })
  const resumed = await transport.reconnectToStream({ chatId: 'chat-cut', headers: { 'last-event-id': String(cut.lastEventId) } })
  if (resumed === null) throw new Error('nothing to resume')
  const [forRead, forCheck] = resumed.tee()
  const seen: UIMessageChunk[] = []
  const checked = (async () => {
    for await (const chunk of forCheck) seen.push(chunk)
  })()
  // The client goes on with the state it had (useChat's `resumeStreamIsReplay: false`): one reader of both parts.
  const both = parseUiMessageSse(sseBody(cut.text)).pipeThrough(new TransformStream<UIMessageChunk, UIMessageChunk>({
    async flush(controller) {
      for await (const chunk of forRead) controller.enqueue(chunk)
    },
  }))
  const after = await readMessage(both)
  await checked
  t.same(after.errors, [], 'every resumed chunk fits the message as it was')
  t.notOk(seen.some((chunk) => chunk.type === 'start'), 'no second start')
  const whole = await wholeMessage(example, 'alice', 'chat-cut')
  t.same(after.message, whole, 'the same message as the uncut stream')
  checkSuccessMessage(t, after.message)
})

t.test('useChat resumes through the resume route after its connection dropped mid-answer', async (t) => {
  const example = await startExample(t, { stepMs: 5, tokenMs: 5 })
  // The network drops once the answer starts streaming: the body fails as a lost connection does.
  let dropped = false
  const droppingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init)
    if (init?.method !== 'POST' || response.body === null) return response
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read()
        if (done === true) return controller.close()
        const cutAt = value.indexOf('"type":"text-delta"')
        if (cutAt >= 0) {
          controller.enqueue(new TextEncoder().encode(value.slice(0, value.lastIndexOf('\n\n', cutAt) + 2)))
          dropped = true
          await reader.cancel()
          controller.error(new TypeError('network error'))
          return
        }
        controller.enqueue(new TextEncoder().encode(value))
      },
    })
    return new Response(body, { status: response.status, headers: response.headers })
  }
  const chat = chatOf(example, 'alice', 'chat-drop', droppingFetch)
  await chat.sendMessage({ text: REFUND })
  t.ok(dropped, 'the connection dropped')
  t.equal(chat.status, 'error', 'the chat saw the drop')
  await chat.resumeStream()
  t.equal(chat.status, 'ready')
  t.equal(chat.messages.length, 2, 'still one assistant message')
  checkSuccessMessage(t, plain(chat.messages[1]))
})

t.test('401 without a token, 403 for a run of another user, 204 when there is nothing to resume', async (t) => {
  // Runs that take their time: the first event comes after one step.
  const example = await startExample(t, { stepMs: 60_000, tokenMs: 0 })
  const body = JSON.stringify({ id: 'chat-a', messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: REFUND }] }] })
  t.equal((await fetch(example.api, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 401)
  t.equal((await fetch(`${example.api}/chat-a/stream`)).status, 401)

  const transport = new DefaultChatTransport<AgentUIMessage>({ api: example.api, headers: () => example.headers('alice') })
  t.equal(await transport.reconnectToStream({ chatId: 'no-such-chat' }), null, 'no run for this chat: 204 from the route')

  const leaving = new AbortController()
  const started = await fetch(example.api, { method: 'POST', headers: { ...example.headers('alice'), 'content-type': 'application/json' }, body, signal: leaving.signal })
  t.equal(started.status, 200, 'the stream opens before the run records anything')
  t.equal(await transport.reconnectToStream({ chatId: 'chat-a' }), null, 'a run with nothing recorded yet: 204 from reply.uiMessageStream({ resume: true })')
  const denied = await fetch(`${example.api}/chat-a/stream`, { headers: example.headers('bob') })
  t.equal(denied.status, 403, 'authorize denies bob the run of alice')
  t.notOk(denied.headers.get('content-type')?.startsWith('text/event-stream'), 'refused before any byte of the stream')
  leaving.abort()
})

t.test('a client that leaves mid-stream leaves no reader behind', async (t) => {
  const example = await startExample(t, { stepMs: 20, tokenMs: 5 })
  const body = JSON.stringify({ id: 'chat-leave', messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: REFUND }] }] })
  const leaving = new AbortController()
  const response = await fetch(example.api, { method: 'POST', headers: { ...example.headers('alice'), 'content-type': 'application/json' }, body, signal: leaving.signal })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  t.equal(example.app.agentEvents.getReaderCount(), 1, 'one reader while the client reads')
  leaving.abort()
  await until(() => example.app.agentEvents.getReaderCount() === 0)
  t.equal(example.app.agentEvents.getReaderCount(), 0, 'none once it left')
})
