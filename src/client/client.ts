import { io, type Socket } from 'socket.io-client'
import type { AgentEvent, ClientToServerEvents, ServerToClientEvents, SubscribeAck } from '../schemas/index.ts'
import { retryDelay } from './backoff.ts'
import { AgentEventsClientError } from './errors.ts'
import { callApp } from './report-error.ts'
import { Run } from './run.ts'
import { resolveStorage } from './storage.ts'
import { Timers } from './timers.ts'
import { TokenRefresh } from './token-refresh.ts'
import type {
  AgentEventsClient,
  AgentEventsClientOptions,
  ClientEvents,
  ClientStatus,
  FollowOptions,
  PositionStorage,
  WorkflowRun,
} from './types.ts'

/** A subscribe unanswered for this long means the connection is broken: reconnect. */
const ACK_TIMEOUT_MS = 10_000
/** Refusals that retrying cannot change. */
const FINAL_REFUSALS = new Set(['FORBIDDEN', 'TOO_MANY_SUBSCRIPTIONS', 'INVALID_REQUEST'])
const EVENT_NAMES = ['agent:thought', 'agent:tool_call', 'agent:result', 'agent:error', 'agent:delta'] as const
const WORKFLOW_ID = /^[A-Za-z0-9._:-]{1,128}$/

type AgentSocket = Socket<ServerToClientEvents, ClientToServerEvents>
type Refusal = { code: string; message: string; retryAfterMs?: number }

class Client implements AgentEventsClient {
  status: ClientStatus = 'connecting'
  readonly #socket: AgentSocket
  readonly #storage: PositionStorage | undefined
  readonly #token: AgentEventsClientOptions['token']
  readonly #runs = new Set<Run>()
  readonly #listeners: { [Name in keyof ClientEvents]: Set<ClientEvents[Name]> } = { status: new Set(), error: new Set() }
  readonly #timers = new Timers()
  /** Only a `token` function can give a newer token: a string is used as it is. */
  readonly #refresh: TokenRefresh | undefined
  /** The token of the last handshake. */
  #handshakeToken: string | undefined
  /** Reconnects in a row that did not get through: the back-off grows with them. */
  #failures = 0
  #closed = false

