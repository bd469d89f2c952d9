import type { RecordedAgentEvent, ToolCallData } from '../schemas/index.ts'
import type { SseInterruption, SseMessage, SseOpening, SseProtocol } from './sse-protocol.ts'
import { ToolCallIdentity, type ToolCallState } from './tool-call-identity.ts'

/**
 * An AG-UI event as this bridge builds it: `type` and its fields, as `@ag-ui/core` 1.x defines
 * them (the encoder takes its `BaseEvent`, which this is).
 */
export interface AgUiEvent {
  type: string
  [field: string]: unknown
}

/** Turns one AG-UI event into its SSE message: `@ag-ui/encoder`'s `encodeSSE`. */
export type AgUiEncode = (event: AgUiEvent) => SseMessage

export interface AgUiRunIds {
  threadId: string
  runId: string
}

/** Text and reasoning messages open in AG-UI, by `messageId`. */
type OpenMessages = Map<string, 'text' | 'reasoning'>

const TEXT_CONTENT_TYPES = /^text(\/|$)/

/**
 * A workflow's recorded events as AG-UI events, one response's worth. Deterministic: every id
 * comes from the recorded events (`messageId`, `tool_call_id`, `seq`) or the route's options.
 *
 * | Recorded event | AG-UI events |
 * | --- | --- |
 * | (response opens, not resumed) | `RUN_STARTED` |
 * | `delta` of a `thought` message | `REASONING_START` + `REASONING_MESSAGE_START` (first one), `REASONING_MESSAGE_CONTENT` |
 * | `thought` ending a streamed message | `REASONING_MESSAGE_END` + `REASONING_END` |
 * | `thought` (whole) | `REASONING_START`, `REASONING_MESSAGE_START`, `REASONING_MESSAGE_CONTENT`, `REASONING_MESSAGE_END`, `REASONING_END` |
 * | `delta` of a `result` message | `TEXT_MESSAGE_START` (first one), `TEXT_MESSAGE_CONTENT` |
 * | `tool_call`, first of a call | `TOOL_CALL_START`; with `input`: `TOOL_CALL_ARGS` (input as JSON) + `TOOL_CALL_END` |
 * | `tool_call`, later update with `input` | `TOOL_CALL_ARGS` + `TOOL_CALL_END` (once) |
 * | `tool_call` `completed` / `failed` | `TOOL_CALL_END` (if not yet), `TOOL_CALL_RESULT` |
 * | `tool_call` of a call that has its result | nothing |
 *
 * Which call an update belongs to is `ToolCallIdentity`'s rule, the same as the UI message stream's.
 * | `error` ending a `thought` message | `REASONING_MESSAGE_END` + `REASONING_END` (the run goes on) |
 * | `result` | what is still open ended, a whole text answer as one text message, `RUN_FINISHED` with `result` = its data |
 * | `error` (terminal) | what is still open ended, `RUN_ERROR` |
 */
export class AgUiProtocol implements SseProtocol {
  readonly #open: OpenMessages = new Map()
  readonly #calls = new ToolCallIdentity()
  /** Calls started whose `TOOL_CALL_END` has not been sent, in the order they started. */
  readonly #argsOpen = new Set<ToolCallState>()
  #finished = false

  constructor(
    private readonly ids: AgUiRunIds,
    private readonly encode: AgUiEncode,
  ) {}

  opening(context: SseOpening): SseMessage[] {
    // A resumed response goes on where the other left off: the run started there.
    if (context.resumedAfter !== undefined) return []
    return [this.encode({ type: 'RUN_STARTED', threadId: this.ids.threadId, runId: this.ids.runId })]
  }

