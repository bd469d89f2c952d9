import type { RecordedAgentEvent } from '../schemas/index.ts'

/**
 * Live events that a workflow's stream forwarded to a reader not ready for them yet (a socket's
 * catch-up reading the store, an `events()` reader whose consumer has not asked), kept up to a
 * limit. Past it, all of them are let go and the reader reads the store again, so a reader that
 * falls behind never makes the server hold more than `limit` events for it.
 */
export class LiveBacklog {
  #events: RecordedAgentEvent[] = []
  /** Events were let go: only a read of the store can say what came since the cursor. */
  #overflowed = false

  constructor(private readonly limit: number) {}

  add(event: RecordedAgentEvent): void {
    if (this.#overflowed) return
    if (this.#events.length < this.limit) this.#events.push(event)
    else {
      this.#overflowed = true
      this.#events = []
    }
  }

  /** The first event kept after `cursor`, or `undefined` when there is none or some were let go. */
  firstAfter(cursor: number): RecordedAgentEvent | undefined {
    return this.#overflowed ? undefined : this.#events.find((event) => event.seq > cursor)
  }

  /**
   * The events kept that follow `cursor` without a hole (the backlog is emptied), or `undefined`
   * when the store must be read. After events were let go, collecting starts again from now: the
   * read that follows covers everything forwarded before.
   */
  take(cursor: number): RecordedAgentEvent[] | undefined {
    if (this.#overflowed) {
      this.clear()
      return undefined
    }
    const start = this.#events.findIndex((event) => event.seq > cursor)
    if (start === -1) {
      this.#events = []
      return undefined
    }
    if ((this.#events[start] as RecordedAgentEvent).seq !== cursor + 1) return undefined
    const page = this.#events.slice(start)
    this.#events = []
    return page
  }

  clear(): void {
    this.#events = []
    this.#overflowed = false
  }
}
