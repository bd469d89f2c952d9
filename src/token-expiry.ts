import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'
import type { AuthExpiredNotice } from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'

/** setTimeout's longest delay; a later expiry is reached in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

const EXPIRED_NOTICE: AuthExpiredNotice = Object.freeze({ code: 'AUTH_EXPIRED', message: 'Token expired' })

export interface TokenExpiryWatch {
  /** Schedule the disconnect for the socket's current `expiresAt` (after a refresh, say). */
  rearm(): void
  stop(): void
}

/**
 * A connected socket lives no longer than its token: at `exp` (plus the verifier's
 * `clockTolerance`, which let the token in) it gets `auth:expired`, then is disconnected.
 */
export function watchTokenExpiry(socket: Socket, clockToleranceMs: number, log: FastifyBaseLogger): TokenExpiryWatch {
  let timer: NodeJS.Timeout | undefined
  const stop = (): void => {
    clearTimeout(timer)
    timer = undefined
  }
  const rearm = (): void => {
    stop()
    const expiresAt = identityOf(socket)?.expiresAt
    if (expiresAt === undefined || socket.disconnected) return
    const delay = expiresAt + clockToleranceMs - Date.now()
    if (delay > MAX_TIMER_MS) {
      timer = setTimeout(rearm, MAX_TIMER_MS)
    } else {
      timer = setTimeout(expire, Math.max(0, delay))
    }
    // A pending expiry must not keep a closing server alive; disconnect clears it anyway.
    timer.unref()
  }
  const expire = (): void => {
    timer = undefined
    if (socket.disconnected) return
    log.debug({ socketId: socket.id, userId: identityOf(socket)?.userId }, 'token expired: disconnecting')
    socket.emit('auth:expired', EXPIRED_NOTICE)
    socket.disconnect(true)
  }
  socket.once('disconnect', stop)
  rearm()
  return { rearm, stop }
}

/** fast-jwt's `clockTolerance` (milliseconds) from the `auth.verify` options, when given. */
export function clockToleranceOf(verify: Record<string, unknown>): number {
  const tolerance = verify.clockTolerance
  return typeof tolerance === 'number' && Number.isFinite(tolerance) && tolerance > 0 ? tolerance : 0
}
