// The AI SDK's UI message stream (what `useChat` reads), made from a workflow's recorded events.
// `ai` is imported for its types only: nothing of it runs here.
//
// One workflow run is one assistant message. The state machine below is deterministic: every id
// it sends comes from the events themselves (a message's `messageId`, a call's `tool_call_id`, a
// `seq`), never from a clock or a random source. So a stream resumed after `seq` N is made by
// feeding the events up to N with their chunks thrown away, then going on: the client gets
// exactly what the uncut stream would have sent after N, and an open part is continued, never
// opened twice.
import type { FinishReason, UIMessageChunk } from 'ai'
import type { ErrorData, RecordedAgentEvent, ResultData, ToolCallData } from '../schemas/index.ts'
import { isTerminalEvent } from '../delivery/terminal-event.ts'
import { ToolCallIdentity, type ToolCallState } from './tool-call-identity.ts'

/** The assistant message's metadata, set by the `finish` chunk: how the run ended. */
export interface UiMessageStreamMetadata {
  /** The `agent:result` data, without `messageId`, and without `content` where it was sent as text. */
  result?: ResultData
  /** The `agent:error` data that ended the run, without `messageId` and `kind`. */
  error?: ErrorData
}

/** A chunk of the stream, typed with our message metadata. */
export type UiMessageStreamChunk = UIMessageChunk<UiMessageStreamMetadata>

export interface UiMessageStreamContext {
  /** The assistant message's id, sent in `start`: the workflow id, so that a resume continues the same message. */
  messageId: string
}

type PartKind = 'reasoning' | 'text'

/** A thought or result message that was started and not ended yet. */
interface OpenMessage {
  kind: PartKind
  /** UTF-16 units of text sent so far: the final event's text past them is what is left to send. */
  sent: number
  /** The part that its text goes to now; undefined once a new step ended it. */
  partId: string | undefined
  /** Parts it has had: one per step that it wrote in. */
  parts: number
}

const FINISH_REASONS: ReadonlySet<string> = new Set<FinishReason>(['stop', 'length', 'content-filter', 'tool-calls', 'error', 'interrupted', 'other'])
const TOOL_FAILED = 'The tool call failed'

/**
 * Recorded events → UI message chunks, one workflow run as one assistant message:
 *
 * - `opening()`: `start` with the message id.
 * - `agent:delta` of a thought: `reasoning-start` (first piece) and `reasoning-delta`, part id =
 *   `messageId`; of a result: `text-start` / `text-delta`. The final `agent:thought` /
 *   `agent:result` sends the text not sent yet (all of it for a whole thought, or after a compact
 *   replay) and `reasoning-end` / `text-end`. A whole thought without `messageId` is one
 *   `reasoning-start` / `-delta` / `-end` with id `thought-<seq>`; a whole result, `result-<seq>`.
 * - `agent:tool_call`: the first update of a call sends `tool-input-available` (`dynamic: true`:
 *   the client does not know the agent's tools), again once when a later update brings the input
 *   first (`{}` until then); `completed` sends `tool-output-available` (`output`, else `message`, else null);
 *   `in_progress` with an `output` sends it as `preliminary`; `failed` sends `tool-output-error`
 *   (`message`). Which call an update belongs to is `ToolCallIdentity`'s rule, AG-UI's too; an
 *   update of a call that has ended sends nothing.
 * - Steps: one step is one model turn, as the AI SDK's agents make them. A step starts before the
 *   first part; a new one (`finish-step`, `start-step`) when a part, a call or more text comes
 *   after every call of the current step has ended. A message still being written then ends its
 *   part in the old step and goes on in a new one, id `<messageId>-<n>` (a piped run's one result
 *   message: its words before a tool call, then its answer after it).
 * - `agent:error` that ends a thought: `reasoning-end`. The terminal `agent:error`: the open parts
 *   ended, then `error` (`errorText` = its message). `agent:result`: the open parts ended.
 * - `closing()`: `finish-step`, `finish` with `finishReason` (`'error'` after an error; the
 *   result's `finish_reason` where it is one of the AI SDK's, else `'stop'`) and `messageMetadata`
 *   (`{ result }` or `{ error }`).
 */
