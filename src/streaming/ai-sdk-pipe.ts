// `fastify.agentEvents.pipe()`: one AI SDK run (`streamText(...).fullStream`) recorded as a
// workflow's events. The `ai` package is imported for its types only: nothing of it runs here, so
// an app that never pipes does not need it installed.
import type { TextStreamPart, ToolSet } from 'ai'
import type { AgentEventsDecorator } from '../emitters.ts'
import { invalidEvent } from '../errors.ts'
import type { AgentErrorEvent, AgentResultEvent, ErrorData, ResultData } from '../schemas/index.ts'
import type { MessageStream } from './message-streams.ts'

export interface PipeOptions {
  /**
   * Further keys of the `agent:result` that ends a successful run, besides `status: 'success'`,
   * `finish_reason` and the text (`content_type`, `content`, `messageId`, set by the pipe).
   */
  resultData?: Omit<ResultData, 'content' | 'content_type' | 'messageId'> & { content?: never; content_type?: never; messageId?: never }
  /**
   * Written between two text parts of the run (the text of one step and that of the next), so
   * that the one result reads as text. Default `'\n\n'`.
   */
  textSeparator?: string
  /**
   * How an error of the run is told to subscribers: the `agent:error` data of an `error` part or
   * of a stream that throws, and (its `message`) the reason of a failed tool call. Default:
   * `{ code: 'AI_SDK_ERROR', message: <the error's message> }`. Replace it to hide a provider's
   * wording from browsers.
   */
  errorData?: (error: unknown) => ErrorData
}

/** How a piped run ended. */
export interface PipeResult {
  /**
   * `'success'`: the stream finished, and its text was recorded as one `agent:result`.
   * `'error'`: an `error` part, or the stream threw; `'aborted'`: an `abort` part. Both were
   * recorded as one `agent:error`.
   */
  status: 'success' | 'error' | 'aborted'
  /** The event that ended the run: `agent:result`, or `agent:error`. */
  event: AgentResultEvent | AgentErrorEvent
  /** The run's `finishReason` (`'stop'`, `'length'`, `'tool-calls'`…) where the stream gave one. */
  finishReason?: string
  /** The error of an `error` part or the one the stream threw. */
  error?: unknown
}

/** What the pipe uses of `fastify.agentEvents`. */
export type PipeEmitters = Pick<AgentEventsDecorator, 'stream' | 'emitToolCall' | 'emitError'>

/** Parts of the full stream, whatever the app's tools. */
type Part = TextStreamPart<ToolSet>

export const DEFAULT_TEXT_SEPARATOR = '\n\n'
const ABORTED_MESSAGE = 'The run was aborted'
const DENIED_MESSAGE = 'The tool call was denied'
/** Keys of the final `agent:result` that carry the run's text: `resultData` may not set them. */
const RESULT_KEYS_OF_THE_PIPE = ['content', 'content_type', 'messageId'] as const

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null | undefined)?.code
}

/** The default of `errorData`: the error's own message, under one code. */
export function defaultErrorData(error: unknown): ErrorData {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'The model stream failed'
  return { code: 'AI_SDK_ERROR', message }
}

