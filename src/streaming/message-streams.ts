import { eventTooLarge, invalidEvent, StreamEndedError } from '../errors.ts'
import { RECORDED_FIELDS_BYTES_AT_MOST } from '../event-size.ts'
import { newEventId } from '../replay/event-id.ts'
import type { UnrecordedAgentEvent } from '../replay/replay-store.ts'
import {
  DELTA_KINDS,
  MESSAGE_ID_PATTERN,
  type AgentErrorEvent,
  type AgentEvent,
  type AgentResultEvent,
  type AgentThoughtEvent,
  type DeltaKind,
  type ErrorData,
  type ResultData,
} from '../schemas/index.ts'
import { MOST_JSON_BYTES_PER_UNIT, splitText } from './text-pieces.ts'

export interface MessageStreamOptions<Kind extends DeltaKind = DeltaKind> {
  /** The event that ends the message with its whole text: `agent:thought` or `agent:result`. */
  kind: Kind
  /** Shared by the message's deltas and its final event. Default: a new unique id. */
  messageId?: string
}

/** What `end()` may add to the final event's `data`: anything but the text and the message id. */
export type MessageEndData<Kind extends DeltaKind> = (Kind extends 'result' ? Omit<ResultData, 'content' | 'messageId'> : Record<string, unknown>) & {
  content?: never
  messageId?: never
}

/** A message written a few characters at a time: `fastify.agentEvents.stream()`. */
export interface MessageStream<Kind extends DeltaKind = DeltaKind> {
  readonly workflowId: string
  readonly messageId: string
  readonly kind: Kind
  /**
   * Append text. Writes within `streaming.windowMs` are recorded as one `agent:delta`. Synchronous;
   * never throws because of delivery. Throws `FST_AGENT_EVENTS_STREAM_ENDED` once the stream has
   * ended, and `FST_AGENT_EVENTS_INVALID_EVENT` for anything but a string.
   */
  write(text: string): void
  /**
   * Record what is pending, then the final event with the whole text: `agent:thought`
   * `{ content, messageId }` or `agent:result` `{ content_type: 'text', content, messageId, ...extraData }`.
   * Where that event would be over `maxEventBytes`, it records `agent:error`
   * `{ code: 'MESSAGE_TOO_LARGE', messageId, kind }` instead (the text went out in the deltas) and
   * rejects with `FST_AGENT_EVENTS_EVENT_TOO_LARGE`. Invalid `extraData` rejects with
   * `FST_AGENT_EVENTS_INVALID_EVENT` and leaves the stream open.
   */
  end(extraData?: MessageEndData<Kind>): Promise<Kind extends 'result' ? AgentResultEvent : AgentThoughtEvent>
  /** Record what is pending, then end the message with `agent:error` `{ ...error, messageId, kind }`. */
  abort(error: ErrorData): Promise<AgentErrorEvent>
}

export interface MessageStreamsDependencies {
  windowMs: number
  maxEventBytes: number
  /** Record a delta: the store's append is issued in this tick, so that deltas keep their order. Never throws. */
  recordDelta(event: UnrecordedAgentEvent): void
  /** The emitters' own path, for the events that end a message. */
  emit(event: Pick<AgentEvent, 'type' | 'workflowId' | 'data'>): Promise<AgentEvent>
}

/** The error that ends every stream still open when the server closes. */
const CLOSING_ERROR: ErrorData = { code: 'SERVER_CLOSING', message: 'The server closed before this message ended' }
const MESSAGE_ID = new RegExp(MESSAGE_ID_PATTERN)
const KINDS: ReadonlySet<string> = new Set(DELTA_KINDS)
const RESERVED_END_KEYS = ['content', 'messageId'] as const

type StreamState = 'open' | 'ending' | 'ended'

/**
 * The open message streams of one plugin instance, by workflow, so that any other event of a
 * workflow is recorded after the text written to its streams before it.
 */
export class MessageStreams {
  readonly #byWorkflow = new Map<string, Set<OpenMessageStream>>()
  #closing = false

  constructor(readonly deps: MessageStreamsDependencies) {}

