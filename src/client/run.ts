import type { AgentEvent, SubscribeAck, SubscribeRequest } from '../schemas/index.ts'
import type { AgentEventsClientError } from './errors.ts'
import { EventQueue } from './event-queue.ts'
import { applyToMessages } from './messages.ts'
import { callApp } from './report-error.ts'
import { readPosition, writePosition } from './storage.ts'
import type { FollowOptions, PositionStorage, RunEvents, RunStatus, StreamedMessage, WorkflowRun } from './types.ts'

type SubscribeOk = Extract<SubscribeAck, { ok: true }>

/**
 * One followed workflow: where its delivery stands (`lastSeq`, `epoch`), the events that arrive
 * while a subscribe waits for its answer, and the hand-out of each event exactly once.
 */
export class Run implements WorkflowRun {
  lastSeq: number
  epoch: string | undefined
  status: RunStatus = 'subscribing'
  readonly messages = new Map<string, StreamedMessage>()
  /** Events dropped because their `seq` was already handed out (a replay overlapping what came live). */
  duplicates = 0
  /** The subscribe waiting for its answer; an answer to any other one is stale and ignored. */
  #request: SubscribeRequest | undefined
  /** Events that came while `#request` waits: the replay. They are handed out once the answer tells whether a reset comes first. */
  #arrived: AgentEvent[] = []
  #queue: EventQueue<AgentEvent> | undefined
  readonly #statusListeners = new Set<RunEvents['status']>()

  constructor(
    readonly workflowId: string,
    private readonly options: FollowOptions,
    private readonly storage: PositionStorage | undefined,
    private readonly onClose: (run: Run) => void,
  ) {
    const position = readPosition(storage, workflowId)
    this.lastSeq = position.lastSeq
    this.epoch = position.epoch
  }

  get final(): boolean {
    return this.status === 'forbidden' || this.status === 'closed'
  }

  /** A subscribe (for this run, and for any other run of the workflow) was sent: events now wait for its answer. */
  waitFor(request: SubscribeRequest): void {
    this.#setStatus('subscribing')
    this.#arrived = []
    this.#request = request
  }

  isWaitingFor(request: SubscribeRequest): boolean {
    return this.#request === request && !this.final
  }

  /** The connection is gone: whatever was on its way will come again with the next subscribe. */
  disconnected(): void {
    this.#request = undefined
    if (!this.final) this.#setStatus('subscribing')
  }

  receive(event: AgentEvent): void {
    if (this.final) return
    // Direct events (to one socket or one user) have no `seq`: nothing to order them by, nothing replays them.
    if (this.#request && event.seq !== undefined) this.#arrived.push(event)
    else this.#handOut(event)
  }

  accepted(ack: SubscribeOk): void {
    const afterSeq = this.#request?.afterSeq ?? 0
    this.#request = undefined
    // In `seq` order: live events of a subscription being replaced (another run joined) may come
    // before the replay of the new one.
    const arrived = this.#arrived.splice(0).sort((a, b) => (a.seq as number) - (b.seq as number))
    const epochChanged = this.epoch !== undefined && ack.epoch !== this.epoch
    // `truncated` speaks of the subscribe's position. A run ahead of it (another run of the
    // workflow asked from further back) lost nothing where the replay reaches back to its own.
    const truncated = ack.truncated && (this.lastSeq <= afterSeq || !arrived.some((event) => (event.seq ?? Infinity) <= this.lastSeq + 1))
    // A reset only matters when something was handed out; a first subscribe simply starts from the buffer.
    if (this.lastSeq > 0 && (truncated || epochChanged)) {
      this.lastSeq = 0
      this.messages.clear()
      callApp(this.options.onReset, { reason: epochChanged ? 'epoch' : 'truncated' })
    }
    this.epoch = ack.epoch
    this.#save()
    // Told even when nothing arrived (a resume with nothing missed): then no event would say it.
    this.#setStatus('live')
    for (const event of arrived) this.#handOut(event)
  }

  /** Refused for good: report once, never subscribe again. */
  refused(error: AgentEventsClientError): void {
    this.#end(error.code === 'FORBIDDEN' ? 'forbidden' : 'closed', error)
  }

  close(): void {
    this.#end('closed')
  }

  on<Name extends keyof RunEvents>(_name: Name, listener: RunEvents[Name]): () => void {
    this.#statusListeners.add(listener)
    return () => void this.#statusListeners.delete(listener)
  }

  [Symbol.asyncIterator](): AsyncIterator<AgentEvent> {
    if (!this.#queue) {
      this.#queue = new EventQueue(() => this.close())
      if (this.final) this.#queue.end()
    }
    return this.#queue
  }

  /**
   * The stored position is forgotten: what the app showed of this run goes with it, so following
   * the workflow again starts from the buffer. Only a page that goes away without closing (a
   * reload) resumes from it.
   */
  #end(status: RunStatus, error?: AgentEventsClientError): void {
    if (this.final) return
    this.status = status
    this.#request = undefined
    this.#arrived = []
    writePosition(this.storage, this.workflowId, undefined)
    this.#queue?.end(error)
    this.onClose(this)
    // The refusal first, so that whoever hears of the final status can already know why.
    if (error) callApp(this.options.onError, error)
    this.#tellStatus()
  }

  #setStatus(status: RunStatus): void {
    if (this.status === status) return
    this.status = status
    this.#tellStatus()
  }

  #tellStatus(): void {
    const status = this.status
    for (const listener of [this.options.onStatus, ...this.#statusListeners]) {
      // A listener changed the status again (closed the run): the newer status has been told, this one is over.
      if (this.status !== status) return
      callApp(listener, status)
    }
  }

  #handOut(event: AgentEvent): void {
    // onEvent or onReset may have closed the run while a replay was being handed out.
    if (this.final) return
    if (event.seq !== undefined) {
      if (event.seq <= this.lastSeq) {
        this.duplicates++
        return
      }
      this.lastSeq = event.seq
      this.#save()
    }
    applyToMessages(this.messages, event)
    callApp(this.options.onEvent, event)
    this.#queue?.push(event)
  }

  #save(): void {
    writePosition(this.storage, this.workflowId, this.epoch ? { lastSeq: this.lastSeq, epoch: this.epoch } : { lastSeq: this.lastSeq })
  }
}
