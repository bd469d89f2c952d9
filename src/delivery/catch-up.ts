import type { Socket } from 'socket.io'
import { planCompaction, type ReplayCompaction } from '../replay/compaction.ts'
import type { ReplayStore } from '../replay/replay-store.ts'
import { WIRE_EVENT_NAMES, type RecordedAgentEvent } from '../schemas/index.ts'
import { unsentBytes, whenUnsentBelow } from '../transport-backlog.ts'
import { LiveBacklog } from './live-backlog.ts'
import { GAP_REPAIR_DELAY_MS, type StreamListener, type WorkflowStream } from './workflow-stream.ts'

/**
 * Events read from the store per request while catching up. Small enough that a page of the
 * largest events a store holds stays a few tens of MiB in memory, large enough that a replay
 * costs few reads.
 */
const CATCH_UP_PAGE = 100
/** Live events kept for one subscriber while it catches up; past this, they are read from the store again. */
const MAX_PENDING = 1000
/**
 * Times in a row that this node's stream may make no progress towards what the store already told
 * a subscriber (each time after a repair from the store) before the subscribe gives up.
 */
const MAX_STREAM_STALLS = 20

export interface CatchUpRequest {
  afterSeq: number | undefined
  epoch: string | undefined
  /** Compact the replayed range (see `ReplayCompaction`); live events never are. */
  compact: boolean
}

export interface CatchUpOutcome {
  epoch: string
  lastSeq: number
  replayed: number
  truncated: boolean
  /** Set for a compacted replay: events left out or merged. */
  compacted?: number
}

export interface CatchUpContext {
  store: ReplayStore
  replayEnabled: boolean
  /** A replay writes its next event only while the subscriber's unsent bytes are under this. */
  paceBelowBytes: number
  /** No merged delta of a compacted replay grows past this. */
  maxEventBytes: number
}

/** The subscription was undone (unsubscribe or disconnect) before it completed. */
export class SubscriptionCancelled extends Error {}

/** The workflow's buffer started a new life while the subscription was being served: try again. */
export class EpochChangedDuringSubscribe extends Error {}

/**
 * Brings one subscriber from its `afterSeq` to the live stream: the single place where a replay is
 * paced. It sends the events the subscriber missed, read from the store page by page and written
 * only while the subscriber's transport keeps up, then joins the workflow's room in the same tick
 * in which it has sent everything the stream has forwarded: no gap and no duplicate at the
 * boundary. Live events forwarded meanwhile are kept (up to `MAX_PENDING`) and sent in order.
 */
export class CatchUp implements StreamListener {
  readonly #pending = new LiveBacklog(MAX_PENDING)
  #cancelled = false
  #restarted = false
  #wake: (() => void) | undefined
  /** Highest `seq` sent to the subscriber (or skipped as evicted). */
  #cursor = 0
  #replayed = 0
  #truncated = false
  #replaying = false
  #compaction: ReplayCompaction | undefined

  constructor(
    private readonly socket: Socket,
    private readonly stream: WorkflowStream,
    private readonly context: CatchUpContext,
  ) {}

  get socketId(): string {
    return this.socket.id
  }

  onForward(event: RecordedAgentEvent): void {
    this.#pending.add(event)
    this.#wake?.()
  }

  onRestart(): void {
    this.#restarted = true
    this.#wake?.()
  }

  /** Stop: the subscriber unsubscribed or left. `run` then rejects with `SubscriptionCancelled`. */
  cancel(): void {
    this.#cancelled = true
    this.#wake?.()
  }

  async run(request: CatchUpRequest): Promise<CatchUpOutcome> {
    this.stream.listen(this)
    try {
      return await this.#run(request)
    } finally {
      this.stream.unlisten(this)
      this.#pending.clear()
    }
  }

