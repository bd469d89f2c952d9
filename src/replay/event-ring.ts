import type { RecordedAgentEvent } from '../schemas/index.ts'

interface Entry {
  event: RecordedAgentEvent
  recordedAt: number
}

/**
 * The retained tail of one workflow's events: a circular buffer that grows up to its capacity
 * (most workflows never fill it, so nothing is preallocated) and then drops the oldest entry in O(1).
 */
export class EventRing {
  #entries: (Entry | undefined)[] = []
  #head = 0
  #size = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size
  }

  /** `seq` of the oldest retained event, or `undefined` when empty. */
  get firstSeq(): number | undefined {
    return this.#size === 0 ? undefined : this.#entries[this.#head]?.event.seq
  }

  push(event: RecordedAgentEvent, recordedAt: number): void {
    if (this.capacity === 0) return
    const entry = { event, recordedAt }
    if (this.#size === this.#entries.length && this.#entries.length < this.capacity) {
      // Full at its current length but below capacity: straighten it if it wrapped, then grow.
      if (this.#head !== 0) {
        this.#entries = [...this.#entries.slice(this.#head), ...this.#entries.slice(0, this.#head)]
        this.#head = 0
      }
      this.#entries.push(entry)
      this.#size++
      return
    }
    // A free slot at the tail (entries aged out), or at capacity: overwrite the oldest.
    const tail = (this.#head + this.#size) % this.#entries.length
    this.#entries[tail] = entry
    if (this.#size < this.#entries.length) this.#size++
    else this.#head = (this.#head + 1) % this.#entries.length
  }

  /** Drop entries recorded before `cutoff` (they are in age order). */
  dropOlderThan(cutoff: number): void {
    while (this.#size > 0) {
      const oldest = this.#entries[this.#head]
      if (oldest === undefined || oldest.recordedAt >= cutoff) return
      this.#entries[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#entries.length
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
      const entry = this.#entries[(this.#head + skip + i) % this.#entries.length]
      if (entry !== undefined) out.push(entry.event)
    }
    return out
  }
}