  open<Kind extends DeltaKind>(workflowId: string, options: MessageStreamOptions<Kind>): MessageStream<Kind> {
    if (typeof options !== 'object' || options === null || !KINDS.has(options.kind)) {
      throw invalidEvent([{ field: 'kind', message: `must be one of ${DELTA_KINDS.join(', ')}` }])
    }
    const messageId = options.messageId ?? `msg-${newEventId()}`
    if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) {
      throw invalidEvent([{ field: 'messageId', message: `must match ${MESSAGE_ID_PATTERN}` }])
    }
    if (this.#closing) throw new StreamEndedError(messageId, 'the server is closing')
    const open = this.#byWorkflow.get(workflowId)
    for (const stream of open ?? []) {
      if (stream.messageId === messageId) {
        throw invalidEvent([{ field: 'messageId', message: 'is already streaming in this workflow' }])
      }
    }
    const stream = new OpenMessageStream(this, workflowId, messageId, options.kind)
    this.track(stream)
    return stream as unknown as MessageStream<Kind>
  }

  /** Record the text pending in the workflow's streams now: another event of it is about to be recorded. */
  flush(workflowId: string): void {
    const open = this.#byWorkflow.get(workflowId)
    if (open === undefined) return
    for (const stream of open) stream.flush()
  }

  /** `fastify.close()`: end every open stream with `agent:error` `SERVER_CLOSING`, and refuse new ones. */
  async abortAll(): Promise<void> {
    this.#closing = true
    const open = [...this.#byWorkflow.values()].flatMap((streams) => [...streams])
    await Promise.allSettled(open.map((stream) => stream.abort(CLOSING_ERROR)))
  }

  /** The stream has ended: it is no longer open in its workflow. */
  forget(stream: OpenMessageStream): void {
    const open = this.#byWorkflow.get(stream.workflowId)
    if (open?.delete(stream) === true && open.size === 0) this.#byWorkflow.delete(stream.workflowId)
  }

  /** The stream is open in its workflow: new, or open again after an `end` or `abort` refused its input. */
  track(stream: OpenMessageStream): void {
    const open = this.#byWorkflow.get(stream.workflowId)
    if (open === undefined) this.#byWorkflow.set(stream.workflowId, new Set([stream]))
    else open.add(stream)
  }
}

class OpenMessageStream {
  #state: StreamState = 'open'
  /** Written, not recorded yet. */
  #pending = ''
  /**
   * Records the pending text `windowMs` after the first write of a window. One timer per stream
   * rather than one clock for all: windows start when each stream is written, so their deltas are
   * recorded spread over time, not hundreds in one turn of the event loop that would hold back
   * every other stream's text (and every other socket) for the time they take.
   */
  #timer: NodeJS.Timeout | undefined
  /** The whole text so far, for the final event; dropped once it cannot fit in one event. */
  #text: string | undefined = ''
  /** UTF-16 units written so far: a lower bound of the final event's bytes. */
  #written = 0
  /** JSON bytes of text that one delta may carry, besides its envelope. */
  readonly #textBudget: number

  constructor(
    private readonly streams: MessageStreams,
    readonly workflowId: string,
    readonly messageId: string,
    readonly kind: DeltaKind,
  ) {
    const { maxEventBytes } = streams.deps
    const envelope = this.#delta('')
    this.#textBudget = maxEventBytes - Buffer.byteLength(JSON.stringify(envelope)) - RECORDED_FIELDS_BYTES_AT_MOST
    // One surrogate pair, escaped, is the least a delta must be able to carry.
    if (this.#textBudget < 2 * MOST_JSON_BYTES_PER_UNIT) {
      throw eventTooLarge(maxEventBytes - this.#textBudget + 2 * MOST_JSON_BYTES_PER_UNIT, maxEventBytes)
    }
  }

  write(text: string): void {
    if (this.#state !== 'open') throw new StreamEndedError(this.messageId, 'end or abort was called')
    if (typeof text !== 'string') throw invalidEvent([{ field: 'text', message: 'must be a string' }])
    if (text.length === 0) return
    this.#pending += text
    this.#keep(text)
    if (this.streams.deps.windowMs === 0) return this.flush()
    // Past what one delta can carry: record the full pieces now, keep the rest pending.
    const pieces = this.#pieces(this.#pending)
    if (pieces.length > 1) {
      this.#pending = pieces.pop() as string
      this.#record(pieces)
    }
    this.#timer ??= setTimeout(this.#flushOnTime, this.streams.deps.windowMs)
  }

  readonly #flushOnTime = (): void => {
    this.#timer = undefined
    this.flush()
  }

  /** Record the pending text as one delta (several where it is over one event's budget). */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#pending.length === 0) return
    const text = this.#pending
    this.#pending = ''
    this.#record(this.#pieces(text))
  }

