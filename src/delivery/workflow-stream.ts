import type { FastifyBaseLogger } from 'fastify'
import type { BroadcastOperator, DefaultEventsMap, Namespace } from 'socket.io'
import type { ReplayStore } from '../replay/replay-store.ts'
import { workflowRoom } from '../rooms.ts'
import { WIRE_EVENT_NAMES, type RecordedAgentEvent } from '../schemas/index.ts'

/** Events read from the store per request to repair a hole. */
const REPAIR_PAGE = 1000
/** How long an event that arrived ahead of its predecessor waits before the hole is repaired from the store. */
export const GAP_REPAIR_DELAY_MS = 250
/** Events held while their predecessor is missing; past this, the hole is repaired at once. */
const MAX_AHEAD = 1000
/** Past epochs remembered per workflow, so that a late event of an abandoned life is ignored. */
const RETIRED_EPOCHS_KEPT = 8

/** What every stream of one plugin instance shares. */
export interface StreamContext {
  namespace: Namespace
  store: ReplayStore
  log: FastifyBaseLogger
}

/** Hears each event that a stream forwards to its room: a subscriber still catching up. */
export interface StreamListener {
  /** The socket that listens, so that a restart of the stream can reconnect it. */
  readonly socketId: string
  onForward(event: RecordedAgentEvent): void
  /** The stream started a new epoch: the listener's subscription is void. */
  onRestart(): void
}

/**
 * One workflow's ordered stream on this node: the single place where an event is ordered. Every
 * recorded event of the workflow enters through `receive` (from the store's watch, or from a read
 * that repairs a hole) and leaves through `#forward`, to the workflow's room, strictly in `seq`
 * order and once each, within one epoch.
 */
export class WorkflowStream {
  readonly room: string
  /**
   * `namespace.local.to(room)`, built on the first event and kept: Socket.IO's operators are
   * immutable, and building one per event costs three operators and three Sets. Not built for a
   * workflow that never gets an event, so idle subscriptions cost no memory for it.
   */
  #toRoom: BroadcastOperator<DefaultEventsMap, unknown> | undefined
  /** Highest `seq` forwarded to the room; `undefined` until the first event or read fixes it. */
  #lastSeq: number | undefined
  /** The life of the workflow's buffer that `lastSeq` counts in. */
  #epoch: string | undefined
  // The collections below are made when first needed: most streams never use them, and a stream
  // exists for every workflow that somebody on this node follows.
  /** Lives already left behind: their events can still arrive late (another node) and are dropped. */
  #retiredEpochs: Set<string> | undefined
  /** Events that arrived before their predecessor, by `seq`. */
  #ahead: Map<number, RecordedAgentEvent> | undefined
  /** Subscribers catching up; dropped when the last one has joined the room. */
  #listeners: Set<StreamListener> | undefined
  #gapTimer: NodeJS.Timeout | undefined
  #repairing: Promise<void> | undefined
  #closed = false

  constructor(
    readonly workflowId: string,
    private readonly context: StreamContext,
  ) {
    this.room = workflowRoom(workflowId)
  }

  get lastSeq(): number | undefined {
    return this.#lastSeq
  }

  get epoch(): string | undefined {
    return this.#epoch
  }