  async #run(request: CatchUpRequest): Promise<CatchUpOutcome> {
    const { store, replayEnabled } = this.context
    const { workflowId } = this.stream
    this.#replaying = replayEnabled && request.afterSeq !== undefined
    const first = await store.read(workflowId, {
      afterSeq: request.afterSeq ?? Number.MAX_SAFE_INTEGER,
      limit: this.#replaying ? CATCH_UP_PAGE : 0,
    })
    this.#assertActive()
    if (!this.stream.adoptRead(first.epoch, first.lastSeq, this.socket.id)) throw new EpochChangedDuringSubscribe()
    const { epoch } = first
    // A changed epoch means the client's afterSeq belongs to another life of the buffer: replay it all.
    const epochChanged = this.#replaying && request.epoch !== undefined && request.epoch !== epoch
    this.#cursor = !this.#replaying ? first.lastSeq : epochChanged ? 0 : (request.afterSeq ?? 0)
    this.#truncated = epochChanged || (request.afterSeq !== undefined && first.truncated)
    let page: RecordedAgentEvent[] | undefined = epochChanged ? undefined : first.events
    if (this.#replaying && request.compact) {
      // The first pass reads the range once more only where it is longer than the page in hand.
      this.#compaction = await planCompaction(
        store,
        workflowId,
        { afterSeq: this.#cursor, lastSeq: first.lastSeq, epoch, firstPage: page },
        this.context.maxEventBytes,
      )
      this.#assertActive()
    }
    let stalls = 0

    for (;;) {
      this.#assertActive()
      if (page !== undefined) {
        await this.#send(page)
        page = undefined
        continue
      }
      const upTo = this.stream.lastSeq ?? this.#cursor
      if (this.#cursor === upTo) {
        // Nothing can be forwarded between this check and the join: both happen in this tick.
        this.socket.join(this.stream.room)
        const outcome: CatchUpOutcome = { epoch, lastSeq: this.#cursor, replayed: this.#replayed, truncated: this.#truncated }
        if (request.compact) outcome.compacted = this.#compaction?.compacted ?? 0
        return outcome
      }
      if (this.#cursor > upTo) {
        // The store told this subscriber more than this node's stream has forwarded yet (the
        // store's pub/sub is slower than its reads): joining now would repeat those events.
        if (!(await this.#waitForStream()) && ++stalls > MAX_STREAM_STALLS) {
          throw new Error('the workflow stream did not reach the store\'s last event')
        }
        continue
      }
      page = this.#pending.take(this.#cursor)
      if (page !== undefined) continue
      const more = await store.read(workflowId, { afterSeq: this.#cursor, limit: CATCH_UP_PAGE })
      this.#assertActive()
      if (more.epoch !== epoch) throw new EpochChangedDuringSubscribe()
      if (more.events.length > 0) {
        page = more.events
        continue
      }
      // The store holds nothing past the cursor any more (evicted): go on from what is left.
      this.#truncated ||= this.#replaying
      const next = this.#pending.firstAfter(this.#cursor)
      this.#cursor = Math.max(this.#cursor, next === undefined ? upTo : next.seq - 1)
    }
  }

  /** Write events after the cursor, in order, each only while the transport keeps up. */
  async #send(events: readonly RecordedAgentEvent[]): Promise<void> {
    const paceBelow = this.context.paceBelowBytes
    for (const event of events) {
      if (event.seq <= this.#cursor) continue
      // A hole inside a page: the store evicted those events between two reads.
      if (event.seq > this.#cursor + 1 && this.#replaying) this.#truncated = true
      const sent = this.#compaction === undefined ? event : this.#compaction.next(event)
      if (sent === undefined) {
        this.#cursor = event.seq
        continue
      }
      if (unsentBytes(this.socket) >= paceBelow) {
        await whenUnsentBelow(this.socket, paceBelow)
        this.#assertActive()
      }
      this.socket.emit(WIRE_EVENT_NAMES[sent.type], sent)
      this.#cursor = event.seq
      this.#replayed++
    }
  }

  /**
   * Wait until the stream has forwarded up to the cursor. Returns `false` when it made no progress
   * within `GAP_REPAIR_DELAY_MS`, after asking it to read the store.
   */
  async #waitForStream(): Promise<boolean> {
    const from = this.stream.lastSeq
    let timer: NodeJS.Timeout | undefined
    const reached = await new Promise<boolean>((resolve) => {
      this.#wake = () => {
        if (this.#restarted || this.#cancelled || (this.stream.lastSeq ?? 0) >= this.#cursor) resolve(true)
      }
      timer = setTimeout(() => resolve(false), GAP_REPAIR_DELAY_MS)
    })
    clearTimeout(timer)
    this.#wake = undefined
    if (reached) return true
    await this.stream.repair()
    return this.stream.lastSeq !== from
  }

  #assertActive(): void {
    if (this.#restarted) throw new EpochChangedDuringSubscribe()
    if (this.#cancelled || this.socket.disconnected) throw new SubscriptionCancelled()
  }
}
