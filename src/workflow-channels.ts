import type { FastifyBaseLogger } from 'fastify'
import type { BroadcastOperator, DefaultEventsMap, Namespace, Socket } from 'socket.io'
import { WIRE_EVENT_NAMES, type RecordedAgentEvent } from './schemas/index.ts'
import type { ReplayStore } from './replay/replay-store.ts'
import { workflowRoom } from './rooms.ts'

/** Events read from the store per request while a subscriber catches up. */
const REPLAY_PAGE = 1000
/** Reads allowed to close a hole between the replay and the live stream before giving up on it. */
const MAX_CATCH_UP_READS = 20
/** How long an event that arrived ahead of its predecessor waits before the hole is repaired from the store. */
const GAP_REPAIR_DELAY_MS = 250

export interface SubscribeRequestFacts {
  afterSeq: number | undefined
  epoch: string | undefined
}

export interface SubscribeOutcome {
  epoch: string
  lastSeq: number
  replayed: number
  truncated: boolean
}

/** The subscription was undone (unsubscribe or disconnect) before it completed. */
export class SubscriptionCancelled extends Error {}

/**
 * One workflow's ordered stream on this node. Every delivered event passes through `deliver`,
 * which forwards events to the room strictly in `seq` order, once each. A subscriber that is
 * still catching up is kept out of the room and collects live events in its own buffer; it joins
 * the room in the same tick in which it was sent everything up to `lastSeq`, so nothing falls
 * between the replay and the live stream.
 */
class WorkflowChannel {
  readonly room: string
  /**
   * `namespace.local.to(room)`, built on the first event and kept: Socket.IO's operators are
   * immutable, and building one per event costs three operators and three Sets. Not built for a
   * workflow that never gets an event, so idle subscriptions cost no memory for it.
   */
  toRoom: BroadcastOperator<DefaultEventsMap, unknown> | undefined
  /** Highest `seq` forwarded to the room; `undefined` until the first event or catch-up fixes it. */
  lastSeq: number | undefined
  /** Subscribers catching up, by socket id, with the live events delivered meanwhile. */
  readonly catchingUp = new Map<string, RecordedAgentEvent[]>()
  /** Events that arrived before their predecessor, by `seq`. */
  readonly ahead = new Map<number, RecordedAgentEvent>()
  gapTimer: NodeJS.Timeout | undefined

  constructor(readonly workflowId: string) {
    this.room = workflowRoom(workflowId)
  }
}

export class WorkflowChannels {
  readonly #channels = new Map<string, WorkflowChannel>()

  constructor(
    private readonly namespace: Namespace,
    private readonly store: ReplayStore,
    private readonly replayEnabled: boolean,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Hand one recorded event to this node's subscribers of its workflow. */
  deliver(event: RecordedAgentEvent): void {
    const channel = this.#channels.get(event.workflowId)
    if (channel === undefined) return
    if (channel.lastSeq === undefined) channel.lastSeq = event.seq - 1
    if (event.seq <= channel.lastSeq) return
    if (event.seq > channel.lastSeq + 1) {
      channel.ahead.set(event.seq, event)
      this.#scheduleGapRepair(channel)
      return
    }
    this.#forward(channel, event)
    this.#drainAhead(channel)
  }

  #forward(channel: WorkflowChannel, event: RecordedAgentEvent): void {
    channel.lastSeq = event.seq
    // `local`: with a cluster adapter each node delivers to its own sockets; one encoding per event.
    channel.toRoom ??= this.namespace.local.to(channel.room)
    channel.toRoom.emit(WIRE_EVENT_NAMES[event.type], event)
    for (const buffer of channel.catchingUp.values()) buffer.push(event)
  }

