import type { AgentEvent, RecordedAgentEvent } from '../schemas/index.ts'

/** An event as built by an emitter, before the store gives it `seq` and `id`. */
export type UnrecordedAgentEvent = Omit<AgentEvent, 'seq' | 'id'>

export interface ReplayReadOptions {
  /** Return events whose `seq` is greater than this; 0 reads from the start. */
  afterSeq: number
  /** At most this many events, the oldest first. */
  limit: number
}

export interface ReplayRange {
  /** Events with `seq > afterSeq` still held, ascending and contiguous, at most `limit`. */
  events: RecordedAgentEvent[]
  /** Highest `seq` assigned in this epoch; 0 when the workflow has no recorded event. */
  lastSeq: number
  /** Names the current life of the workflow's buffer; a new life restarts `seq` at 1. */
  epoch: string
  /** Some events with `seq > afterSeq` have already left the buffer (age, size or eviction). */
  truncated: boolean
}

/** Hears the events recorded through a store: this process's own appends and, for a shared store, every other process's. */
export interface RecordedEventWatcher {
  /** One recorded event and the epoch it belongs to; one workflow's events arrive in `seq` order per source. */
  onEvent(event: RecordedAgentEvent, epoch: string): void
  /** The store's link to its peers failed (it keeps retrying by itself). */
  onError(error: Error): void
  /** The link came back after a break: events recorded meanwhile were not heard, read them from the store. */
  onReconnect?(): void
}

/**
 * Where recorded events get their per-workflow `seq` and wait to be replayed.
 *
 * The plugin calls `append` once per workflow event and relies on two properties:
 * `seq` is assigned atomically (1, 2, 3… per workflow and epoch, never reused within an epoch)
 * and appends made one after another by one process resolve in that order.
 * A store passed in by the application is never closed by the plugin; one it created is.
 *
 * @example
 * const store = memoryReplayStore({ maxEvents: 500, ttl: '30 minutes' })
 * await app.register(agentEvents, { replay: { store } })
 */
export interface ReplayStore {
  /** Record one event: resolves with the event as stored, with its `seq` and a unique `id`. */
  append(event: UnrecordedAgentEvent): Promise<RecordedAgentEvent>
  /** Read the events of a workflow after a `seq`, with the facts a subscriber needs. */
  read(workflowId: string, options: ReplayReadOptions): Promise<ReplayRange>
  /**
   * `watcher` hears every event recorded through the store, with its epoch: each of this process's
   * appends (before its `append` resolves) and, for a store that several processes (nodes) share,
   * every other process's. This is the plugin's only way to deliver recorded events, whatever the
   * store. Call the returned function to stop watching.
   */
  watch(watcher: RecordedEventWatcher): () => Promise<void>
  /** Release timers and connections that the store itself opened. */
  close(): Promise<void>
}

/**
 * Hand one recorded event to every watcher of a store; a watcher that throws is told through its
 * `onError` and the others still hear the event. For store implementations.
 */
export function tellWatchers(watchers: Iterable<RecordedEventWatcher>, event: RecordedAgentEvent, epoch: string): void {
  for (const watcher of watchers) {
    try {
      watcher.onEvent(event, epoch)
    } catch (error) {
      watcher.onError(error as Error)
    }
  }
}
