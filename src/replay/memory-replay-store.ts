import { randomBytes } from 'node:crypto'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import { type Duration, durationToMs } from './duration.ts'
import { newEventId } from './event-id.ts'
import { EventRing } from './event-ring.ts'
import {
  tellWatchers,
  type RecordedEventWatcher,
  type ReplayRange,
  type ReplayReadOptions,
  type ReplayStore,
  type UnrecordedAgentEvent,
} from './replay-store.ts'

export interface MemoryReplayStoreOptions {
  /** Events kept per workflow; the oldest go first. 0 keeps none (sequence numbers only). Default 1000. */
  maxEvents?: number
  /** How long an event is kept, and how long an idle workflow is remembered. Default `'1 hour'`. */
  ttl?: Duration
  /** Workflows remembered at once; the least recently used go first. Default 10,000. */
  maxWorkflows?: number
}

export const MEMORY_STORE_DEFAULTS = Object.freeze({
  maxEvents: 1000,
  ttl: '1 hour',
  maxWorkflows: 10_000,
})

interface WorkflowBuffer {
  /** Which buffer of this store it is: its epoch is made from it when asked (see `epochOf`). */
  life: number
  /** `epochOf(this)`, made once the buffer has an event to tell watchers of. */
  epoch: string | undefined
  lastSeq: number
  /** On the store's clock (see `clock`). */
  lastWriteAt: number
  ring: EventRing
}

/** What the store holds right now, for tests and metrics. */
export interface MemoryReplayStoreStats {
  workflows: number
  events: number
}

export interface MemoryReplayStore extends ReplayStore {
  stats(): MemoryReplayStoreStats
}

/**
 * The default replay store: one process, bounded by events per workflow, by age and by number of
 * workflows (least recently used first). Its life is the process's: a restart is a new epoch.
 */
export function memoryReplayStore(options: MemoryReplayStoreOptions = {}): MemoryReplayStore {
  const maxEvents = options.maxEvents ?? MEMORY_STORE_DEFAULTS.maxEvents
  const maxWorkflows = options.maxWorkflows ?? MEMORY_STORE_DEFAULTS.maxWorkflows
  const ttlMs = durationToMs(options.ttl ?? MEMORY_STORE_DEFAULTS.ttl)
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 0) {
    throw new RangeError('memoryReplayStore: maxEvents must be an integer >= 0')
  }
  if (!Number.isSafeInteger(maxWorkflows) || maxWorkflows < 1) {
    throw new RangeError('memoryReplayStore: maxWorkflows must be an integer >= 1')
  }
  if (ttlMs === undefined) throw new RangeError('memoryReplayStore: ttl must be a positive duration')

  // Map iteration order is insertion order: re-inserting on use keeps the least recently used first.
  const buffers = new Map<string, WorkflowBuffer>()
  const storeEpoch = randomBytes(6).toString('base64url')
  // Every buffer this store creates gets its own epoch, so a workflow that is forgotten and later
  // used again starts a life that no client has seen before. The string is kept only once the
  // buffer has an event (reads make it afresh): a subscribed workflow with no event yet costs its
  // buffer and little more.
  let buffersCreated = 0
  const epochOf = (buffer: WorkflowBuffer): string => `${storeEpoch}.${buffer.life.toString(36)}`
  // Times are milliseconds since the store started: small integers, which V8 keeps inline in the
  // buffers and rings, where milliseconds since 1970 would each be a boxed number.
  const origin = Date.now()
  const clock = (): number => Date.now() - origin
  let closed = false
  const watchers = new Set<RecordedEventWatcher>()

  function forget(workflowId: string): void {
    buffers.delete(workflowId)
    if (mostRecent === workflowId) mostRecent = undefined
  }

  function isExpired(buffer: WorkflowBuffer, now: number): boolean {
    return now - buffer.lastWriteAt >= ttlMs!
  }

  let mostRecent: string | undefined
  function live(workflowId: string, now: number): WorkflowBuffer | undefined {
    const buffer = buffers.get(workflowId)
    if (buffer === undefined) return undefined
    if (isExpired(buffer, now)) {
      forget(workflowId)
      return undefined
    }
    buffer.ring.dropOlderThan(now - ttlMs!)
    // Re-inserting moves the workflow to the most recently used end; skip it when it is there.
    if (mostRecent !== workflowId) {
      buffers.delete(workflowId)
      buffers.set(workflowId, buffer)
      mostRecent = workflowId
    }
    return buffer
  }

  /**
   * The workflow's buffer, created when missing. Reading creates it too, so that the epoch a
   * subscriber is told before the first event is the one that event will belong to.
   */
  function bufferOf(workflowId: string, now: number): WorkflowBuffer {
    let buffer = live(workflowId, now)
    if (buffer !== undefined) return buffer
    buffer = { life: buffersCreated++, epoch: undefined, lastSeq: 0, lastWriteAt: now, ring: new EventRing(maxEvents) }
    buffers.set(workflowId, buffer)
    mostRecent = workflowId
    if (buffers.size > maxWorkflows) {
      const leastRecent = buffers.keys().next().value
      if (leastRecent !== undefined) forget(leastRecent)
    }
    return buffer
  }

  // Idle workflows are also swept on a timer, so memory is bounded even when nobody reads them.
  const sweepEveryMs = Math.min(ttlMs, 60_000)
  const sweeper = setInterval(() => {
    const now = clock()
    for (const [workflowId, buffer] of buffers) {
      if (isExpired(buffer, now)) forget(workflowId)
      else buffer.ring.dropOlderThan(now - ttlMs)
    }
  }, sweepEveryMs)
  sweeper.unref()

  return {
    async append(event: UnrecordedAgentEvent): Promise<RecordedAgentEvent> {
      if (closed) throw new Error('memoryReplayStore is closed')
      const now = clock()
      const buffer = bufferOf(event.workflowId, now)
      buffer.lastSeq++
      buffer.lastWriteAt = now
      // Built field by field rather than spread: one object of one fixed shape per event.
      const recorded = {
        type: event.type,
        workflowId: event.workflowId,
        data: event.data,
        timestamp: event.timestamp,
        seq: buffer.lastSeq,
        id: newEventId(),
      } as RecordedAgentEvent
      buffer.ring.push(recorded, now)
      // Watchers hear the event before append resolves, as they would from a shared store.
      tellWatchers(watchers, recorded, (buffer.epoch ??= epochOf(buffer)))
      return recorded
    },

    watch(watcher: RecordedEventWatcher): () => Promise<void> {
      if (closed) throw new Error('memoryReplayStore is closed')
      watchers.add(watcher)
      return async () => {
        watchers.delete(watcher)
      }
    },

    async read(workflowId: string, { afterSeq, limit }: ReplayReadOptions): Promise<ReplayRange> {
      const buffer = bufferOf(workflowId, clock())
      const firstHeld = buffer.ring.firstSeq ?? buffer.lastSeq + 1
      return {
        events: buffer.ring.after(afterSeq, limit),
        lastSeq: buffer.lastSeq,
        epoch: buffer.epoch ?? epochOf(buffer),
        truncated: afterSeq < buffer.lastSeq && afterSeq < firstHeld - 1,
      }
    },

    stats(): MemoryReplayStoreStats {
      let events = 0
      for (const buffer of buffers.values()) events += buffer.ring.size
      return { workflows: buffers.size, events }
    },

    async close(): Promise<void> {
      closed = true
      watchers.clear()
      clearInterval(sweeper)
      buffers.clear()
    },
  }
}
