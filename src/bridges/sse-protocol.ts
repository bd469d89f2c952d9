import type { RecordedAgentEvent } from '../schemas/index.ts'

/**
 * One server-sent events message as a protocol encodes it: its `data:` lines (and `event:` where
 * the protocol has one), ending with the blank line, without `id:`. The responder puts `id: <seq>`
 * on the last message of a recorded event.
 */
export type SseMessage = string

/** An SSE message whose data is `payload`: one `data:` line per line of it. */
export function sseData(payload: string): SseMessage {
  return `${payload.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join('\n')}\n\n`
}

/** What a protocol knows of the response it is about to write. */
export interface SseOpening {
  workflowId: string
  /**
   * The `seq` after which this response goes on (`Last-Event-ID` or the route's `afterSeq`), or
   * `undefined` for a stream from the start. A resumed stream goes on exactly as the uncut one
   * would have after that `seq`, so a protocol sends nothing at its opening that the uncut stream
   * sent before it.
   */
  resumedAfter: number | undefined
}

/** Why a stream ends without its terminal event. */
export interface SseInterruption {
  /** `FST_AGENT_EVENTS_HISTORY_RESET`, or `STREAM_FAILED` when the store could not be read. */
  code: string
  message: string
}

/**
 * An agent UI protocol over SSE: a state machine over a workflow's recorded events, made for one
 * response. It is deterministic (every id it sends is derived from `messageId`, `tool_call_id`,
 * `seq` or the route's options, never random), so that a resumed response can be fed the events
 * up to `Last-Event-ID` with their output discarded and then goes on exactly as the uncut
 * response would have.
 */
export interface SseProtocol {
  /** Messages before any recorded event (AG-UI's `RUN_STARTED`, the UI stream's `start`); sent without `id:`. */
  opening(context: SseOpening): SseMessage[]
  /** The messages of one recorded event, in `seq` order; the last one is sent with `id: <seq>`. */
  next(event: RecordedAgentEvent): SseMessage[]
  /** After the terminal event's own messages: sent without `id:`, then the response ends. */
  closing(terminal: RecordedAgentEvent): SseMessage[]
  /**
   * The stream cannot go on (the workflow's buffer started a new life, the store failed): its
   * last messages, sent without `id:`, then the response ends.
   */
  interrupted(reason: SseInterruption): SseMessage[]
}