/**
 * Record the parts of an AI SDK full stream as events of `workflowId`, and resolve once the stream
 * has ended. The mapping:
 *
 * - `reasoning-delta`: a `thought` stream per reasoning part (its own `messageId`), ended with
 *   `agent:thought` at that part's `reasoning-end`.
 * - `text-delta`: ONE `result` stream for the whole run, opened at the first text and ended when
 *   the full stream finishes, with `{ status: 'success', finish_reason }`. `agent:result` is a
 *   workflow's terminal event, so the text of every step goes into that one message
 *   (`textSeparator` between two text parts) rather than one result per step.
 * - `tool-call`: `agent:tool_call` `in_progress` with `tool_call_id` (the AI SDK's `toolCallId`)
 *   and `input`; `tool-result`: `completed` with `output` (a `preliminary` result: `in_progress`
 *   with `output`); `tool-error`: `failed` with `message`; `tool-output-denied`: `failed`.
 * - `error` part, or the stream throws: the run fails. Open thought streams are ended (their text
 *   so far as `agent:thought`), calls still in progress are recorded `failed`, then exactly one
 *   `agent:error`: the result stream aborted with it, or `emitError` where no text was written.
 *   `abort` part: the same with `{ code: 'ABORTED' }`. Parts after that are read and ignored.
 * - Ignored: `start`, `start-step`, `finish-step`, `text-start`, `text-end` (besides marking where
 *   a text part ends), `reasoning-start`, `tool-input-start`/`-delta`/`-end` (the whole input comes
 *   with `tool-call`), `tool-approval-request`/`-response` (the call stays `in_progress` until its
 *   result), `source`, `file`, `reasoning-file`, `custom`, `steering-message`, `raw`, `ping`.
 *
 * The AI SDK's part ids (`'txt-0'`, `'0'`) repeat across steps and runs: every message gets a new
 * unique `messageId` of `stream()`'s own instead.
 *
 * Rejects, after ending the run with `agent:error` where it still can, when an event cannot be
 * recorded (`FST_AGENT_EVENTS_INVALID_EVENT`, `FST_AGENT_EVENTS_EVENT_TOO_LARGE`: a tool output
 * over `maxEventBytes`, or an error whose data is, then ends the run with an `agent:error` saying
 * so), and with `FST_AGENT_EVENTS_STREAM_ENDED` when the server closed meanwhile (its streams were
 * already ended with `SERVER_CLOSING`). It stops reading the stream then.
 *
 * A failing run (an `error` or `abort` part, or a stream that throws) is no rejection: it resolves
 * with its status.
 */
export async function pipeAiSdkStream<TOOLS extends ToolSet>(
  emitters: PipeEmitters,
  workflowId: string,
  fullStream: AsyncIterable<TextStreamPart<TOOLS>>,
  options: PipeOptions = {},
): Promise<PipeResult> {
  assertPipeInput(fullStream, options)
  const run = new PipedRun(emitters, workflowId, options)
  const parts = (fullStream as AsyncIterable<Part>)[Symbol.asyncIterator]()
  for (;;) {
    let next: IteratorResult<Part>
    try {
      next = await parts.next()
    } catch (error) {
      if (run.outcome !== undefined) return run.outcome
      try {
        return await run.fail('error', run.errorData(error), error)
      } catch (ownError) {
        await run.failAfterOwnError(ownError)
        throw ownError
      }
    }
    if (next.done === true) return run.outcome ?? run.finish()
    // After the terminal event the rest of the stream (`finish-step`, `finish`) is read, not recorded.
    if (run.outcome !== undefined) continue
    try {
      await run.handle(next.value)
    } catch (error) {
      await run.failAfterOwnError(error)
      await Promise.resolve(parts.return?.()).catch(() => undefined)
      throw error
    }
  }
}

function assertPipeInput(fullStream: unknown, options: unknown): asserts options is PipeOptions {
  if (typeof (fullStream as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] !== 'function') {
    throw invalidEvent([{ field: 'fullStream', message: 'must be an async iterable: the fullStream of streamText()' }])
  }
  if (typeof options !== 'object' || options === null) {
    throw invalidEvent([{ field: 'options', message: 'must be an object' }])
  }
  const { resultData, textSeparator, errorData } = options as Record<string, unknown>
  if (resultData !== undefined && (typeof resultData !== 'object' || resultData === null || Array.isArray(resultData))) {
    throw invalidEvent([{ field: 'options.resultData', message: 'must be an object' }])
  }
  const reserved = RESULT_KEYS_OF_THE_PIPE.find((key) => resultData !== undefined && key in resultData)
  if (reserved !== undefined) {
    throw invalidEvent([{ field: `options.resultData.${reserved}`, message: 'is set by the pipe itself' }])
  }
  if (textSeparator !== undefined && typeof textSeparator !== 'string') {
    throw invalidEvent([{ field: 'options.textSeparator', message: 'must be a string' }])
  }
  if (errorData !== undefined && typeof errorData !== 'function') {
    throw invalidEvent([{ field: 'options.errorData', message: 'must be a function' }])
  }
}

