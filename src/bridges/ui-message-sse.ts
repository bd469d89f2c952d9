// The UI message stream's SSE framing: one chunk a message, as JSON on one `data:` line.
import type { UIMessageChunk } from 'ai'

/** The response headers of a UI message stream (the AI SDK's `UI_MESSAGE_STREAM_HEADERS`). */
export const UI_MESSAGE_STREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
})

/** The last message of every stream that ended. */
export const UI_MESSAGE_STREAM_DONE = 'data: [DONE]\n\n'

/**
 * The SSE messages of the chunks of one recorded event. Only the last carries `id: <seq>`: a client
 * that reads part of them keeps the previous id, so a resume sends the event's chunks again
 * rather than skip the ones it missed.
 */
export function encodeUiMessageSse(chunks: readonly UIMessageChunk<unknown>[], seq?: number): string {
  let text = ''
  for (const [index, chunk] of chunks.entries()) {
    const id = seq !== undefined && index === chunks.length - 1 ? `id: ${seq}\n` : ''
    text += `${id}data: ${JSON.stringify(chunk)}\n\n`
  }
  return text
}
