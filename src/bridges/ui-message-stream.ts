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

/** A reasoning or text part that was started and not ended yet. */
interface OpenPart {
  kind: PartKind
  /** UTF-16 units of text sent so far: the final event's text past them is what is left to send. */
  sent: number
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
 *   (`message`).
 * - Steps: one step is one model turn, as the AI SDK's agents make them. A step starts before the
 *   first part; a new one (`finish-step`, `start-step`) when a part or a call comes after every
 *   call of the current step has ended.
 * - `agent:error` that ends a thought: `reasoning-end`. The terminal `agent:error`: the open parts
 *   ended, then `error` (`errorText` = its message). `agent:result`: the open parts ended.
 * - `closing()`: `finish-step`, `finish` with `finishReason` (`'error'` after an error; the
 *   result's `finish_reason` where it is one of the AI SDK's, else `'stop'`) and `messageMetadata`
 *   (`{ result }` or `{ error }`).
 */
export class UiMessageChunkMachine {
  readonly #context: UiMessageStreamContext
  readonly #openParts = new Map<string, OpenPart>()
  /** Parts already ended: a late piece of one is not sent (it would open a second part). */
  readonly #endedParts = new Set<string>()
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
        return this.#finishPart(event.data.messageId ?? `thought-${event.seq}`, 'reasoning', event.data.content)
      case 'tool_call':
        return this.#toolCall(event.data as ToolCallData, event.seq)
      case 'result': {
        this.#ended = true
        const { messageId, content } = event.data
        const chunks = typeof content === 'string'
          ? this.#finishPart(messageId ?? `result-${event.seq}`, 'text', content)
          : this.#endPart(messageId)
        return [...chunks, ...this.#endOpenParts()]
      }
      case 'error': {
        const chunks = this.#endPart(event.data.messageId)
        if (!isTerminalEvent(event)) return chunks
        this.#ended = true
        return [...chunks, ...this.#endOpenParts(), { type: 'error', errorText: event.data.message }]
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

  /** A piece of a streamed message: its part is started with the first piece. */
  #write(id: string, kind: PartKind, text: string): UiMessageStreamChunk[] {
    if (this.#endedParts.has(id)) return []
    const chunks: UiMessageStreamChunk[] = []
    let part = this.#openParts.get(id)
    if (part === undefined) {
      chunks.push(...this.#startPart(id, kind))
      part = this.#openParts.get(id) as OpenPart
    }
    if (text.length > 0) {
      chunks.push(kind === 'reasoning' ? { type: 'reasoning-delta', id, delta: text } : { type: 'text-delta', id, delta: text })
      part.sent += text.length
    }
    return chunks
  }

  /** A message's final event: the text not sent yet, then the end of its part. */
  #finishPart(id: string, kind: PartKind, content: string): UiMessageStreamChunk[] {
    if (this.#endedParts.has(id)) return []
    const sent = this.#openParts.get(id)?.sent ?? 0
    return [...this.#write(id, kind, content.slice(sent)), ...this.#endPart(id)]
  }

  #startPart(id: string, kind: PartKind): UiMessageStreamChunk[] {
    const chunks = this.#beforeNewPart()
    this.#openParts.set(id, { kind, sent: 0 })
    chunks.push({ type: kind === 'reasoning' ? 'reasoning-start' : 'text-start', id })
    return chunks
  }

  #endPart(id: string | undefined): UiMessageStreamChunk[] {
    const part = id === undefined ? undefined : this.#openParts.get(id)
    if (id === undefined || part === undefined) return []
    this.#openParts.delete(id)
    this.#endedParts.add(id)
    return [{ type: part.kind === 'reasoning' ? 'reasoning-end' : 'text-end', id }]
  }

  #endOpenParts(): UiMessageStreamChunk[] {
    return [...this.#openParts.keys()].flatMap((id) => this.#endPart(id))
  }

  /** Opens the first step, or a new one when every call of the current step has ended. */
  #beforeNewPart(): UiMessageStreamChunk[] {
    if (!this.#stepOpen) {
      this.#stepOpen = true
      return [{ type: 'start-step' }]
    }
    if (this.#stepCalls.length === 0 || this.#stepCalls.some((call) => !call.ended)) return []
    this.#stepCalls = []
    return [{ type: 'finish-step' }, { type: 'start-step' }]
  }

  #toolCall(data: ToolCallData, seq: number): UiMessageStreamChunk[] {
    const chunks: UiMessageStreamChunk[] = []
    // A new call may start a new step: judged before this update can mark the call ended.
    const stepStart = this.#beforeNewCall(data)
    const { call, opened } = this.#calls.track(data, seq)
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
    return this.#calls.peek(data) === undefined ? this.#beforeNewPart() : []
  }
}