  /** Sockets in the room on this node, plus subscribers catching up. */
  get followerCount(): number {
    return (this.context.namespace.adapter.rooms.get(this.room)?.size ?? 0) + (this.#listeners?.size ?? 0)
  }

  listen(listener: StreamListener): void {
    ;(this.#listeners ??= new Set()).add(listener)
  }

  unlisten(listener: StreamListener): void {
    this.#listeners?.delete(listener)
    if (this.#listeners?.size === 0) this.#listeners = undefined
  }

  /** One recorded event of this workflow and the epoch it belongs to. */
  receive(event: RecordedAgentEvent, epoch: string): void {
    if (this.#closed || !this.adoptEpoch(epoch)) return
    if (this.#lastSeq === undefined) this.#lastSeq = event.seq - 1
    if (event.seq <= this.#lastSeq) return
    if (event.seq > this.#lastSeq + 1) return this.#holdAhead(event)
    this.#forward(event)
    this.#drainAhead()
  }

  /**
   * Take what a read of the store says: its epoch, and where the stream stands when nothing has
   * fixed that yet. Returns `false` when the read belongs to an epoch already left behind.
   */
  adoptRead(epoch: string, lastSeq: number, keep?: string): boolean {
    if (!this.adoptEpoch(epoch, keep)) return false
    this.#lastSeq ??= lastSeq
    return true
  }

  /**
   * Check that `epoch` is the stream's current life, or make it so: a new epoch restarts the
   * stream. Returns `false` for an epoch already left behind.
   */
  adoptEpoch(epoch: string, keep?: string): boolean {
    if (this.#epoch === epoch) return true
    if (this.#retiredEpochs?.has(epoch) === true) return false
    const previous = this.#epoch
    this.#epoch = epoch
    if (previous === undefined) return true
    const retired = (this.#retiredEpochs ??= new Set())
    retired.add(previous)
    if (retired.size > RETIRED_EPOCHS_KEPT) {
      const oldest = retired.values().next().value
      if (oldest !== undefined) retired.delete(oldest)
    }
    this.#restart(keep)
    return true
  }

  #forward(event: RecordedAgentEvent): void {
    this.#lastSeq = event.seq
    // `local`: with a cluster adapter each node delivers to its own sockets; one encoding per event.
    this.#toRoom ??= this.context.namespace.local.to(this.room)
    this.#toRoom.emit(WIRE_EVENT_NAMES[event.type], event)
    if (this.#listeners !== undefined) for (const listener of this.#listeners) listener.onForward(event)
  }

  #holdAhead(event: RecordedAgentEvent): void {
    const ahead = (this.#ahead ??= new Map())
    ahead.set(event.seq, event)
    // A hole that keeps growing is not a reordering: repair it now rather than hold more.
    if (ahead.size >= MAX_AHEAD) return void this.repair()
    this.#scheduleRepair()
  }

  #drainAhead(): void {
    const ahead = this.#ahead
    if (ahead === undefined) return
    let next: RecordedAgentEvent | undefined
    while (this.#lastSeq !== undefined && (next = ahead.get(this.#lastSeq + 1)) !== undefined) {
      ahead.delete(next.seq)
      this.#forward(next)
    }
    if (ahead.size > 0) return
    this.#ahead = undefined
    clearTimeout(this.#gapTimer)
    this.#gapTimer = undefined
  }

  #scheduleRepair(): void {
    if (this.#gapTimer !== undefined || this.#closed) return
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined
      void this.repair()
    }, GAP_REPAIR_DELAY_MS)
    this.#gapTimer.unref()
  }

  /**
   * Read what follows `lastSeq` from the store and forward it: fills a hole, and catches the
   * stream up after this node missed events (its link to the other nodes was down). A new epoch
   * found this way restarts the stream without waiting for its next event. What the store no
   * longer holds is skipped, so the stream never stalls. One repair runs at a time.
   */
  repair(): Promise<void> {
    this.#repairing ??= this.#repair().finally(() => {
      this.#repairing = undefined
    })
    return this.#repairing
  }

  async #repair(): Promise<void> {
    const from = this.#lastSeq ?? 0
    try {
      const range = await this.context.store.read(this.workflowId, { afterSeq: from, limit: REPAIR_PAGE })
      if (this.#closed) return
      const before = this.#epoch
      // A read of an epoch left behind: try again later. Of a newer one: the stream restarted, nothing to repair.
      if (!this.adoptEpoch(range.epoch)) return this.#scheduleRepair()
      if (this.#epoch !== before) return
      for (const event of range.events) this.receive(event, range.epoch)
      if (range.events.length === REPAIR_PAGE) return await this.#repair()
    } catch (error) {
      this.context.log.warn({ err: error, workflowId: this.workflowId }, 'could not repair a gap in the event stream')
      // The store holds the missing events but cannot answer now (Redis down): try again rather
      // than skip them. Nothing new is recorded meanwhile, so the held events do not pile up.
      return this.#scheduleRepair()
    }
    const ahead = this.#ahead
    if (ahead === undefined) return
    if (this.#lastSeq === from) {
      const lowest = Math.min(...ahead.keys())
      this.context.log.warn({ workflowId: this.workflowId, missing: lowest - from - 1 }, 'skipping events lost before delivery')
      this.#lastSeq = lowest - 1
      this.#drainAhead()
    } else {
      this.#scheduleRepair()
    }
  }

  /**
   * Start the stream again at seq 1. Its followers counted in the old life, so their connections
   * are closed (except `keep`, a subscriber that already read the new life): their clients
   * reconnect, subscribe again with the old epoch and are told `truncated: true`, the protocol's
   * way of saying "reload". No client ever sees `seq` go back.
   */
  #restart(keep?: string): void {
    this.#lastSeq = undefined
    this.#ahead = undefined
    clearTimeout(this.#gapTimer)
    this.#gapTimer = undefined
    const { namespace, log } = this.context
    const followers = new Set(namespace.adapter.rooms.get(this.room) ?? [])
    for (const listener of [...(this.#listeners ?? [])]) {
      if (listener.socketId === keep) continue
      followers.add(listener.socketId)
      this.unlisten(listener)
      listener.onRestart()
    }
    if (keep !== undefined) followers.delete(keep)
    log.warn({ workflowId: this.workflowId, followers: followers.size }, 'workflow buffer started a new epoch: reconnecting its followers')
    for (const socketId of followers) {
      const follower = namespace.sockets.get(socketId)
      if (follower === undefined) continue
      // Leave now, so that no event of the new life reaches it; closing the transport (not
      // `disconnect()`) lets socket.io-client reconnect by itself.
      void follower.leave(this.room)
      follower.conn.close()
    }
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#gapTimer)
    this.#gapTimer = undefined
    this.#ahead = undefined
    this.#listeners = undefined
  }
}
