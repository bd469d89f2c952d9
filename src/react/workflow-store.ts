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

export class WorkflowStore {
  readonly #client: AgentEventsClient
  readonly #workflowId: string
  readonly #listeners = new Set<() => void>()
  #view: WorkflowView = initialView('subscribing')
  #run: WorkflowRun | undefined
  /**
   * Which run the callbacks speak for: one closed since is no longer heard. A number rather than
   * the run itself, because `follow` may already call `onStatus` (a closed client gives a closed
   * run) before it has returned the run.
   */
  #generation = 0
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
    const generation = ++this.#generation
    this.#run = this.#client.follow(this.#workflowId, {
      onEvent: (event) => {
        if (generation !== this.#generation) return
        this.#pending.push(event)
        this.#queueRefresh()
      },
      onReset: (info) => {
        if (generation !== this.#generation) return
        this.#pending = []
        this.#cleared = true
        this.#reset = info
        this.#queueRefresh()
      },
      onError: (error) => {
        if (generation !== this.#generation) return
        this.#error = error
        this.#queueRefresh()
      },
      // Every change of status is told, a subscription that turns live with nothing to hand out included.
      onStatus: () => {
        if (generation === this.#generation) this.#queueRefresh()
      },
    })
    this.#refresh()
  }

  /** Close the run after the current task, unless someone subscribes again before that. */
  #stopSoon(): void {
    this.#closeQueued = true
    queueMicrotask(() => {
      if (!this.#closeQueued) return
      this.#closeQueued = false
      this.#generation++
      this.#run?.close()
      this.#run = undefined
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
    if ((Object.keys(next) as (keyof WorkflowView)[]).every((key) => next[key] === previous[key])) return
    this.#view = Object.freeze(next)
    for (const listener of this.#listeners) listener()
  }
}
