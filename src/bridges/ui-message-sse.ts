// The UI message stream over server-sent events: the state machine of ui-message-stream.ts behind
// the shared SSE responder. One chunk a message, as JSON on one `data:` line, and `data: [DONE]`
// at the end, as the AI SDK's own `JsonToSseTransformStream` writes them.
import type { OutgoingHttpHeaders } from 'node:http'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import { sseData, type SseInterruption, type SseMessage, type SseOpening, type SseProtocol } from './sse-protocol.ts'
import type { SseBridge } from './sse-responder.ts'
import { UiMessageChunkMachine, type UiMessageStreamChunk } from './ui-message-stream.ts'

/** The header by which the AI SDK's clients know a UI message stream (its `UI_MESSAGE_STREAM_HEADERS`). */
export const UI_MESSAGE_STREAM_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({ 'x-vercel-ai-ui-message-stream': 'v1' })

/** The last message of a stream that ended. */
export const UI_MESSAGE_STREAM_DONE: SseMessage = sseData('[DONE]')

/** One SSE message per chunk. */
export function uiMessageSse(chunks: readonly UiMessageStreamChunk[]): SseMessage[] {
  return chunks.map((chunk) => sseData(JSON.stringify(chunk)))
}

/** The UI message stream as the responder drives it: one state machine per response. */
export class UiMessageSseProtocol implements SseProtocol {
  /** Made at the opening, which names the message. */
  #machine: UiMessageChunkMachine | undefined

  opening({ workflowId, resumedAfter }: SseOpening): SseMessage[] {
    // The message's id is the workflow's: a resumed stream continues the same message.
    this.#machine = new UiMessageChunkMachine({ messageId: workflowId })
    const opening = this.#machine.opening()
    // `start` went out before the first event: a stream resumed after one does not send it again.
    return resumedAfter === undefined || resumedAfter === 0 ? uiMessageSse(opening) : []
  }

  next(event: RecordedAgentEvent): SseMessage[] {
    return uiMessageSse(this.#opened().next(event))
  }

  closing(terminal: RecordedAgentEvent): SseMessage[] {
    return [...uiMessageSse(this.#opened().closing(terminal)), UI_MESSAGE_STREAM_DONE]
  }

  /** The stream cannot go on: the client hears why (`error`), and that it ended. */
  interrupted(reason: SseInterruption): SseMessage[] {
    return [...uiMessageSse([{ type: 'error', errorText: reason.message }]), UI_MESSAGE_STREAM_DONE]
  }

  #opened(): UiMessageChunkMachine {
    if (this.#machine === undefined) throw new Error('opening() must come first')
    return this.#machine
  }
}

/** What `reply.uiMessageStream()` gives the shared responder. Nothing to load: `ai` is used for its types only. */
export const uiMessageStreamBridge: SseBridge = {
  headers: UI_MESSAGE_STREAM_HEADERS,
  protocol: () => new UiMessageSseProtocol(),
}
