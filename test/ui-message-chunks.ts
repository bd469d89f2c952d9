// Reading a UI message stream the way the AI SDK does: its SSE parser (`parseJsonEventStream`
// with `uiMessageChunkSchema`, what `DefaultChatTransport` runs on a response body), then
// `readUIMessageStream`, which rebuilds the assistant message as `useChat` shows it.
import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from 'ai'
import type { Test } from 'tap'
import { SCRIPTS } from '../examples/demo/agent-run.ts'
import type { UiMessageStreamMetadata } from '../src/bridges/ui-message-stream.ts'

export type AgentUIMessage = UIMessage<UiMessageStreamMetadata>

/** SSE text → chunks, through the AI SDK's own parser; a chunk that fails its schema throws. */
export function parseUiMessageSse(body: ReadableStream<Uint8Array>): ReadableStream<UIMessageChunk> {
  return parseJsonEventStream({ stream: body, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error
        controller.enqueue(result.value)
      },
    }),
  )
}

/** A body made of SSE text, as a response would bring it. */
export function sseBody(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text))
      controller.close()
    },
  })
}

export interface ReadMessage {
  /** The message once the stream ended (undefined when no chunk changed it). */
  message: AgentUIMessage | undefined
  /** The errors the stream reported (`error` chunks, and chunks the message could not take). */
  errors: Error[]
}

/** The message that `readUIMessageStream` rebuilds from `chunks`, continuing `message` where given. */
export async function readMessage(chunks: ReadableStream<UIMessageChunk>, message?: AgentUIMessage): Promise<ReadMessage> {
  const errors: Error[] = []
  let last: AgentUIMessage | undefined
  const stream = readUIMessageStream<AgentUIMessage>({
    stream: chunks,
    ...(message === undefined ? {} : { message }),
    onError: (error) => errors.push(error as Error),
  })
  for await (const snapshot of stream) last = snapshot
  return { message: last === undefined ? undefined : plain(last), errors }
}

/** Without keys whose value is undefined, so that two messages compare by what they hold. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** The text of every part of a kind, in order. */
export function texts(message: AgentUIMessage | undefined, type: 'reasoning' | 'text'): string[] {
  return (message?.parts ?? []).flatMap((part) => (part.type === type ? [part.text] : []))
}

/** The message of the demo's successful run, as `useChat` shows it. */
export function checkSuccessMessage(t: Test, message: AgentUIMessage | undefined): void {
  const script = SCRIPTS.success
  t.equal(message?.role, 'assistant')
  t.same(texts(message, 'reasoning'), script.flatMap((step) => (step.type === 'thought' ? [step.content] : [])))
  const answer = script.find((step) => step.type === 'result')
  t.same(texts(message, 'text'), [answer?.type === 'result' ? answer.data.content : ''])
  const calls = message?.parts.filter((part) => part.type === 'dynamic-tool') ?? []
  t.same(calls, [
    { type: 'dynamic-tool', toolName: 'search_orders', toolCallId: 'call-1', state: 'output-available', input: { customer: 'c-2291' }, output: { orders: 3, latest: { id: 4812, delivered: '2 days ago' } } },
    { type: 'dynamic-tool', toolName: 'read_policy', toolCallId: 'call-2', state: 'output-available', input: { document: 'Returns and refunds', section: 3 }, output: { refund: 'full', withinDays: 30 } },
    { type: 'dynamic-tool', toolName: 'issue_refund', toolCallId: 'call-3', state: 'output-available', input: { order: 4812, amount: 89.9, currency: 'EUR' }, output: { refund: 'r-7730' } },
  ], 'each call by its tool_call_id, with its input and output')
  t.same(message?.parts.map((part) => part.type), [
    'step-start', 'reasoning', 'reasoning', 'dynamic-tool',
    'step-start', 'reasoning', 'dynamic-tool',
    'step-start', 'reasoning', 'dynamic-tool',
    'step-start', 'reasoning', 'text',
  ], 'a new step after each step whose calls have ended, as an agent loop makes them')
  t.ok(message?.parts.every((part) => !('state' in part) || part.state === 'done' || part.state === 'output-available'), 'every part ended')
  t.same(message?.metadata, { result: { status: 'success', content_type: 'text/plain' } }, 'the result data, its text aside, as metadata')
}
