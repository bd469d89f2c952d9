import { io, type Socket } from 'socket.io-client'
import type { AgentEvent, ClientToServerEvents, ServerToClientEvents, SubscribeAck } from '../schemas/index.ts'
import { retryDelay } from './backoff.ts'
import { AgentEventsClientError } from './errors.ts'
import { tokenExpiresAt } from './jwt-expiry.ts'
import { Run } from './run.ts'
import { resolveStorage } from './storage.ts'
import type {
  AgentEventsClient,
  AgentEventsClientOptions,
  ClientEvents,
  ClientStatus,
  FollowOptions,
  PositionStorage,
  WorkflowRun,
} from './types.ts'

/** Refresh the token this long before its `exp`. */
const REFRESH_MARGIN_MS = 30_000
/** Never refresh more often than this, even with a token that is already close to its `exp`. */
const MIN_REFRESH_INTERVAL_MS = 1_000
/** An answer slower than this means the connection is broken: reconnect. */
const ACK_TIMEOUT_MS = 10_000
/** The longest delay `setTimeout` takes; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
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
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** The token of the current connection (or of its last refresh). */
  #currentToken: string | undefined
  #refreshTimer: ReturnType<typeof setTimeout> | undefined
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
    const run = new Run(workflowId, options, this.#storage, (closed) => this.#forget(closed))
    if (this.#closed) run.close()
    else {
      this.#runs.add(run)
      this.#subscribe(run)
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
    for (const timer of this.#timers) clearTimeout(timer)
    for (const run of this.#runs) run.close()
    this.#socket.disconnect()
    this.#setStatus('offline')
  }

  async #freshToken(): Promise<string> {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token
    this.#currentToken = token
    return token as string
  }

  #connected(): void {
    this.#failures = 0
    this.#setStatus('online')
    this.#scheduleRefresh()
    for (const run of this.#runs) this.#subscribe(run)
  }

  #disconnected(): void {
    clearTimeout(this.#refreshTimer)
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
    if (this.#socket.active) return
    this.#later(() => {
      if (this.#socket.active || this.#closed) return
      this.#setStatus('connecting')
      this.#socket.connect()
    }, delay)
  }

  #subscribe(run: Run): void {
    const socket = this.#socket
    if (!socket.connected || run.final) return
    const request = run.subscribeRequest()
    socket.timeout(ACK_TIMEOUT_MS).emit('agent:subscribe', request, (timedOut: Error | null, ack: SubscribeAck) => {
      if (!run.isWaitingFor(request)) return
      if (timedOut) return void socket.disconnect()
      if (ack.ok) return run.accepted(ack)
      const refusal: Refusal = ack.error
      if (FINAL_REFUSALS.has(refusal.code)) run.refused(new AgentEventsClientError(refusal.code, refusal.message))
      else this.#later(() => run.isWaitingFor(request) && this.#subscribe(run), refusal.retryAfterMs ?? retryDelay(2))
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

  #scheduleRefresh(): void {
    const expiresAt = tokenExpiresAt(this.#currentToken)
    if (expiresAt === undefined || typeof this.#token !== 'function') return
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_REFRESH_INTERVAL_MS, expiresAt - REFRESH_MARGIN_MS - Date.now()))
    this.#refreshTimer = this.#later(() => void this.#refresh(), delay)
  }

  async #refresh(): Promise<void> {
    const socket = this.#socket
    const socketId = socket.id
    let token: string
    try {
      token = await (this.#token as () => string | Promise<string>)()
    } catch {
      // No new token now: try again shortly; if none comes, the server's `auth:expired` ends the connection.
      this.#refreshTimer = this.#later(() => void this.#refresh(), retryDelay(2))
      return
    }
    if (socket.id !== socketId || !socket.connected) return
    socket.timeout(ACK_TIMEOUT_MS).emit('auth:refresh', { token }, (timedOut, ack) => {
      if (socket.id !== socketId || this.#closed) return
      if (timedOut) return void socket.disconnect()
      if (ack.ok) {
        this.#currentToken = token
        return this.#scheduleRefresh()
      }
      const refusal: Refusal = ack.error
      if (refusal.code === 'RATE_LIMITED') {
        this.#refreshTimer = this.#later(() => void this.#refresh(), refusal.retryAfterMs ?? 0)
        return
      }
      this.#emit('error', new AgentEventsClientError(refusal.code, refusal.message))
      // Refused: a new handshake asks token() again and resubscribes every run.
      socket.disconnect()
    })
  }

  #later(task: () => unknown, delay: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      task()
    }, delay)
    this.#timers.add(timer)
    return timer
  }

  #setStatus(status: ClientStatus): void {
    if (this.status === status) return
    this.status = status
    this.#emit('status', status)
  }

  #emit<Name extends keyof ClientEvents>(name: Name, value: Parameters<ClientEvents[Name]>[0]): void {
    for (const listener of this.#listeners[name]) (listener as (value: unknown) => void)(value)
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
