import type { FastifyBaseLogger } from 'fastify'
import type { Namespace, Server } from 'socket.io'
import type { TextStreamPart, ToolSet } from 'ai'
import { invalidEvent, type EventValidationIssue } from './errors.ts'
import { createEventSizeCheck } from './event-size.ts'
import { assertOptionalBoolean, assertOptionalSeq, assertRoutable, assertValidEvent, assertWorkflowId } from './event-validation.ts'
import type { ReplayStore, UnrecordedAgentEvent } from './replay/replay-store.ts'
import { userRoom } from './rooms.ts'
import {
  WIRE_EVENT_NAMES,
  type AgentErrorEvent,
  type AgentEvent,
  type AgentEventType,
  type AgentResultEvent,
  type AgentThoughtEvent,
  type AgentToolCallEvent,
  type ErrorData,
  type RecordedAgentEvent,
  type ResultData,
  type ToolCallData,
} from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'
import { planCompaction } from './replay/compaction.ts'
import { MessageStreams, type MessageStream, type MessageStreamOptions } from './streaming/message-streams.ts'
import type { DeltaKind } from './schemas/index.ts'
import { pipeAiSdkStream, type PipeOptions, type PipeResult } from './streaming/ai-sdk-pipe.ts'
import { WorkflowEventReader } from './delivery/event-reader.ts'
import type { WorkflowStreams } from './delivery/workflow-streams.ts'

/**
 * Where an event goes. Without it, to the workflow's subscribers, recorded with `seq` and `id`.
 * With `socketId` or `userId`, only there, not recorded, without `seq` or `id`.
 */
export type EmitTarget = { socketId: string; userId?: never } | { userId: string; socketId?: never }

export interface AgentEventInput<Kind extends AgentEventType = AgentEventType> {
  type: Kind
  workflowId: string
  data: Extract<AgentEvent, { type: Kind }>['data']
}

export interface HistoryOptions {
  /** Events with a greater `seq`. Default 0. */
  afterSeq?: number
  /** At most this many, the oldest first. Default 100. */
  limit?: number
  /**
   * Leave out the deltas of messages whose final event is in the range, and merge those of a
   * message still streaming, as `agent:subscribe` with `compact: true` does. Default false.
   */
  compact?: boolean
}

export interface HistoryPage {
  events: RecordedAgentEvent[]
  lastSeq: number
  truncated: boolean
  /** With `compact: true`: events left out or merged into another. */
  compacted?: number
}

export interface EventsOptions {
  /** Events with a greater `seq`. Default 0: from the oldest event the buffer holds. */
  afterSeq?: number
  /**
   * Compact the part already recorded when the iteration starts, as `history()` with
   * `compact: true` does; live events never are. Default false.
   */
  compact?: boolean
  /** Aborting it ends the iteration (the loop's next step returns) and lets go of everything. */
  signal?: AbortSignal
}

/** `fastify.agentEvents`. */
export interface AgentEventsDecorator {
  emitThought(workflowId: string, content: string, target?: EmitTarget): Promise<AgentThoughtEvent>
  emitToolCall(workflowId: string, data: ToolCallData, target?: EmitTarget): Promise<AgentToolCallEvent>
  emitResult(workflowId: string, data: ResultData, target?: EmitTarget): Promise<AgentResultEvent>
  emitError(workflowId: string, data: ErrorData, target?: EmitTarget): Promise<AgentErrorEvent>
  emit<Kind extends AgentEventType>(event: AgentEventInput<Kind>, target?: EmitTarget): Promise<Extract<AgentEvent, { type: Kind }>>
  /**
   * Open a message that is written a few characters at a time (token streaming): its writes are
   * recorded as `agent:delta` events, one per `streaming.windowMs`, and `end()` records the whole
   * text as `agent:thought` or `agent:result`.
   */
  stream<Kind extends DeltaKind>(workflowId: string, options: MessageStreamOptions<Kind>): MessageStream<Kind>
  /**
   * Record an AI SDK run (`streamText(...).fullStream`) as the workflow's events: reasoning as
   * `thought` streams, its text as one `result` stream, tool calls with `tool_call_id`, `input`
   * and `output`, an error or abort as one `agent:error`. Resolves once the stream has ended.
   */
  pipe<TOOLS extends ToolSet>(workflowId: string, fullStream: AsyncIterable<TextStreamPart<TOOLS>>, options?: PipeOptions): Promise<PipeResult>
  /**
   * A workflow's recorded events after `afterSeq`, replayed from the store, then live, in `seq`
   * order, each once. It ends after the terminal event (`agent:result`, or an `agent:error` that
   * does not only end a `thought` message), on `signal`, on `break`, or when the server closes. It
   * reads the store only as fast as the loop asks. Events that left the buffer before they were
   * read are skipped (`seq` jumps); a new life of the buffer after `afterSeq` or after an event
   * handed out throws `FST_AGENT_EVENTS_HISTORY_RESET`.
   */
  events(workflowId: string, options?: EventsOptions): AsyncIterable<RecordedAgentEvent>
  /** Read the replay buffer: the first `limit` events after `afterSeq`. */
  history(workflowId: string, options?: HistoryOptions): Promise<HistoryPage>
  /** Authenticated sockets on this node. */
  getConnectedCount(): number
  /** Event readers open on this node: `events()` loops and agent UI responses not ended yet. */
  getReaderCount(): number
  /** The user id of a socket connected to this node. */
  getUserId(socketId: string): string | undefined
  /** The Socket.IO server: an escape hatch. */
  readonly io: Server
}

