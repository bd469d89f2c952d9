import type { RecordedAgentEvent } from '../schemas/index.ts'

interface Entry {
  event: RecordedAgentEvent
  recordedAt: number
}

/**
 * The retained tail of one workflow's events: a fixed-capacity circular buffer, so that
 * appending to a full buffer drops the oldest entry in O(1) and never reallocates.
 */
export class EventRing {
  readonly #entries: (Entry | undefined)[]
  #head = 0
  #size = 0

  constructor(readonly capacity: number) {
    this.#entries = new Array<Entry | undefined>(capacity)
  }

  get size(): number {
    return this.#size
  }

  /** `seq` of the oldest retained event, or `undefined` when empty. */
  get firstSeq(): number | undefined {
    return this.#size === 0 ? undefined : this.#entries[this.#head]?.event.seq
  }

  push(event: RecordedAgentEvent, recordedAt: number): void {
    if (this.capacity === 0) return
    const tail = (this.#head + this.#size) % this.capacity
    this.#entries[tail] = { event, recordedAt }
    if (this.#size < this.capacity) this.#size++
    else this.#head = (this.#head + 1) % this.capacity
  }

  /** Drop entries recorded before `cutoff` (they are in age order). */
  dropOlderThan(cutoff: number): void {
    while (this.#size > 0) {
      const oldest = this.#entries[this.#head]
      if (oldest === undefined || oldest.recordedAt >= cutoff) return
      this.#entries[this.#head] = undefined
      this.#head = (this.#head + 1) % this.capacity
      this.#size--
    }
  }

  /** Up to `limit` events with `seq > afterSeq`, oldest first. Seqs are contiguous, so no search. */
  after(afterSeq: number, limit: number): RecordedAgentEvent[] {
    const first = this.firstSeq
    if (first === undefined) return []
    const skip = Math.max(0, afterSeq - first + 1)
    const count = Math.min(limit, this.#size - skip)
    const out: RecordedAgentEvent[] = []
    for (let i = 0; i < count; i++) {
      const entry = this.#entries[(this.#head + skip + i) % this.capacity]
      if (entry !== undefined) out.push(entry.event)
    }
    return out
  }
}