export class UiMessageChunkMachine {
  readonly #context: UiMessageStreamContext
  /** By `messageId`. */
  readonly #openMessages = new Map<string, OpenMessage>()
  /** Messages already ended: a late piece of one is not sent (it would open another part). */
  readonly #endedMessages = new Set<string>()
  readonly #calls = new ToolCallIdentity()
  /** Calls whose `tool-input-available` carried their input. */
  readonly #inputSent = new WeakSet<ToolCallState>()
  #stepOpen = false
  /** The calls of the current step: once all have ended, the next part starts a new step. */
  #stepCalls: ToolCallState[] = []
  #ended = false

  constructor(context: UiMessageStreamContext) {
    this.#context = context
  }

  opening(): UiMessageStreamChunk[] {
    return [{ type: 'start', messageId: this.#context.messageId }]
  }

  /** The chunks of one recorded event, fed in `seq` order. Nothing after the terminal event. */
  next(event: RecordedAgentEvent): UiMessageStreamChunk[] {
    if (this.#ended) return []
    switch (event.type) {
      case 'delta': {
        const { messageId, kind, text } = event.data
        return this.#write(messageId, kind === 'thought' ? 'reasoning' : 'text', text)
      }
      case 'thought':
        return this.#finishMessage(event.data.messageId ?? `thought-${event.seq}`, 'reasoning', event.data.content)
      case 'tool_call':
        return this.#toolCall(event.data as ToolCallData, event.seq)
      case 'result': {
        this.#ended = true
        const { messageId, content } = event.data
        const chunks = typeof content === 'string'
          ? this.#finishMessage(messageId ?? `result-${event.seq}`, 'text', content)
          : this.#endMessage(messageId)
        return [...chunks, ...this.#endOpenMessages()]
      }
      case 'error': {
        const chunks = this.#endMessage(event.data.messageId)
        if (!isTerminalEvent(event)) return chunks
        this.#ended = true
        return [...chunks, ...this.#endOpenMessages(), { type: 'error', errorText: event.data.message }]
      }
      default:
        return []
    }
  }

  /** After the terminal event: the end of the step and of the message. */
  closing(terminal: RecordedAgentEvent): UiMessageStreamChunk[] {
    const chunks: UiMessageStreamChunk[] = this.#stepOpen ? [{ type: 'finish-step' }] : []
    this.#stepOpen = false
    if (terminal.type === 'result') {
      const { messageId: _messageId, ...result } = terminal.data
      if (typeof result.content === 'string') delete result.content
      const reason = result['finish_reason']
      const finishReason = typeof reason === 'string' && FINISH_REASONS.has(reason) ? (reason as FinishReason) : 'stop'
      chunks.push({ type: 'finish', finishReason, messageMetadata: { result } })
    } else if (terminal.type === 'error') {
      const { messageId: _messageId, kind: _kind, ...error } = terminal.data as ErrorData & { kind?: unknown }
      chunks.push({ type: 'finish', finishReason: 'error', messageMetadata: { error } })
    }
    return chunks
  }

  /**
   * A piece of a streamed message. Its part starts with the first piece; where a new step started
   * since, the message goes on in a new part of that step (id `<messageId>-<n>`), so that the
   * message shows its text in the order it was written, around the calls between.
   */
  #write(messageId: string, kind: PartKind, text: string): UiMessageStreamChunk[] {
    // No text, no part: a run that ends with an empty result shows no empty text.
    if (this.#endedMessages.has(messageId) || text.length === 0) return []
    // Text belongs to the current step, a new one where the calls of the last one have ended.
    const chunks = this.#beforeContent()
    let message = this.#openMessages.get(messageId)
    if (message === undefined) {
      message = { kind, sent: 0, partId: undefined, parts: 0 }
      this.#openMessages.set(messageId, message)
    }
    if (message.partId === undefined) {
      message.partId = message.parts === 0 ? messageId : `${messageId}-${message.parts}`
      message.parts++
      chunks.push({ type: kind === 'reasoning' ? 'reasoning-start' : 'text-start', id: message.partId })
    }
    const id = message.partId
    chunks.push(kind === 'reasoning' ? { type: 'reasoning-delta', id, delta: text } : { type: 'text-delta', id, delta: text })
    message.sent += text.length
    return chunks
  }

  /** A message's final event: the text not sent yet, then the end of its part. */
  #finishMessage(messageId: string, kind: PartKind, content: string): UiMessageStreamChunk[] {
    if (this.#endedMessages.has(messageId)) return []
    const sent = this.#openMessages.get(messageId)?.sent ?? 0
    const chunks = [...this.#write(messageId, kind, content.slice(sent)), ...this.#endMessage(messageId)]
    this.#endedMessages.add(messageId)
    return chunks
  }

  #endMessage(messageId: string | undefined): UiMessageStreamChunk[] {
    const message = messageId === undefined ? undefined : this.#openMessages.get(messageId)
    if (messageId === undefined || message === undefined) return []
    this.#openMessages.delete(messageId)
    this.#endedMessages.add(messageId)
    return this.#endPart(message)
  }

  /** The end of the message's current part, if it has one open. */
  #endPart(message: OpenMessage): UiMessageStreamChunk[] {
    const id = message.partId
    if (id === undefined) return []
    message.partId = undefined
    return [{ type: message.kind === 'reasoning' ? 'reasoning-end' : 'text-end', id }]
  }

  #endOpenMessages(): UiMessageStreamChunk[] {
    return [...this.#openMessages.keys()].flatMap((messageId) => this.#endMessage(messageId))
  }

  /**
   * Before a new part, a new call or more text: the first step, or a new one when every call of
   * the current step has ended. The parts open in the old step end there; their messages go on
   * in new parts.
   */
  #beforeContent(): UiMessageStreamChunk[] {
    if (!this.#stepOpen) {
      this.#stepOpen = true
      return [{ type: 'start-step' }]
    }
    if (this.#stepCalls.length === 0 || this.#stepCalls.some((call) => !call.ended)) return []
    this.#stepCalls = []
    const chunks = [...this.#openMessages.values()].flatMap((message) => this.#endPart(message))
    chunks.push({ type: 'finish-step' }, { type: 'start-step' })
    return chunks
  }

  #toolCall(data: ToolCallData, seq: number): UiMessageStreamChunk[] {
    const chunks: UiMessageStreamChunk[] = []
    // A new call may start a new step: judged before this update can mark the call ended.
    const stepStart = this.#beforeNewCall(data)
    const { call, opened, endedBefore } = this.#calls.track(data, seq)
    // The call has had its output or its error: that stands.
    if (endedBefore) return chunks
    const toolCallId = call.id
    if (opened) {
      chunks.push(...stepStart)
      this.#stepCalls.push(call)
    }
    const hasInput = data.input !== undefined
    if (opened || (hasInput && !this.#inputSent.has(call) && data.status !== 'completed' && data.status !== 'failed')) {
      // `input` must be there: a call whose arguments are not known (yet) shows none.
      chunks.push({ type: 'tool-input-available', toolCallId, toolName: call.toolName, input: data.input ?? {}, dynamic: true })
      if (hasInput) this.#inputSent.add(call)
    }
    switch (data.status) {
      case 'completed':
        chunks.push({ type: 'tool-output-available', toolCallId, output: data.output ?? data.message ?? null, dynamic: true })
        break
      case 'failed':
        chunks.push({ type: 'tool-output-error', toolCallId, errorText: data.message ?? TOOL_FAILED, dynamic: true })
        break
      case 'in_progress':
        if (data.output !== undefined) {
          chunks.push({ type: 'tool-output-available', toolCallId, output: data.output, preliminary: true, dynamic: true })
        }
        break
      default:
        break
    }
    return chunks
  }

  /** The step chunks that go before this update where it opens a new call. */
  #beforeNewCall(data: ToolCallData): UiMessageStreamChunk[] {
    return this.#calls.peek(data) === undefined ? this.#beforeContent() : []
  }
}