  constructor(url: string, options: AgentEventsClientOptions) {
    this.#storage = resolveStorage(options.storage ?? 'session')
    this.#token = options.token
    this.#socket = io(url, {
      // Each client owns its connection: a shared one would be cut by another client's close().
      forceNew: true,
      ...options.socket,
      path: options.path ?? '/socket.io',
      autoConnect: false,
      // Called at every connect and reconnect, so each handshake carries a fresh token.
      ...(options.token === undefined ? {} : { auth: (send: (data: object) => void) => void this.#freshToken().then((token) => send({ token }), () => send({})) }),
    })
    const socket = this.#socket
    if (typeof options.token === 'function') {
      this.#refresh = new TokenRefresh(socket, options.token, this.#timers, (error) => this.#emit('error', error))
    }
    socket.on('connect', () => this.#connected())
    socket.on('disconnect', () => this.#disconnected())
    socket.on('connect_error', (error) => this.#refused(error as Error & { data?: Refusal }))
    socket.io.on('reconnect_attempt', () => this.#setStatus('connecting'))
    for (const name of EVENT_NAMES) socket.on(name, (event: AgentEvent) => this.#route(event))
    socket.connect()
  }

  follow(workflowId: string, options: FollowOptions = {}): WorkflowRun {
    if (!WORKFLOW_ID.test(workflowId)) {
      throw new AgentEventsClientError('FST_AGENT_EVENTS_INVALID_WORKFLOW_ID', `workflowId must match ${WORKFLOW_ID.source}`)
    }
    const others = this.#runsOf(workflowId)
    // The stored position is the first run's: a second view of the same workflow wants all of
    // it, so it starts from the buffer, without storage.
    const run = new Run(workflowId, options, others.length === 0 ? this.#storage : undefined, (closed) => this.#forget(closed))
    if (this.#closed) run.close()
    else {
      this.#runs.add(run)
      // One subscription per workflow and connection: a run that joins one already made asks
      // for it again from the lowest position, each run dropping what it already had by `seq`.
      this.#subscribe(workflowId, others.length > 0)
    }
    return run
  }

  on<Name extends keyof ClientEvents>(name: Name, listener: ClientEvents[Name]): () => void {
    const listeners = this.#listeners[name] as Set<ClientEvents[Name]>
    listeners.add(listener)
    return () => void listeners.delete(listener)
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#timers.stop()
    for (const run of this.#runs) run.close()
    this.#socket.disconnect()
    this.#setStatus('offline')
  }

  async #freshToken(): Promise<string> {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token
    this.#handshakeToken = token
    return token as string
  }

  #connected(): void {
    this.#failures = 0
    this.#setStatus('online')
    this.#refresh?.start(this.#handshakeToken)
    for (const workflowId of new Set([...this.#runs].map((run) => run.workflowId))) this.#subscribe(workflowId)
  }

  #disconnected(): void {
    this.#refresh?.stop()
    for (const run of this.#runs) run.disconnected()
    if (this.#closed) return
    this.#setStatus('offline')
    // socket.io-client reconnects by itself after a network loss, not after the server let the
    // socket go (`io server disconnect`: shutdown, expired token) nor after our own disconnect.
    this.#reconnectLater(retryDelay(this.#failures++))
  }

  #refused(error: Error & { data?: Refusal }): void {
    const refusal = error.data
    if (refusal?.code) this.#emit('error', new AgentEventsClientError(refusal.code, error.message))
    this.#setStatus('offline')
    // A refusal by the server (bad token, rate limit) is not retried by socket.io-client; an
    // unreachable server is. Retry the refused handshake with a fresh token after a pause.
    this.#reconnectLater(refusal?.code === 'RATE_LIMITED' ? refusal.retryAfterMs ?? 0 : retryDelay(this.#failures++))
  }

  #reconnectLater(delay: number): void {
    if (this.#socket.active || this.#closed) return
    this.#timers.later(() => {
      if (this.#socket.active || this.#closed) return
      this.#setStatus('connecting')
      this.#socket.connect()
    }, delay)
  }

  #runsOf(workflowId: string): Run[] {
    return [...this.#runs].filter((run) => run.workflowId === workflowId && !run.final)
  }

  /**
   * Subscribe the workflow for every run that follows it, after the lowest `lastSeq` among them.
   * `again`: the socket is subscribed already; unsubscribe first (the server refuses a second
   * subscribe), the runs holding what arrives meanwhile like any replay.
   */
  #subscribe(workflowId: string, again = false): void {
    const socket = this.#socket
    const runs = this.#runsOf(workflowId)
    if (!socket.connected || runs.length === 0) return
    const from = runs.reduce((lowest, run) => (run.lastSeq < lowest.lastSeq ? run : lowest))
    const request = { workflowId, afterSeq: from.lastSeq, compact: true, ...(from.epoch ? { epoch: from.epoch } : {}) }
    for (const run of runs) run.waitFor(request)
    const waiting = (): Run[] => this.#runsOf(workflowId).filter((run) => run.isWaitingFor(request))
    const send = (): void => {
      socket.timeout(ACK_TIMEOUT_MS).emit('agent:subscribe', request, (timedOut: Error | null, ack: SubscribeAck) => {
        const runs = waiting()
        if (runs.length === 0) return
        if (timedOut) return void socket.disconnect()
        if (ack.ok) return runs.forEach((run) => run.accepted(ack))
        const refusal: Refusal = ack.error
        const error = new AgentEventsClientError(refusal.code, refusal.message)
        if (FINAL_REFUSALS.has(refusal.code)) runs.forEach((run) => run.refused(error))
        else this.#timers.later(() => waiting().length > 0 && this.#subscribe(workflowId), refusal.retryAfterMs ?? retryDelay(2))
      })
    }
    if (!again) return send()
    socket.timeout(ACK_TIMEOUT_MS).emit('agent:unsubscribe', { workflowId }, (timedOut: Error | null) => {
      if (timedOut) socket.disconnect()
      else if (waiting().length > 0) send()
    })
  }

  #forget(run: Run): void {
    this.#runs.delete(run)
    const socket = this.#socket
    const stillFollowed = [...this.#runs].some((other) => other.workflowId === run.workflowId)
    if (socket.connected && !stillFollowed && run.status === 'closed') socket.emit('agent:unsubscribe', { workflowId: run.workflowId }, () => {})
  }

  #route(event: AgentEvent): void {
    for (const run of this.#runs) if (run.workflowId === event.workflowId) run.receive(event)
  }

  #setStatus(status: ClientStatus): void {
    if (this.status === status) return
    this.status = status
    this.#emit('status', status)
  }

  #emit<Name extends keyof ClientEvents>(name: Name, value: Parameters<ClientEvents[Name]>[0]): void {
    for (const listener of this.#listeners[name]) callApp(listener as (value: unknown) => void, value)
  }
}

/**
 * Connect to a fastify-agent-events server and follow workflows with exactly-once, in-order
 * delivery across every kind of reconnect.
 *
 * @example
 * const client = createAgentEventsClient('https://api.example.com', { path: '/ws', token: () => getToken() })
 * const run = client.follow('wf-1', { onEvent: (event) => render(event) })
 */
export function createAgentEventsClient(url: string, options: AgentEventsClientOptions = {}): AgentEventsClient {
  return new Client(url, options)
}