export interface EmitterDependencies {
  io: Server
  namespace: Namespace
  store: ReplayStore
  /** This node's ordered streams of the workflows followed here: what wakes event readers. */
  streams: WorkflowStreams
  validate: boolean
  /** Largest event, in UTF-8 bytes of its JSON as sent. */
  maxEventBytes: number
  /** Coalescing window of message streams. */
  streamingWindowMs: number
  log: FastifyBaseLogger
}

export interface AgentEvents {
  decorator: AgentEventsDecorator
  /** End every message stream still open (`fastify.close()`). */
  abortOpenStreams(): Promise<void>
  /** Open a reader of a workflow's events after checking its options (the bridges open it before answering). */
  openReader(workflowId: string, options?: EventsOptions): WorkflowEventReader
  /** End every event reader (`fastify.close()`): their loops return. */
  closeReaders(): void
}

const INPUT_KEYS: ReadonlySet<string> = new Set(['type', 'workflowId', 'data'])
const HISTORY_LIMIT = { default: 100, max: 1000 } as const

/** What Socket.IO's ids look like (20 base64url characters), and what no room name of ours does. */
const SOCKET_ID_PATTERN = /^[A-Za-z0-9_-]{20}$/

function assertTarget(target: unknown): asserts target is EmitTarget | undefined {
  if (target === undefined) return
  const issues: EventValidationIssue[] = []
  if (typeof target !== 'object' || target === null) {
    issues.push({ field: 'target', message: 'must be { socketId } or { userId }' })
  } else {
    const { socketId, userId } = target as Record<string, unknown>
    const given = [socketId, userId].filter((value) => value !== undefined)
    if (given.length !== 1 || given.some((value) => typeof value !== 'string' || value.length === 0)) {
      issues.push({ field: 'target', message: 'must be { socketId } or { userId }, with one non-empty string' })
    } else if (typeof socketId === 'string' && !SOCKET_ID_PATTERN.test(socketId)) {
      // A socket id is used as a room name: anything else (`user:bob`, `workflow:…`) would reach a whole room.
      issues.push({ field: 'target.socketId', message: 'must be a Socket.IO socket id (20 characters A-Z a-z 0-9 _ -)' })
    }
  }
  if (issues.length > 0) throw invalidEvent(issues)
}