/** The state of one piped run: its open messages and tool calls, and how it ended. */
class PipedRun {
  /** Open thought streams, by the AI SDK's reasoning part id. */
  readonly #thoughts = new Map<string, MessageStream<'thought'>>()
  /** Tool calls recorded `in_progress` and not ended yet: id → tool name. */
  readonly #openCalls = new Map<string, string>()
  #result: MessageStream<'result'> | undefined
  /** The AI SDK id of the text part being written; undefined once it ended. */
  #textPart: string | undefined
  #finishReason: string | undefined
  /** Set once the run's terminal event is being recorded: nothing else is recorded after it. */
  #ending = false
  outcome: PipeResult | undefined

  constructor(
    private readonly emitters: PipeEmitters,
    private readonly workflowId: string,
    private readonly options: PipeOptions,
  ) {}

  errorData(error: unknown): ErrorData {
    return (this.options.errorData ?? defaultErrorData)(error)
  }

  async handle(part: Part): Promise<void> {
    switch (part.type) {
      case 'reasoning-delta': {
        if (part.text === '') return
        let thought = this.#thoughts.get(part.id)
        if (thought === undefined) {
          thought = this.emitters.stream(this.workflowId, { kind: 'thought' })
          this.#thoughts.set(part.id, thought)
        }
        thought.write(part.text)
        return
      }
      case 'reasoning-end': {
        const thought = this.#thoughts.get(part.id)
        if (thought === undefined) return
        this.#thoughts.delete(part.id)
        await thought.end().catch((error: unknown) => {
          // A thought over maxEventBytes has ended itself with its own MESSAGE_TOO_LARGE error (its
          // text went out in its deltas): that message is over, the run goes on.
          if (codeOf(error) !== 'FST_AGENT_EVENTS_EVENT_TOO_LARGE') throw error
        })
        return
      }
      case 'text-delta': {
        if (part.text === '') return
        if (this.#result === undefined) {
          this.#result = this.emitters.stream(this.workflowId, { kind: 'result' })
        } else if (this.#textPart !== part.id) {
          this.#result.write(this.options.textSeparator ?? DEFAULT_TEXT_SEPARATOR)
        }
        this.#textPart = part.id
        this.#result.write(part.text)
        return
      }
      case 'text-end':
        if (this.#textPart === part.id) this.#textPart = undefined
        return
      case 'tool-call':
        this.#openCalls.set(part.toolCallId, part.toolName)
        await this.emitters.emitToolCall(this.workflowId, {
          tool_name: part.toolName,
          status: 'in_progress',
          tool_call_id: part.toolCallId,
          ...(part.input === undefined ? {} : { input: part.input }),
        })
        return
      // A call leaves `#openCalls` once its end is recorded: where that fails, the run's failure records it `failed`.
      case 'tool-result': {
        const preliminary = part.preliminary === true
        await this.emitters.emitToolCall(this.workflowId, {
          tool_name: part.toolName,
          status: preliminary ? 'in_progress' : 'completed',
          tool_call_id: part.toolCallId,
          ...(part.output === undefined ? {} : { output: part.output }),
        })
        if (!preliminary) this.#openCalls.delete(part.toolCallId)
        return
      }
      case 'tool-error':
        await this.#toolFailed(part.toolCallId, part.toolName, this.errorData(part.error).message)
        this.#openCalls.delete(part.toolCallId)
        return
      case 'tool-output-denied':
        await this.#toolFailed(part.toolCallId, part.toolName, DENIED_MESSAGE)
        this.#openCalls.delete(part.toolCallId)
        return
      case 'finish':
        this.#finishReason = part.finishReason
        return
      case 'error':
        await this.fail('error', this.errorData(part.error), part.error)
        return
      case 'abort':
        await this.fail('aborted', { code: 'ABORTED', message: part.reason ?? ABORTED_MESSAGE })
        return
      default:
        // The parts listed as ignored above.
        return
    }
  }

  /** The stream finished: end what is open, and record the run's one `agent:result`. */
  async finish(): Promise<PipeResult> {
    this.#ending = true
    await this.#endThoughts()
    // A run without text still ends with its result, so that the workflow has its terminal event.
    const result = this.#result ?? this.emitters.stream(this.workflowId, { kind: 'result' })
    const finishReason = this.#finishReason
    let event: AgentResultEvent
    try {
      event = await result.end({
        status: 'success',
        ...(finishReason === undefined ? {} : { finish_reason: finishReason }),
        ...this.options.resultData,
      })
    } catch (error) {
      // `resultData` made the result invalid (`status: 5`): a refused end leaves the message open,
      // so it is ended with that error, then the caller hears of it. An end over maxEventBytes has
      // already recorded its own `MESSAGE_TOO_LARGE` error.
      if (codeOf(error) === 'FST_AGENT_EVENTS_INVALID_EVENT') {
        await result.abort({ code: 'FST_AGENT_EVENTS_INVALID_EVENT', message: (error as Error).message }).catch(() => undefined)
      }
      throw error
    }
    this.outcome = { status: 'success', event, ...(finishReason === undefined ? {} : { finishReason }) }
    return this.outcome
  }

  /**
   * The run failed (`error`) or was stopped (`aborted`): end the open thoughts with what they have,
   * record the calls still in progress as `failed`, then exactly one `agent:error`.
   */
  async fail(status: 'error' | 'aborted', data: ErrorData, error?: unknown): Promise<PipeResult> {
    this.#ending = true
    await this.#endThoughts()
    for (const [toolCallId, toolName] of this.#openCalls) {
      await this.#toolFailed(toolCallId, toolName, data.message).catch(() => undefined)
    }
    this.#openCalls.clear()
    let event: AgentErrorEvent
    try {
      event = await this.#recordError(data)
    } catch (recordError) {
      const code = codeOf(recordError)
      if (code !== 'FST_AGENT_EVENTS_INVALID_EVENT' && code !== 'FST_AGENT_EVENTS_EVENT_TOO_LARGE') throw recordError
      // The error data cannot be recorded (`errorData` gave no error event's data, or a message
      // over maxEventBytes): the run still ends with one agent:error, that says so, then the
      // caller hears of it. A result stream stays open after invalid data only.
      if (code !== 'FST_AGENT_EVENTS_INVALID_EVENT') this.#result = undefined
      const fallback = { code: 'AI_SDK_ERROR', message: `The run failed; its error could not be recorded: ${(recordError as Error).message}` }
      await this.#recordError(fallback).catch(() => undefined)
      throw recordError
    }
    const finishReason = this.#finishReason
    this.outcome = {
      status,
      event,
      ...(finishReason === undefined ? {} : { finishReason }),
      ...(error === undefined ? {} : { error }),
    }
    return this.outcome
  }

  /**
   * Recording a part failed: end the run with that error where it can still be recorded. Not when
   * the server closed the streams (it recorded `SERVER_CLOSING` for them), nor a second time.
   */
  async failAfterOwnError(error: unknown): Promise<void> {
    if (this.#ending) return
    const code = codeOf(error)
    if (code === 'FST_AGENT_EVENTS_STREAM_ENDED') {
      this.#ending = true
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    await this.fail('error', { code: typeof code === 'string' ? code : 'AI_SDK_ERROR', message }, error).catch(() => undefined)
  }

  /** The one `agent:error` of a failed run: the end of its result message, where text was written. */
  #recordError(data: ErrorData): Promise<AgentErrorEvent> {
    return this.#result === undefined ? this.emitters.emitError(this.workflowId, data) : this.#result.abort(data)
  }

  async #endThoughts(): Promise<void> {
    const open = [...this.#thoughts.values()]
    this.#thoughts.clear()
    // A thought that the server closed meanwhile throws here: its end is already recorded.
    for (const thought of open) await thought.end().catch(() => undefined)
  }

  async #toolFailed(toolCallId: string, toolName: string, message: string): Promise<void> {
    await this.emitters.emitToolCall(this.workflowId, { tool_name: toolName, status: 'failed', tool_call_id: toolCallId, message })
  }
}
