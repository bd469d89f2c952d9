import type { Socket } from 'socket.io-client'
import type { ClientToServerEvents, ServerToClientEvents } from '../schemas/index.ts'
import { retryDelay } from './backoff.ts'
import { AgentEventsClientError } from './errors.ts'
import { tokenExpiresAt } from './jwt-expiry.ts'
import type { Timer, Timers } from './timers.ts'

/** Refresh the token this long before its `exp`. */
const REFRESH_MARGIN_MS = 30_000
/** Never refresh more often than this, even with a token that is already close to its `exp`. */
const MIN_REFRESH_INTERVAL_MS = 1_000
/** A refresh unanswered for this long means the connection is broken. */
const ACK_TIMEOUT_MS = 10_000

/**
 * Keeps a connected socket's token fresh: `auth:refresh` with a new `token()` about 30 s before the
 * `exp` of the one in use, on the same socket. A refusal is reported and the socket disconnected,
 * so that a new handshake asks `token()` again.
 */
export class TokenRefresh {
  #timer: Timer | undefined

  constructor(
    private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>,
    private readonly token: () => string | Promise<string>,
    private readonly timers: Timers,
    private readonly onRefused: (error: AgentEventsClientError) => void,
  ) {}

  /** Plan the refresh of `token`, the one the connection runs on; nothing where it has no `exp`. */
  start(token: string | undefined): void {
    this.stop()
    const expiresAt = tokenExpiresAt(token)
    if (expiresAt === undefined) return
    this.#later(Math.max(MIN_REFRESH_INTERVAL_MS, expiresAt - REFRESH_MARGIN_MS - Date.now()))
  }

  stop(): void {
    this.timers.cancel(this.#timer)
    this.#timer = undefined
  }

  #later(delay: number): void {
    this.#timer = this.timers.later(() => void this.#refresh(), delay)
  }

  async #refresh(): Promise<void> {
    const socket = this.socket
    const socketId = socket.id
    let token: string
    try {
      token = await this.token()
    } catch {
      // No new token now: ask again shortly; if none comes, the server's `auth:expired` ends the connection.
      return this.#later(retryDelay(2))
    }
    // The connection changed meanwhile: its own refresh was planned when it connected.
    if (socket.id !== socketId || !socket.connected) return
    socket.timeout(ACK_TIMEOUT_MS).emit('auth:refresh', { token }, (timedOut, ack) => {
      if (socket.id !== socketId || !socket.connected) return
      if (timedOut) return void socket.disconnect()
      if (ack.ok) return this.start(token)
      const refusal: { code: string; message: string; retryAfterMs?: number } = ack.error
      if (refusal.code === 'RATE_LIMITED') return this.#later(refusal.retryAfterMs ?? 0)
      this.onRefused(new AgentEventsClientError(refusal.code, refusal.message))
      socket.disconnect()
    })
  }
}