export function createAgentEvents(deps: EmitterDependencies): AgentEvents {
  const { io, namespace, store, validate, log } = deps
  const checkEventSize = createEventSizeCheck(deps.maxEventBytes, store)
  const messageStreams = new MessageStreams({
    windowMs: deps.streamingWindowMs,
    maxEventBytes: deps.maxEventBytes,
    recordDelta(delta) {
      // Called from `write()`, which never throws on delivery: a store that throws at once is logged too.
      try {
        store.append(delta).catch((error: unknown) => logNotRecorded(error, delta))
      } catch (error) {
        logNotRecorded(error, delta)
      }
    },
    emit: (event) => emit(event as AgentEventInput),
  })

  /** A workflow event the store could not record: the run goes on, the event is logged as lost for replay. */
  function logNotRecorded(error: unknown, event: UnrecordedAgentEvent): void {
    log.error({ err: error, workflowId: event.workflowId, type: event.type }, 'event not recorded: replay store failed')
  }

  async function emit(input: AgentEventInput, target?: EmitTarget): Promise<AgentEvent> {
    if (typeof input !== 'object' || input === null) {
      throw invalidEvent([{ field: '(event)', message: 'must be an object { type, workflowId, data }' }])
    }
    const unknownKey = Object.keys(input).find((key) => !INPUT_KEYS.has(key))
    if (unknownKey !== undefined) {
      throw invalidEvent([{ field: unknownKey, message: 'is not a field of an event: put it inside data' }])
    }
    assertRoutable(input)
    assertTarget(target)
    const event = {
      type: input.type,
      workflowId: input.workflowId,
      data: input.data,
      timestamp: new Date().toISOString(),
    } as UnrecordedAgentEvent
    if (validate) assertValidEvent(event)
    // Before anything is recorded or sent; settled at once except within bytes of the limit.
    const sizeVerdict = checkEventSize(event, target === undefined)
    if (sizeVerdict !== undefined) await sizeVerdict
    const wireName = WIRE_EVENT_NAMES[event.type]

    if (target !== undefined) {
      const room = target.socketId ?? userRoom(target.userId as string)
      try {
        namespace.to(room).emit(wireName, event)
      } catch (error) {
        log.error({ err: error, workflowId: event.workflowId, type: event.type }, 'direct event not delivered')
      }
      return event as AgentEvent
    }

    // Text written to the workflow's message streams before this event is recorded before it.
    messageStreams.flush(event.workflowId)
    try {
      // The store hands the recorded event to its watchers, this node's delivery among them, before
      // append resolves: that is the one route from an emitter to subscribers, whatever the store.
      return await store.append(event)
    } catch (error) {
      // Not recorded, so delivered to nobody: never out of order.
      logNotRecorded(error, event)
      return event as AgentEvent
    }
  }

  const decorator: AgentEventsDecorator = {
    emitThought: (workflowId, content, target) =>
      emit({ type: 'thought', workflowId, data: { content } }, target) as Promise<AgentThoughtEvent>,
    emitToolCall: (workflowId, data, target) =>
      emit({ type: 'tool_call', workflowId, data }, target) as Promise<AgentToolCallEvent>,
    emitResult: (workflowId, data, target) =>
      emit({ type: 'result', workflowId, data }, target) as Promise<AgentResultEvent>,
    emitError: (workflowId, data, target) =>
      emit({ type: 'error', workflowId, data }, target) as Promise<AgentErrorEvent>,
    emit: emit as AgentEventsDecorator['emit'],

    stream(workflowId, options) {
      assertWorkflowId(workflowId)
      return messageStreams.open(workflowId, options)
    },

    async pipe(workflowId, fullStream, options) {
      assertWorkflowId(workflowId)
      return pipeAiSdkStream(decorator, workflowId, fullStream, options)
    },

    events: (workflowId, options) => openReader(workflowId, options),

    async history(workflowId, options = {}) {
      assertWorkflowId(workflowId)
      const afterSeq = options.afterSeq ?? 0
      const limit = options.limit ?? HISTORY_LIMIT.default
      assertOptionalSeq('afterSeq', afterSeq)
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > HISTORY_LIMIT.max) {
        throw invalidEvent([{ field: 'limit', message: `must be an integer from 1 to ${HISTORY_LIMIT.max}` }])
      }
      assertOptionalBoolean('compact', options.compact)
      if (options.compact === true) return compactedHistory(workflowId, afterSeq, limit)
      const range = await store.read(workflowId, { afterSeq, limit })
      return { events: range.events, lastSeq: range.lastSeq, truncated: range.truncated }
    },

    getConnectedCount: () => namespace.sockets.size,
    getReaderCount: () => readers.size,
    getUserId: (socketId) => {
      const socket = namespace.sockets.get(socketId)
      return socket === undefined ? undefined : identityOf(socket)?.userId
    },
    io,
  }

  const readers = new Set<WorkflowEventReader>()

  function openReader(workflowId: string, options: EventsOptions = {}): WorkflowEventReader {
    assertWorkflowId(workflowId)
    if (typeof options !== 'object' || options === null) {
      throw invalidEvent([{ field: 'options', message: 'must be an object { afterSeq?, compact?, signal? }' }])
    }
    const { afterSeq, compact, signal } = options
    assertOptionalSeq('afterSeq', afterSeq)
    assertOptionalBoolean('compact', compact)
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidEvent([{ field: 'signal', message: 'must be an AbortSignal' }])
    }
    const reader = new WorkflowEventReader(
      deps.streams,
      store,
      workflowId,
      { afterSeq, compact: compact ?? false, signal, maxEventBytes: deps.maxEventBytes },
      (closed) => readers.delete(closed),
    )
    if (!reader.closed) readers.add(reader)
    return reader
  }

  /** The first `limit` events after `afterSeq` once the range up to the last event is compacted. */
  async function compactedHistory(workflowId: string, afterSeq: number, limit: number): Promise<HistoryPage> {
    const first = await store.read(workflowId, { afterSeq, limit: HISTORY_LIMIT.max })
    const compaction = await planCompaction(
      store,
      workflowId,
      { afterSeq, lastSeq: first.lastSeq, epoch: first.epoch, firstPage: first.events },
      deps.maxEventBytes,
    )
    const events: RecordedAgentEvent[] = []
    let page = first.events
    let cursor = afterSeq
    while (page.length > 0) {
      for (const event of page) {
        cursor = event.seq
        if (event.seq > compaction.rangeEnd) break
        const kept = compaction.next(event)
        if (kept !== undefined) events.push(kept)
        if (events.length === limit) break
      }
      if (events.length === limit || cursor >= compaction.rangeEnd) break
      page = (await store.read(workflowId, { afterSeq: cursor, limit: HISTORY_LIMIT.max })).events
    }
    return { events, lastSeq: first.lastSeq, truncated: first.truncated, compacted: compaction.compacted }
  }

  return {
    decorator,
    abortOpenStreams: () => messageStreams.abortAll(),
    openReader,
    closeReaders() {
      for (const reader of [...readers]) reader.close()
    },
  }
}
