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
/** Past epochs remembered per workflow, so that a late event of an abandoned life is ignored. */
const RETIRED_EPOCHS_KEPT = 8

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

/** The workflow's buffer started a new life while the subscription was being served: try again. */
export class EpochChangedDuringSubscribe extends Error {}

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
  /** The life of the buffer that `lastSeq` counts in; tracked only for stores shared by several nodes. */
  epoch: string | undefined
  /** Lives already left behind: their events arrive late (another node, another connection) and are dropped. */
  readonly retiredEpochs = new Set<string>()

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
    /**
     * The store is shared by several nodes and may start a new epoch under live subscribers (a
     * flushed or restarted Redis): check the epoch of every read and of every delivered event.
     */
    private readonly tracksEpochs = false,
  ) {}

  /** Hand one recorded event to this node's subscribers of its workflow; `epoch` where the store tells it. */
  deliver(event: RecordedAgentEvent, epoch?: string): void {
    const channel = this.#channels.get(event.workflowId)
    if (channel === undefined) return
    if (epoch !== undefined && !this.#adoptEpoch(channel, epoch)) return
    if (epoch === undefined && event.seq === 1 && channel.lastSeq !== undefined && channel.lastSeq >= 1) {
      // A store that does not name epochs here (this process's own) forgot the workflow (age or
      // eviction) while it was followed, and numbering started again: a new life.
      this.#restart(channel)
    }
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
    // A channel dropped meanwhile (nobody follows it any more) needs no repair.
    if (channel.gapTimer !== undefined || this.#channels.get(channel.workflowId) !== channel) return
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
      if (this.tracksEpochs) {
        const before = channel.epoch
        // A read older than the channel's epoch: try again later. A newer one: the channel restarted, nothing to repair.
        if (!this.#adoptEpoch(channel, range.epoch)) return this.#scheduleGapRepair(channel)
        if (channel.epoch !== before) return
      }
      for (const event of range.events) this.deliver(event)
    } catch (error) {
      this.log.warn({ err: error, workflowId: channel.workflowId }, 'could not repair a gap in the event stream')
      // The store holds the missing events but cannot answer now (Redis down): try again rather
      // than skip them. Nothing new is recorded meanwhile, so the held events do not pile up.
      return this.#scheduleGapRepair(channel)
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
   * Read every followed workflow from the store again, after this node may have missed events
   * (its link to the other nodes was down). This also finds a store that came back empty: the new
   * epoch then closes the followers' connections, without waiting for the next event.
   */
  resync(): void {
    for (const channel of this.#channels.values()) {
      if (channel.lastSeq !== undefined) void this.#repairGap(channel)
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
    if (this.tracksEpochs && !this.#adoptEpoch(channel, first.epoch, socket)) throw new EpochChangedDuringSubscribe()
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
      this.#assertSameEpoch(whole.epoch, first.epoch)
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
      this.#assertSameEpoch(more.epoch, first.epoch)
      more.events.forEach(keep)
      if (more.events.length === 0) {
        // The store holds nothing past the hole any more: those events were evicted.
        truncated ||= replaying
        return this.#join(socket, channel, collected, from, upTo, first.epoch, truncated)
      }
    }
  }

  #assertSameEpoch(epoch: string, expected: string): void {
    if (this.tracksEpochs && epoch !== expected) throw new EpochChangedDuringSubscribe()
  }

  /**
   * Check that `epoch` is the channel's current life, or make it so (a new epoch restarts the
   * channel). Returns `false` for an epoch already left behind.
   */
  #adoptEpoch(channel: WorkflowChannel, epoch: string, keep?: Socket): boolean {
    if (channel.epoch === epoch) return true
    if (channel.retiredEpochs.has(epoch)) return false
    const previous = channel.epoch
    channel.epoch = epoch
    if (previous === undefined) return true
    channel.retiredEpochs.add(previous)
    if (channel.retiredEpochs.size > RETIRED_EPOCHS_KEPT) {
      const oldest = channel.retiredEpochs.values().next().value
      if (oldest !== undefined) channel.retiredEpochs.delete(oldest)
    }
    this.#restart(channel, keep)
    return true
  }

  /**
   * Start the channel's stream again at seq 1. Its followers counted in the old life, so their
   * connections are closed (except `keep`, a subscriber that already read the new life): their
   * clients reconnect, subscribe again with the old epoch and are told `truncated: true`, the
   * protocol's way of saying "reload". No client ever sees `seq` go back.
   */
  #restart(channel: WorkflowChannel, keep?: Socket): void {
    channel.lastSeq = undefined
    channel.ahead.clear()
    if (channel.gapTimer !== undefined) clearTimeout(channel.gapTimer)
    channel.gapTimer = undefined
    const followers = new Set([...(this.namespace.adapter.rooms.get(channel.room) ?? []), ...channel.catchingUp.keys()])
    if (keep !== undefined) followers.delete(keep.id)
    this.log.warn({ workflowId: channel.workflowId, followers: followers.size }, 'workflow buffer started a new epoch: reconnecting its followers')
    for (const socketId of followers) {
      channel.catchingUp.delete(socketId)
      const follower = this.namespace.sockets.get(socketId)
      if (follower === undefined) continue
      // Leave now, so that no event of the new life reaches it; closing the transport (not
      // `disconnect()`) lets socket.io-client reconnect by itself.
      void follower.leave(channel.room)
      follower.conn.close()
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

  close(): void {
    for (const channel of this.#channels.values()) {
      if (channel.gapTimer !== undefined) clearTimeout(channel.gapTimer)
    }
    this.#channels.clear()
  }
}
