import type { RecordedAgentEvent } from '../schemas/index.ts'

/**
 * The retained tail of one workflow's events: a fixed-capacity circular buffer, so that
 * appending to a full buffer drops the oldest entry in O(1). Events and their recording times
 * sit in parallel arrays that grow up to `capacity` as needed, so an append allocates no entry
 * object; both are made on the first push, so a workflow that is followed but has no event yet
 * costs only this object.
 */
export class EventRing {
  #events: (RecordedAgentEvent | undefined)[] | undefined
  #recordedAt: number[] | undefined
  #head = 0
  #size = 0

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#size
  }

  /** `seq` of the oldest retained event, or `undefined` when empty. */
  get firstSeq(): number | undefined {
    return this.#size === 0 ? undefined : this.#events?.[this.#head]?.seq
  }

  push(event: RecordedAgentEvent, recordedAt: number): void {
    if (this.capacity === 0) return
    const events = (this.#events ??= [])
    const times = (this.#recordedAt ??= [])
    const tail = (this.#head + this.#size) % this.capacity
    events[tail] = event
    times[tail] = recordedAt
    if (this.#size < this.capacity) this.#size++
    else this.#head = (this.#head + 1) % this.capacity
  }

  /** Drop entries recorded before `cutoff` (they are in age order). */
  dropOlderThan(cutoff: number): void {
    const events = this.#events
    const recordedAt = this.#recordedAt
    if (events === undefined || recordedAt === undefined) return
    while (this.#size > 0) {
      if ((recordedAt[this.#head] as number) >= cutoff) return
      events[this.#head] = undefined
      this.#head = (this.#head + 1) % this.capacity
      this.#size--
    }
  }

  /** Up to `limit` events with `seq > afterSeq`, oldest first. Seqs are contiguous, so no search. */
  after(afterSeq: number, limit: number): RecordedAgentEvent[] {
    const first = this.firstSeq
    const events = this.#events
    if (first === undefined || events === undefined) return []
    const skip = Math.max(0, afterSeq - first + 1)
    const count = Math.min(limit, this.#size - skip)
    const out: RecordedAgentEvent[] = []
    for (let i = 0; i < count; i++) {
      const event = events[(this.#head + skip + i) % this.capacity]
      if (event !== undefined) out.push(event)
    }
    return out
  }
}