  /** `text` cut to what one delta can carry; measured only past the cheap bound. */
  #pieces(text: string): string[] {
    return text.length * MOST_JSON_BYTES_PER_UNIT > this.#textBudget ? splitText(text, this.#textBudget) : [text]
  }

  #record(pieces: readonly string[]): void {
    for (const piece of pieces) this.streams.deps.recordDelta(this.#delta(piece))
  }

  async end(extraData?: Record<string, unknown>): Promise<AgentEvent> {
    this.#assertOpen('end')
    if (extraData !== undefined && (typeof extraData !== 'object' || extraData === null || Array.isArray(extraData))) {
      throw invalidEvent([{ field: 'extraData', message: 'must be an object' }])
    }
    const reserved = RESERVED_END_KEYS.find((key) => extraData !== undefined && key in extraData)
    if (reserved !== undefined) {
      throw invalidEvent([{ field: `extraData.${reserved}`, message: 'is set by the stream itself' }])
    }
    const text = this.#text
    if (text === undefined) {
      const size = this.#written + Buffer.byteLength(JSON.stringify(this.#delta('')))
      await this.#finish({ type: 'error', workflowId: this.workflowId, data: this.#tooLarge(size) })
      throw eventTooLarge(size, this.streams.deps.maxEventBytes)
    }
    const data = this.kind === 'result'
      ? { content_type: 'text', content: text, messageId: this.messageId, ...extraData }
      : { content: text, messageId: this.messageId, ...extraData }
    try {
      return await this.#finish({ type: this.kind, workflowId: this.workflowId, data } as Pick<AgentEvent, 'type' | 'workflowId' | 'data'>)
    } catch (error) {
      if ((error as { code?: string }).code !== 'FST_AGENT_EVENTS_EVENT_TOO_LARGE') throw error
      const size = (error as { size?: number }).size ?? this.#written
      await this.#finish({ type: 'error', workflowId: this.workflowId, data: this.#tooLarge(size) }).catch(() => undefined)
      throw error
    }
  }

  async abort(error: ErrorData): Promise<AgentEvent> {
    this.#assertOpen('abort')
    if (typeof error !== 'object' || error === null || Array.isArray(error)) {
      throw invalidEvent([{ field: 'error', message: 'must be an object { code, message, details? }' }])
    }
    return this.#finish({ type: 'error', workflowId: this.workflowId, data: { ...error, messageId: this.messageId, kind: this.kind } })
  }

  /**
   * Record the pending text, then the event that ends the message. Writes throw from now on.
   * An invalid final event (the app's `extraData` or error data) leaves the stream open, so that
   * the caller can fix it and nothing is lost.
   */
  async #finish(event: Pick<AgentEvent, 'type' | 'workflowId' | 'data'>): Promise<AgentEvent> {
    this.flush()
    this.#state = 'ending'
    this.streams.forget(this)
    try {
      const recorded = await this.streams.deps.emit(event)
      this.#state = 'ended'
      this.#text = undefined
      return recorded
    } catch (error) {
      if ((error as { code?: string }).code === 'FST_AGENT_EVENTS_INVALID_EVENT') {
        this.#state = 'open'
        this.streams.track(this)
      } else {
        this.#state = 'ended'
      }
      throw error
    }
  }

  #assertOpen(how: 'end' | 'abort'): void {
    if (this.#state !== 'open') {
      throw new StreamEndedError(this.messageId, this.#state === 'ending' ? `${how} while it was ending` : 'end or abort was called')
    }
  }

  #keep(text: string): void {
    this.#written += text.length
    if (this.#text === undefined) return
    // Each unit takes at least one byte: past the limit in units, the final event cannot fit.
    if (this.#written > this.streams.deps.maxEventBytes) this.#text = undefined
    else this.#text += text
  }

  #tooLarge(size: number): ErrorData & { messageId: string } {
    return {
      kind: this.kind,
      code: 'MESSAGE_TOO_LARGE',
      message: `The whole message (at least ${size} bytes) is over maxEventBytes (${this.streams.deps.maxEventBytes}): its text is in its deltas only`,
      messageId: this.messageId,
    }
  }

  #delta(text: string): UnrecordedAgentEvent {
    return {
      type: 'delta',
      workflowId: this.workflowId,
      data: { messageId: this.messageId, kind: this.kind, text },
      timestamp: new Date().toISOString(),
    } as UnrecordedAgentEvent
  }
}
