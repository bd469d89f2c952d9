import { HistoryResetError } from '../errors.ts'
import { planCompaction, type ReplayCompaction } from '../replay/compaction.ts'
import type { ReplayRange, ReplayStore } from '../replay/replay-store.ts'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import { LiveBacklog } from './live-backlog.ts'
import { isTerminalEvent } from './terminal-event.ts'
import type { StreamListener, WorkflowStream } from './workflow-stream.ts'
import type { WorkflowStreams } from './workflow-streams.ts'

/** Events read from the store per request. */
const READ_PAGE = 100
/**
 * Live events kept for a reader that has not asked for them yet; past this, they are read from the
 * store again when it asks. So a reader that stops reading holds at most this many events.
 */
const MAX_PENDING = 100
/** Reads in a row that may find the workflow's stream on an older life than the store before the reader gives up. */
const MAX_EPOCH_RETRIES = 5

let readersMade = 0

export interface EventReaderOptions {
  /** Events with a greater `seq`; `undefined` or 0 starts at the oldest event held. */
  afterSeq: number | undefined
  compact: boolean
  signal: AbortSignal | undefined
  maxEventBytes: number
}

/** What the reader's first read of the store found. */
export interface EventReaderStart {
  /** The workflow's last `seq` when the reader opened; 0 when nothing is recorded. */
  lastSeq: number
  epoch: string
}

/**
 * One reader of a workflow's recorded events, replay first, then live: `fastify.agentEvents.events()`
 * and the agent UI bridges. It pulls: events are read from the store page by page after the last
 * `seq` it handed out, only when its consumer asks for more, and live events only wake it (the
 * few that follow its cursor are kept, up to `MAX_PENDING`, so that a reader that keeps up does not
 * read the store for each one). A reader that stops asking never makes the server buffer more.
 *
 * It ends after the workflow's terminal event (`isTerminalEvent`), on its signal, on `close()`, or
 * with `FST_AGENT_EVENTS_HISTORY_RESET` when the workflow's buffer starts a new life after it handed
 * something out (`seq` restarted). Events that left the buffer before it read them are skipped:
 * `seq` then jumps.
 */
export class WorkflowEventReader implements StreamListener, AsyncIterable<RecordedAgentEvent> {
  /** A listener's name in its stream; never a Socket.IO id, so a restart of the stream closes no socket for it. */
  readonly socketId = `events-reader-${++readersMade}`
  #stream: WorkflowStream | undefined
  #start: Promise<EventReaderStart> | undefined
  #epoch = ''
  /** Highest `seq` handed out, or skipped. */
  #cursor: number
  /** Where the reader started: a new life of the buffer is harmless only while nothing past it was handed out. */
  readonly #startedAt: number
  #firstPage: RecordedAgentEvent[] | undefined
  readonly #pending = new LiveBacklog(MAX_PENDING)
  /** Something happened since the last read (an event, a restart, an abort): read again before sleeping. */
  #woken = false
  #wake: (() => void) | undefined
  #restarted = false
  #closed = false
  #compaction: ReplayCompaction | undefined
  #iterated = false