  #drainAhead(channel: WorkflowChannel): void {
    let next: RecordedAgentEvent | undefined
    while (channel.lastSeq !== undefined && (next = channel.ahead.get(channel.lastSeq + 1)) !== undefined) {
      channel.ahead.delete(next.seq)
      this.#forward(channel, next)
    }
    if (channel.ahead.size === 0 && channel.gapTimer !== undefined) {
      clearTimeout(channel.gapTimer)
      channel.gapTimer = undefined
    }
  }

  #scheduleGapRepair(channel: WorkflowChannel): void {
    if (channel.gapTimer !== undefined) return
    channel.gapTimer = setTimeout(() => {
      channel.gapTimer = undefined
      void this.#repairGap(channel)
    }, GAP_REPAIR_DELAY_MS)
    channel.gapTimer.unref()
  }

  /** Fill a hole from the store; what the store no longer holds is skipped, so the stream never stalls. */
  async #repairGap(channel: WorkflowChannel): Promise<void> {
    const from = channel.lastSeq ?? 0
    try {
      const range = await this.store.read(channel.workflowId, { afterSeq: from, limit: REPLAY_PAGE })
      for (const event of range.events) this.deliver(event)
    } catch (error) {
      this.log.warn({ err: error, workflowId: channel.workflowId }, 'could not repair a gap in the event stream')
    }
    if (channel.ahead.size > 0 && channel.lastSeq === from) {
      const lowest = Math.min(...channel.ahead.keys())
      this.log.warn({ workflowId: channel.workflowId, missing: lowest - from - 1 }, 'skipping events lost before delivery')
      channel.lastSeq = lowest - 1
      this.#drainAhead(channel)
    } else if (channel.ahead.size > 0) {
      this.#scheduleGapRepair(channel)
    }
  }

  /**
   * Subscribe a socket: send it the events it missed, then let it follow the live stream, with
   * no gap and no duplicate at the boundary.
   */
  async subscribe(socket: Socket, workflowId: string, request: SubscribeRequestFacts): Promise<SubscribeOutcome> {
    const channel = this.#channel(workflowId)
    const buffer: RecordedAgentEvent[] = []
    channel.catchingUp.set(socket.id, buffer)
    try {
      return await this.#catchUp(socket, channel, buffer, request)
    } finally {
      channel.catchingUp.delete(socket.id)
      this.#dropIfIdle(channel)
    }
  }

  async #catchUp(
    socket: Socket,
    channel: WorkflowChannel,
    buffer: RecordedAgentEvent[],
    request: SubscribeRequestFacts,
  ): Promise<SubscribeOutcome> {
    const replaying = this.replayEnabled && request.afterSeq !== undefined
    const first = await this.store.read(channel.workflowId, {
      afterSeq: request.afterSeq ?? Number.MAX_SAFE_INTEGER,
      limit: replaying ? REPLAY_PAGE : 0,
    })
    // A changed epoch means the client's afterSeq belongs to another life of the buffer: replay it all.
    const epochChanged = replaying && request.epoch !== undefined && request.epoch !== first.epoch
    const from = !replaying ? first.lastSeq : epochChanged ? 0 : (request.afterSeq ?? 0)
    let truncated = epochChanged || (request.afterSeq !== undefined && first.truncated)
    const collected = new Map<number, RecordedAgentEvent>()
    const keep = (event: RecordedAgentEvent): void => {
      if (event.seq > from) collected.set(event.seq, event)
    }
    if (epochChanged) {
      const whole = await this.store.read(channel.workflowId, { afterSeq: 0, limit: REPLAY_PAGE })
      whole.events.forEach(keep)
    } else if (replaying) {
      first.events.forEach(keep)
    }

    for (let reads = 0; ; reads++) {
      if (!channel.catchingUp.has(socket.id) || socket.disconnected) throw new SubscriptionCancelled()
      buffer.forEach(keep)
      buffer.length = 0
      channel.lastSeq ??= first.lastSeq
      const upTo = channel.lastSeq
      const hole = this.#firstHole(collected, from, upTo, replaying)
      if (hole === undefined) return this.#join(socket, channel, collected, from, upTo, first.epoch, truncated)
      if (reads >= MAX_CATCH_UP_READS) {
        return this.#join(socket, channel, collected, from, upTo, first.epoch, true)
      }
      const more = await this.store.read(channel.workflowId, { afterSeq: hole, limit: REPLAY_PAGE })
      more.events.forEach(keep)
      if (more.events.length === 0) {
        // The store holds nothing past the hole any more: those events were evicted.
        truncated ||= replaying
        return this.#join(socket, channel, collected, from, upTo, first.epoch, truncated)
      }
    }
  }

  /**
   * The seq after which the first missing event of `(from, upTo]` lies, or `undefined` when the
   * collected events cover it. For a replaying subscriber, a missing head is what the store
   * already evicted (and reported as `truncated`), so it is not a hole.
   */
  #firstHole(collected: Map<number, RecordedAgentEvent>, from: number, upTo: number, replaying: boolean): number | undefined {
    let seq = from + 1
    if (replaying && collected.size > 0) seq = Math.max(seq, Math.min(...collected.keys()))
    for (; seq <= upTo; seq++) if (!collected.has(seq)) return seq - 1
    return undefined
  }

  /** Send the caught-up events and join the room, in one tick, so the live stream follows seamlessly. */
  #join(
    socket: Socket,
    channel: WorkflowChannel,
    collected: Map<number, RecordedAgentEvent>,
    from: number,
    upTo: number,
    epoch: string,
    truncated: boolean,
  ): SubscribeOutcome {
    let replayed = 0
    for (let seq = from + 1; seq <= upTo; seq++) {
      const event = collected.get(seq)
      if (event === undefined) continue
      socket.emit(WIRE_EVENT_NAMES[event.type], event)
      replayed++
    }
    socket.join(channel.room)
    return { epoch, lastSeq: upTo, replayed, truncated }
  }

  /** Stop delivering a workflow to a socket (an unfinished subscription is cancelled). */
  unsubscribe(socket: Socket, workflowId: string): void {
    const channel = this.#channels.get(workflowId)
    if (channel === undefined) return
    channel.catchingUp.delete(socket.id)
    socket.leave(channel.room)
    this.#dropIfIdle(channel)
  }

  /** After a socket left (rooms are left by Socket.IO itself), forget channels nobody follows. */
  forget(workflowIds: Iterable<string>): void {
    for (const workflowId of workflowIds) {
      const channel = this.#channels.get(workflowId)
      if (channel !== undefined) this.#dropIfIdle(channel)
    }
  }

  #channel(workflowId: string): WorkflowChannel {
    let channel = this.#channels.get(workflowId)
    if (channel === undefined) {
      channel = new WorkflowChannel(workflowId)
      this.#channels.set(workflowId, channel)
    }
    return channel
  }

  #dropIfIdle(channel: WorkflowChannel): void {
    const members = this.namespace.adapter.rooms.get(channel.room)?.size ?? 0
    if (members > 0 || channel.catchingUp.size > 0) return
    if (channel.gapTimer !== undefined) clearTimeout(channel.gapTimer)
    this.#channels.delete(channel.workflowId)
  }

  /** Number of workflows followed on this node (for tests and metrics). */
  get size(): number {
    return this.#channels.size
  }

  close(): void {
    for (const channel of this.#channels.values()) {
      if (channel.gapTimer !== undefined) clearTimeout(channel.gapTimer)
    }
    this.#channels.clear()
  }
}