  next(event: RecordedAgentEvent): SseMessage[] {
    if (this.#finished) return []
    const timestamp = Date.parse(event.timestamp)
    const out: AgUiEvent[] = []
    switch (event.type) {
      case 'delta':
        this.#delta(event.data, out)
        break
      case 'thought':
        this.#thought(event.data, event.seq, out)
        break
      case 'tool_call':
        this.#toolCall(event.data as ToolCallData, event.seq, out)
        break
      case 'result':
        this.#result(event.data, event.seq, out)
        break
      case 'error':
        this.#error(event.data, out)
        break
    }
    return out.map((agUiEvent) => this.encode(Number.isFinite(timestamp) ? { ...agUiEvent, timestamp } : agUiEvent))
  }

  closing(): SseMessage[] {
    return []
  }

  interrupted(reason: SseInterruption): SseMessage[] {
    if (this.#finished) return []
    this.#finished = true
    return [this.encode({ type: 'RUN_ERROR', message: reason.message, code: reason.code })]
  }

  #delta(data: { messageId: string; kind: string; text: string }, out: AgUiEvent[]): void {
    const { messageId, kind, text } = data
    if (kind === 'thought') {
      if (!this.#open.has(messageId)) this.#openReasoning(messageId, out)
      out.push({ type: 'REASONING_MESSAGE_CONTENT', messageId, delta: text })
    } else {
      if (!this.#open.has(messageId)) {
        this.#open.set(messageId, 'text')
        out.push({ type: 'TEXT_MESSAGE_START', messageId, role: 'assistant' })
      }
      out.push({ type: 'TEXT_MESSAGE_CONTENT', messageId, delta: text })
    }
  }

  #thought(data: { content: string; messageId?: string }, seq: number, out: AgUiEvent[]): void {
    const messageId = data.messageId ?? `thought-${seq}`
    if (this.#open.get(messageId) !== 'reasoning') {
      // A whole thought (or one whose deltas left the buffer): one message with all its text.
      this.#openReasoning(messageId, out)
      out.push({ type: 'REASONING_MESSAGE_CONTENT', messageId, delta: data.content })
    }
    this.#endMessage(messageId, out)
  }

  #toolCall(data: ToolCallData, seq: number, out: AgUiEvent[]): void {
    const { call, opened, endedBefore } = this.#calls.track(data, seq)
    // The call has had its result: AG-UI has no way to take it back or add to it.
    if (endedBefore) return
    if (opened) {
      this.#argsOpen.add(call)
      out.push({ type: 'TOOL_CALL_START', toolCallId: call.id, toolCallName: call.toolName })
    }
    if (this.#argsOpen.has(call) && data.input !== undefined) {
      out.push({ type: 'TOOL_CALL_ARGS', toolCallId: call.id, delta: JSON.stringify(data.input) })
      this.#endArgs(call, out)
    }
    if (!call.ended) return
    this.#endArgs(call, out)
    out.push({
      type: 'TOOL_CALL_RESULT',
      messageId: `${call.id}-result`,
      toolCallId: call.id,
      role: 'tool',
      content: toolResultContent(data),
    })
  }

  #endArgs(call: ToolCallState, out: AgUiEvent[]): void {
    if (!this.#argsOpen.delete(call)) return
    out.push({ type: 'TOOL_CALL_END', toolCallId: call.id })
  }

  #result(data: Record<string, unknown>, seq: number, out: AgUiEvent[]): void {
    const messageId = typeof data.messageId === 'string' ? data.messageId : undefined
    const streamed = messageId !== undefined && this.#open.get(messageId) === 'text'
    if (streamed) this.#endMessage(messageId, out)
    this.#endEverything(out)
    const contentType = typeof data.content_type === 'string' ? data.content_type : undefined
    if (!streamed && typeof data.content === 'string' && contentType !== undefined && TEXT_CONTENT_TYPES.test(contentType)) {
      // An answer that was not streamed is still shown as one: its whole text as a text message.
      const id = messageId ?? `result-${seq}`
      out.push(
        { type: 'TEXT_MESSAGE_START', messageId: id, role: 'assistant' },
        { type: 'TEXT_MESSAGE_CONTENT', messageId: id, delta: data.content },
        { type: 'TEXT_MESSAGE_END', messageId: id },
      )
    }
    out.push({ type: 'RUN_FINISHED', threadId: this.ids.threadId, runId: this.ids.runId, result: data })
    this.#finished = true
  }

  #error(data: { code: string; message: string; messageId?: string; kind?: string }, out: AgUiEvent[]): void {
    if (data.kind === 'thought') {
      // A thought that failed alone: its message ends, the run goes on.
      if (data.messageId !== undefined && this.#open.has(data.messageId)) this.#endMessage(data.messageId, out)
      return
    }
    this.#endEverything(out)
    out.push({ type: 'RUN_ERROR', message: data.message, code: data.code })
    this.#finished = true
  }

  #openReasoning(messageId: string, out: AgUiEvent[]): void {
    this.#open.set(messageId, 'reasoning')
    out.push({ type: 'REASONING_START', messageId }, { type: 'REASONING_MESSAGE_START', messageId, role: 'reasoning' })
  }

  #endMessage(messageId: string, out: AgUiEvent[]): void {
    const kind = this.#open.get(messageId)
    if (kind === undefined) return
    this.#open.delete(messageId)
    if (kind === 'text') out.push({ type: 'TEXT_MESSAGE_END', messageId })
    else out.push({ type: 'REASONING_MESSAGE_END', messageId }, { type: 'REASONING_END', messageId })
  }

  /** The run ends: AG-UI wants every message and tool call closed before `RUN_FINISHED`. */
  #endEverything(out: AgUiEvent[]): void {
    for (const messageId of [...this.#open.keys()]) this.#endMessage(messageId, out)
    for (const call of [...this.#argsOpen]) this.#endArgs(call, out)
  }
}

/**
 * A tool's result as AG-UI's text content: its `output` (a string as it is, anything else as
 * JSON); a failed call's as JSON `{ "error": message, "output"? }`, since AG-UI has no failed
 * result of its own.
 */
function toolResultContent(data: Record<string, unknown>): string {
  if (data.status === 'failed') {
    const failure: Record<string, unknown> = { error: typeof data.message === 'string' ? data.message : 'failed' }
    if (data.output !== undefined) failure.output = data.output
    return JSON.stringify(failure)
  }
  if (typeof data.output === 'string') return data.output
  if (data.output !== undefined) return JSON.stringify(data.output)
  return typeof data.message === 'string' ? data.message : ''
}