  constructor(
    private readonly streams: WorkflowStreams,
    private readonly store: ReplayStore,
    readonly workflowId: string,
    private readonly options: EventReaderOptions,
    private readonly onClose: (reader: WorkflowEventReader) => void,
  ) {
    this.#cursor = options.afterSeq ?? 0
    this.#startedAt = this.#cursor
    if (options.signal?.aborted === true) this.#closed = true
    else options.signal?.addEventListener('abort', this.#abort, { once: true })
  }

  /** Whether the reader has ended (terminal event, signal, `close()`, error) and let go of everything. */
  get closed(): boolean {
    return this.#closed
  }

  onForward(event: RecordedAgentEvent): void {
    if (event.seq <= this.#cursor) return
    this.#pending.add(event)
    this.#signal()
  }

  onRestart(): void {
    this.#restarted = true
    this.#signal()
  }

  /**
   * Listen to the workflow's stream, then read the store once: what it holds now, and whether the
   * reader can start where it was asked to. Idempotent; the iterator calls it when nobody did.
   */
  open(): Promise<EventReaderStart> {
    this.#start ??= this.#open()
    return this.#start
  }

  async #open(): Promise<EventReaderStart> {
    if (this.#closed) return { lastSeq: 0, epoch: '' }
    // Listen before the first read: an event recorded meanwhile is in the read, or heard, or both.
    this.#stream = this.streams.acquire(this.workflowId)
    this.#stream.listen(this)
    try {
      for (let attempt = 0; ; attempt++) {
        const first = await this.store.read(this.workflowId, { afterSeq: this.#cursor, limit: READ_PAGE })
        if (this.#closed) return { lastSeq: first.lastSeq, epoch: first.epoch }
        if (this.#adopt(first)) {
          if (this.#cursor > first.lastSeq) throw new HistoryResetError(this.workflowId, this.#cursor)
          this.#firstPage = first.events
          if (this.options.compact && first.lastSeq > this.#cursor) {
            this.#compaction = await planCompaction(
              this.store,
              this.workflowId,
              { afterSeq: this.#cursor, lastSeq: first.lastSeq, epoch: first.epoch, firstPage: first.events },
              this.options.maxEventBytes,
            )
          }
          return { lastSeq: first.lastSeq, epoch: first.epoch }
        }
        if (attempt >= MAX_EPOCH_RETRIES) throw new Error('the workflow stream kept an older epoch than the store')
      }
    } catch (error) {
      this.close()
      throw error
    }
  }

  /** Make the stream and the reader agree on the read's epoch; `false` when the read is of a life already left. */
  #adopt(range: ReplayRange): boolean {
    if (!(this.#stream as WorkflowStream).adoptRead(range.epoch, range.lastSeq, this.socketId)) return false
    this.#epoch = range.epoch
    this.#restarted = false
    return true
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedAgentEvent> {
    // One pass: a second iterator over the same reader would share its cursor and steal its events.
    if (this.#iterated) throw new TypeError('a workflow event reader can be iterated once')
    this.#iterated = true
    return this.#events()
  }

  async *#events(): AsyncGenerator<RecordedAgentEvent, void, undefined> {
    try {
      await this.open()
      for (;;) {
        if (this.#closed) return
        const page = this.#firstPage ?? this.#takePending() ?? (await this.#read())
        this.#firstPage = undefined
        if (page === undefined) {
          await this.#sleep()
          continue
        }
        for (const event of page) {
          if (this.#closed) return
          if (event.seq <= this.#cursor) continue
          this.#cursor = event.seq
          const handed = this.#compaction === undefined ? event : this.#compaction.next(event)
          if (handed !== undefined) yield handed
          if (isTerminalEvent(event)) return
        }
      }
    } finally {
      this.close()
    }
  }

  /** The next page from the store, or `undefined` when it holds nothing new. */
  async #read(): Promise<RecordedAgentEvent[] | undefined> {
    this.#woken = false
    if (this.#restarted) this.#assertSameLife()
    const range = await this.store.read(this.workflowId, { afterSeq: this.#cursor, limit: READ_PAGE })
    if (this.#closed) return undefined
    if (range.epoch !== this.#epoch) {
      this.#assertSameLife()
      if (!this.#adopt(range)) return undefined
    }
    if (range.events.length > 0) return range.events
    // Everything up to the last event left the buffer before it was read: go on after it.
    if (range.lastSeq > this.#cursor) this.#cursor = range.lastSeq
    return undefined
  }

  /** A new life of the buffer: harmless while nothing past where the reader started was handed out. */
  #assertSameLife(): void {
    if (this.#cursor > 0 || this.#startedAt > 0) throw new HistoryResetError(this.workflowId, this.#cursor)
    this.#pending.clear()
    this.#restarted = false
    // A restart lets go of the stream's listeners: listen to the new life.
    this.#stream?.listen(this)
  }

  /** The live events that follow the cursor without a hole, or `undefined` when the store must be read. */
  #takePending(): RecordedAgentEvent[] | undefined {
    const page = this.#pending.take(this.#cursor)
    if (page !== undefined) this.#woken = false
    return page
  }

  /** Wait for an event, a restart, the signal or `close()`, unless one came since the last read. */
  async #sleep(): Promise<void> {
    if (this.#woken || this.#closed) return
    await new Promise<void>((resolve) => {
      this.#wake = resolve
    })
    this.#wake = undefined
  }

  #signal(): void {
    this.#woken = true
    this.#wake?.()
  }

  readonly #abort = (): void => this.close()

  /** End the reader: its iterator returns at its next step, and it stops listening. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#pending.clear()
    this.#firstPage = undefined
    this.options.signal?.removeEventListener('abort', this.#abort)
    if (this.#stream !== undefined) {
      this.#stream.unlisten(this)
      this.streams.release(this.#stream)
      this.#stream = undefined
    }
    this.onClose(this)
    this.#signal()
  }
}
