import type { AgentDeltaEvent, RecordedAgentEvent } from '../schemas/index.ts'
import { jsonTextBytes } from '../streaming/text-pieces.ts'
import type { ReplayStore } from './replay-store.ts'

/** Events read per request by the first pass. */
const SCAN_PAGE = 500

type RecordedDelta = AgentDeltaEvent & { seq: number; id: string }

/** What the first pass over a range found out about one streamed message. */
interface MessageInRange {
  /** Its final `thought` or `result` (the one that carries the whole text) is in the range. */
  ended: boolean
  /** `seq` of its last delta in the range. */
  lastDeltaSeq: number
  /** Deltas after which a merged delta must go out, so that none outgrows `maxEventBytes`. */
  cuts: Set<number> | undefined
  /** Bytes of the merged delta's envelope (all but the text), with room for the longest `seq`. */
  envelopeBytes: number
  /** Text bytes merged since the last cut, during the first pass. */
  scannedBytes: number
}

/** The `thought` or `result` that carries a streamed message's whole text names it by `messageId`. */
function messageEndedBy(event: RecordedAgentEvent): string | undefined {
  if (event.type !== 'thought' && event.type !== 'result') return undefined
  const messageId = (event.data as { messageId?: unknown }).messageId
  return typeof messageId === 'string' ? messageId : undefined
}

/**
 * A compacted replay, in two passes over the same range of a workflow's buffer: `scan` every event
 * of the range first, then hand each event to `next`, in `seq` order, as it is sent.
 *
 * - The deltas of a message whose final `thought` or `result` is in the range are left out: that
 *   event carries the whole text.
 * - The deltas of any other message (still streaming, or ended by an `error`, which carries no
 *   text) are merged into one delta, sent in place of the last of them with its `seq`, `id` and
 *   timestamp, so that `seq` keeps rising whatever else the range holds. Where one merged delta
 *   would outgrow `maxEventBytes`, the first pass cuts the run into several, each sent in place of
 *   its own last delta.
 * - Everything else, and every event past the range (live ones), passes unchanged.
 *
 * Two passes, because a delta can be left out only once it is known that its message ends within
 * the range, and merged text can be sent only in the place of the last delta it merges.
 */
export class ReplayCompaction {
  readonly #messages = new Map<string, MessageInRange>()
  readonly #merging = new Map<string, { text: string; count: number }>()
  #compacted = 0

  /**
   * @param rangeEnd the last `seq` of the range: later events are live and pass unchanged.
   * @param maxEventBytes no merged delta grows past this.
   */
  constructor(
    readonly rangeEnd: number,
    private readonly maxEventBytes: number,
  ) {}

  /** Events left out, or merged into another, so far. */
  get compacted(): number {
    return this.#compacted
  }

  /** First pass: which messages end in the range, where each one's deltas must be merged. */
  scan(event: RecordedAgentEvent): void {
    if (event.seq > this.rangeEnd) return
    if (event.type !== 'delta') {
      const ended = messageEndedBy(event)
      if (ended !== undefined) this.#messageOf(ended, undefined).ended = true
      return
    }
    const message = this.#messageOf(event.data.messageId, event as RecordedDelta)
    const bytes = jsonTextBytes(event.data.text)
    if (message.scannedBytes > 0 && message.envelopeBytes + message.scannedBytes + bytes > this.maxEventBytes) {
      ;(message.cuts ??= new Set()).add(message.lastDeltaSeq)
      message.scannedBytes = 0
    }
    message.scannedBytes += bytes
    message.lastDeltaSeq = event.seq
  }

  /** Second pass: the event to send in place of `event`, or `undefined` to leave it out. */
  next(event: RecordedAgentEvent): RecordedAgentEvent | undefined {
    if (event.type !== 'delta' || event.seq > this.rangeEnd) return event
    const { messageId, text } = event.data
    const message = this.#messages.get(messageId)
    if (message === undefined) return event
    if (message.ended) {
      this.#compacted++
      return undefined
    }
    const merging = this.#merging.get(messageId)
    const cut = event.seq === message.lastDeltaSeq || message.cuts?.has(event.seq) === true
    if (!cut) {
      if (merging === undefined) this.#merging.set(messageId, { text, count: 1 })
      else {
        merging.text += text
        merging.count++
      }
      return undefined
    }
    if (merging === undefined) return event
    this.#merging.delete(messageId)
    this.#compacted += merging.count
    return { ...event, data: { ...event.data, text: merging.text + text } } as RecordedDelta
  }

  #messageOf(messageId: string, delta: RecordedDelta | undefined): MessageInRange {
    let message = this.#messages.get(messageId)
    if (message === undefined) {
      message = { ended: false, lastDeltaSeq: 0, cuts: undefined, envelopeBytes: 0, scannedBytes: 0 }
      this.#messages.set(messageId, message)
    }
    if (delta !== undefined && message.envelopeBytes === 0) {
      const longest = { ...delta, seq: Number.MAX_SAFE_INTEGER, data: { ...delta.data, text: '' } }
      message.envelopeBytes = Buffer.byteLength(JSON.stringify(longest))
    }
    return message
  }
}

/** The range to scan: `(afterSeq, lastSeq]` of one epoch, and its first page where it was read already. */
export interface CompactionRange {
  afterSeq: number
  lastSeq: number
  epoch: string
  firstPage?: readonly RecordedAgentEvent[] | undefined
}

/** The first pass of a compacted replay: read and scan the whole range. The second pass is the caller's. */
export async function planCompaction(
  store: ReplayStore,
  workflowId: string,
  range: CompactionRange,
  maxEventBytes: number,
): Promise<ReplayCompaction> {
  const compaction = new ReplayCompaction(range.lastSeq, maxEventBytes)
  let page = range.firstPage
  let cursor = range.afterSeq
  while (cursor < range.lastSeq) {
    if (page === undefined) {
      const next = await store.read(workflowId, { afterSeq: cursor, limit: SCAN_PAGE })
      // Evicted meanwhile, or a new life of the buffer: the second pass finds that out for itself.
      if (next.events.length === 0 || next.epoch !== range.epoch) break
      page = next.events
    }
    for (const event of page) {
      compaction.scan(event)
      cursor = event.seq
    }
    page = undefined
  }
  return compaction
}
