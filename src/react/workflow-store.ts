// What `useWorkflow` reads: one workflow followed through the client, kept as an immutable
// snapshot that React's `useSyncExternalStore` can compare by reference. No React here: the store
// is plain subscribe / getSnapshot.
import type { AgentEventsClient, AgentEventsClientError, ResetInfo, RunStatus, StreamedMessage, WorkflowRun } from '../client/index.ts'
import type { AgentEvent } from '../schemas/index.ts'

/** What `useWorkflow` returns. A new object whenever something in it changed, the same one otherwise. */
export interface WorkflowView {
  /**
   * The events that the run handed out since the component subscribed, in `seq` order, deltas
   * included. Emptied when the client reports a reset (the server's buffer's events follow).
   */
  readonly events: readonly AgentEvent[]
  /** Streamed messages by `messageId`: the run's `messages`, copied at each change. */
  readonly messages: ReadonlyMap<string, StreamedMessage>
  /** The run's status; `'closed'` while there is no workflow to follow. */
  readonly status: RunStatus
  /** The `seq` of the last event handed out; `0` before any. */
  readonly lastSeq: number
  /** Why the server refused the subscription, once `status` is `'forbidden'` or `'closed'` by a refusal. */
  readonly error: AgentEventsClientError | undefined
  /** The last reset the client reported (history lost, events restarted from the server's buffer). */
  readonly reset: ResetInfo | undefined
}

const NO_MESSAGES: ReadonlyMap<string, StreamedMessage> = new Map()

function initialView(status: RunStatus): WorkflowView {
  return Object.freeze({ events: Object.freeze([]), messages: NO_MESSAGES, status, lastSeq: 0, error: undefined, reset: undefined })
}

/** A view for no workflow at all (`useWorkflow(client, undefined)`). */
export const NO_WORKFLOW_VIEW: WorkflowView = initialView('closed')

/**
 * How often the status is read again while the run is subscribing. The client reports events,
 * resets and refusals, but not a subscription that turned live without handing out an event (a
 * resume with nothing missed); until it does, the status is looked at on this timer, and only
 * while it says `'subscribing'`.
 */
const SUBSCRIBING_POLL_MS = 100

export class WorkflowStore {
  readonly #client: AgentEventsClient
  readonly #workflowId: string
  readonly #listeners = new Set<() => void>()
  #view: WorkflowView = initialView('subscribing')
  #run: WorkflowRun | undefined
  #stopClientStatus: (() => void) | undefined
  #poll: ReturnType<typeof setInterval> | undefined
  /** Events handed out since the last snapshot, and whether a reset came first. */
  #pending: AgentEvent[] = []
  #cleared = false
  #error: AgentEventsClientError | undefined
  #reset: ResetInfo | undefined
  #refreshQueued = false
  #closeQueued = false

  constructor(client: AgentEventsClient, workflowId: string) {
    this.#client = client
    this.#workflowId = workflowId
  }

  readonly getSnapshot = (): WorkflowView => this.#view

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) this.#start()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#stopSoon()
    }
  }

  #start(): void {
    // React's StrictMode unsubscribes and subscribes again at once: the run that a queued close
    // was about to end goes on, instead of a second subscription replaying the same events.
    this.#closeQueued = false
    if (this.#run !== undefined) return
    this.#pending = []
    this.#cleared = true
    this.#error = undefined
    this.#reset = undefined
    const run = this.#client.follow(this.#workflowId, {
      onEvent: (event) => {
        if (run !== this.#run) return
        this.#pending.push(event)
        this.#queueRefresh()
      },
      onReset: (info) => {
        if (run !== this.#run) return
        this.#pending = []
        this.#cleared = true
        this.#reset = info
        this.#queueRefresh()
      },
      onError: (error) => {
        if (run !== this.#run) return
        this.#error = error
        this.#queueRefresh()
      },
    })
    this.#run = run
    this.#stopClientStatus = this.#client.on('status', () => this.#queueRefresh())
    this.#refresh()
  }

  /** Close the run after the current task, unless someone subscribes again before that. */
  #stopSoon(): void {
    this.#closeQueued = true
    queueMicrotask(() => {
      if (!this.#closeQueued) return
      this.#closeQueued = false
      this.#run?.close()
      this.#run = undefined
      this.#stopClientStatus?.()
      this.#stopClientStatus = undefined
      this.#setPoll(false)
    })
  }

  /** Events often come in bursts (a replay): one snapshot per burst, not one per event. */
  #queueRefresh(): void {
    if (this.#refreshQueued) return
    this.#refreshQueued = true
    queueMicrotask(() => {
      this.#refreshQueued = false
      this.#refresh()
    })
  }

  #refresh(): void {
    const run = this.#run
    if (run === undefined) return
    const previous = this.#view
    const events = this.#cleared || this.#pending.length > 0
      ? Object.freeze([...(this.#cleared ? [] : previous.events), ...this.#pending])
      : previous.events
    const messages = events === previous.events && !this.#cleared ? previous.messages : new Map(run.messages)
    this.#pending = []
    this.#cleared = false
    const next = { events, messages, status: run.status, lastSeq: run.lastSeq, error: this.#error, reset: this.#reset }
    this.#setPoll(next.status === 'subscribing')
    if ((Object.keys(next) as (keyof WorkflowView)[]).every((key) => next[key] === previous[key])) return
    this.#view = Object.freeze(next)
    for (const listener of this.#listeners) listener()
  }

  #setPoll(on: boolean): void {
    if (on && this.#poll === undefined) {
      this.#poll = setInterval(() => this.#refresh(), SUBSCRIBING_POLL_MS)
    } else if (!on && this.#poll !== undefined) {
      clearInterval(this.#poll)
      this.#poll = undefined
    }
  }
}
